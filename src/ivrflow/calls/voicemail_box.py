"""Where a call's voicemail goes: the call layer asks for a place to record and hands over what was kept.

The driver asks `new_recording` for a path when the engine says RecordMessage (the
switch records there, so it must see the same path) and calls `keep` on KeepMessage.
`keep` must not block the call: the daemon's box commits the message to the spool
off the event loop and wakes the mailer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..menu.model import Ivr
from .info import CallInfo


class VoicemailBox(Protocol):
    def new_recording(self) -> Path: ...

    def keep(self, info: CallInfo, ivr: Ivr, recording: Path, duration_s: float) -> None: ...
