"""What every call of a runtime starts with besides its menu: the engine's options and the outside work."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import Call, CallOptions
from ..menu import Ivr, Menu
from .outside import NoOutsideWork, OutsideWork
from .voicemail_box import VoicemailBox


@dataclass(frozen=True, slots=True)
class CallSetup:
    options: CallOptions = CallOptions()
    outside: OutsideWork = field(default_factory=NoOutsideWork)
    voicemail: VoicemailBox | None = None  # None: no spool, so the options carry no voicemail either

    def call(self, menu: Menu, ivr: Ivr) -> Call:
        return Call(menu, ivr, self.options)
