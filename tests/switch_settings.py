"""SwitchSettings for tests, with the daemon's own defaults (declared once, in the settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ivrflow.freeswitch.dialogue import SwitchSettings
from ivrflow.service.settings import resolve_some

_FROM_SETTINGS = ("transfer_context", "simple_transfer_context", "bridge_template", "exit_after_transfer", "release_quiet_time")


def switch_settings(sound_dir: Path, **overrides: Any) -> SwitchSettings:
    defaults = resolve_some(_FROM_SETTINGS, {}, None, {})
    return SwitchSettings(sound_dir=sound_dir, **{**defaults, **overrides})
