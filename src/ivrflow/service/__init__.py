"""The daemon: settings, signals, reload and drain, where menus come from, metrics, health HTTP, systemd."""
