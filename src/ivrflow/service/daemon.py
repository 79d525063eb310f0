"""`ivrflow serve`: the long-running daemon.

Signal handlers only enqueue; one control greenlet does the work
(`handle_<signal>`), as in gunicorn:

* SIGHUP (or POST /-/reload): load and fully validate the menu again, then
  swap it in atomically. Calls in progress keep the menu they started with; a
  bad menu is rejected, logged and counted, and the old one keeps serving.
* SIGTERM / SIGINT: stop accepting first (FreeSWITCH then falls through to the
  dialplan's fallback), let active calls finish up to `drain_timeout`, then
  hang up the rest with a logged reason. A second SIGTERM/SIGINT ends at once.
"""

from __future__ import annotations

import gc
import logging
import signal
import sys
import time
from typing import IO, Any

import gevent
import gevent.event
import gevent.queue
from prometheus_client import CollectorRegistry

from .admin_http import AdminApp, serve as serve_admin
from ..menu import LoadedMenu, Menu, MenuError
from ..calls.registry import CallRegistry
from ..freeswitch.dialogue import SwitchSettings
from ..freeswitch.server import EslServer
from .menu_source import FileMenuSource, MenuSource
from ..menu_api.client import ApiClient, load_credentials
from ..menu_api.source import ApiMenuSource
from .metrics import Metrics
from ..calls.observers import Observer, RecordWriter
from .sd_notify import Notifier
from .settings import Settings

log = logging.getLogger("ivrflow")

STATUS_EVERY = 5.0  # seconds between STATUS= updates to systemd
HANGUP_GRACE = 5.0  # seconds for calls hung up at the end of a drain to be let go


class Daemon:
    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        notifier: Notifier | None = None,
        source: MenuSource | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        if source is None:
            source = _source_for(settings, self.registry)
        self.source = source
        self.metrics = Metrics(self.registry)
        self.notifier = notifier or Notifier()
        self.loaded: LoadedMenu = self._load()  # a bad menu at start is fatal: MenuError
        self.metrics.reloads.labels(result="success").inc()
        self.metrics.config_last_success.set(time.time())
        self._records: IO[str] = (
            sys.stdout if settings.call_records == "-" else open(settings.call_records, "a", encoding="utf-8")  # noqa: SIM115
        )
        self.observer = Observer(self.metrics, RecordWriter(self._records))
        switch = SwitchSettings(
            sound_dir=settings.sound_dir.resolve(),
            transfer_context=settings.transfer_context,
            simple_transfer_context=settings.simple_transfer_context,
            bridge_template=settings.bridge_template,
            exit_after_transfer=settings.exit_after_transfer,
        )
        self._control: gevent.queue.Queue[str] = gevent.queue.Queue()
        self.calls = CallRegistry(settings.max_calls)
        self.calls.on_idle.append(lambda: self._control.put("IDLE"))
        self.server = EslServer(settings.esl_listen, self.current_menu, switch, self.observer, self.calls)
        self.admin: Any = None
        self.draining = False

    # --- menu -------------------------------------------------------------------

    def current_menu(self) -> Menu:
        return self.loaded.menu

    def _load(self) -> LoadedMenu:
        loaded = self.source.load()
        for warning in loaded.warnings:
            log.warning("%s", warning.render(loaded.source))
        return loaded

    def reload(self) -> tuple[bool, list[str]]:
        """Load the menu again; swap it in only if it is entirely valid."""
        self.notifier.reloading()
        try:
            loaded = self._load()
        except MenuError as exc:
            self.metrics.reloads.labels(result="failure").inc()
            messages = [p.render(exc.source) for p in exc.problems]
            log.error("reload rejected, the previous menu keeps serving: %s", "; ".join(messages))
            self.notifier.ready(self._status())
            return False, messages
        self.loaded = loaded  # one reference swap: a new call sees the old menu or the new, never a mix
        self.metrics.reloads.labels(result="success").inc()
        self.metrics.config_last_success.set(time.time())
        log.info("menu reloaded from %s (%d ivr(s))", loaded.source, len(loaded.menu.ivrs))
        self.notifier.ready(self._status())
        return True, [w.render(loaded.source) for w in loaded.warnings]

    # --- running ----------------------------------------------------------------

    def start(self) -> None:
        # What exists now (modules, the menu) lives as long as the process: keep it out
        # of the collector's way, so full collections scan only the calls' objects.
        gc.freeze()
        self.server.start()
        if self.settings.metrics_listen is not None:
            self.admin = serve_admin(self.settings.metrics_listen, AdminApp(self.registry, self.readiness, self.reload, self.readiness_detail))
            log.info("metrics and health on http://%s:%d/", *self.admin.address[:2])
        self.notifier.ready(self._status())

    def run(self) -> int:
        """Serve until stopped; the exit status for the process."""
        self.start()
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(signum, self._control.put, signal.Signals(signum).name)
        keepers = [gevent.spawn(self._report_status)]
        if self.settings.menus_url and self.settings.menu_refresh > 0:
            keepers.append(gevent.spawn(self._refresh, self.settings.menu_refresh))
        if self.notifier.watchdog_interval:
            keepers.append(gevent.spawn(self._watchdog, self.notifier.watchdog_interval))
        try:
            while True:
                name = self._control.get()
                if name == "SIGHUP":
                    self.reload()
                elif name in ("SIGTERM", "SIGINT"):
                    return self.drain()
        finally:
            gevent.killall(keepers)
            self.close()

    def drain(self) -> int:
        """Stop taking calls, let the active ones finish (bounded), hang up the rest."""
        self.draining = True
        self.server.stop_accepting()
        timeout = self.settings.drain_timeout
        log.info("draining: no new calls; %d in a menu; waiting up to %s s", self.calls.active, timeout)
        self.notifier.stopping(f"draining {self.calls.active} call(s)", timeout + HANGUP_GRACE)
        if self._wait_idle(timeout) == "interrupted":
            log.warning("second stop signal: ending now with %d call(s) in a menu", self.calls.active)
            return 0
        if self.calls.active:
            reason = f"drain timeout of {timeout} s ran out"
            log.warning("hanging up %d call(s): %s", self.calls.active, reason)
            self.calls.hang_up_active(reason)
            self._wait_idle(HANGUP_GRACE)
        # Transferred calls whose sockets are held: closing them is unavoidable as the process ends.
        self.calls.release_held("ivrflow stopping")
        self._wait_all_closed(HANGUP_GRACE)
        return 0

    def _wait_idle(self, seconds: float) -> str:
        """Wait until no call is active: 'idle', 'timeout', or 'interrupted' by a stop signal."""
        deadline = time.monotonic() + seconds
        while self.calls.active:
            try:
                name = self._control.get(timeout=max(deadline - time.monotonic(), 0.0))
            except gevent.queue.Empty:
                return "timeout"
            if name in ("SIGTERM", "SIGINT"):
                return "interrupted"
        return "idle"

    def _wait_all_closed(self, seconds: float) -> None:
        closed = gevent.event.Event()
        self.calls.on_all_closed.append(closed.set)
        try:
            if self.calls.open:
                closed.wait(seconds)
        finally:
            self.calls.on_all_closed.remove(closed.set)

    def readiness(self) -> list[str]:
        problems = []
        if self.draining:
            problems.append("draining")
        if not self.server.accepting:
            problems.append("listener closed")
        if self.calls.at_capacity:
            problems.append(f"at capacity ({self.settings.max_calls} calls)")
        return problems

    def readiness_detail(self) -> dict[str, str]:
        cached = getattr(self.source, "serving_cached", None)
        return {"menu_source": self.source.name, **({"menu_cached": cached} if cached else {})}

    def _status(self) -> str:
        host, port = self.server.address
        return f"{self.calls.active} active call(s), {self.calls.held} transferred and held; listening on {host}:{port}; menu {self.loaded.source}"

    def _report_status(self) -> None:
        while True:
            gevent.sleep(STATUS_EVERY)
            self.notifier.status(self._status())

    def _refresh(self, interval: float) -> None:
        # Menus from the API are fetched again as a reload: one path for SIGHUP and refresh.
        while True:
            gevent.sleep(interval)
            self._control.put("SIGHUP")

    def _watchdog(self, interval: float) -> None:
        while True:
            self.notifier.watchdog()
            gevent.sleep(interval)

    def close(self) -> None:
        if isinstance(self.source, ApiMenuSource):
            self.source.api.close()
        self.server.stop_accepting()
        if self.admin is not None:
            self.admin.stop(timeout=1)
        if self._records is not sys.stdout:
            self._records.close()


def _source_for(settings: Settings, registry: CollectorRegistry) -> MenuSource:
    if not settings.menus_url:
        assert settings.menu is not None
        return FileMenuSource(settings.menu, settings.sound_dir)
    credentials = load_credentials(settings.api_credentials)
    return ApiMenuSource(ApiClient(settings.menus_url, credentials), settings.menu_cache, registry)
