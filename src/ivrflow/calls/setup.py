"""What every call of a runtime starts with besides its menu: the engine's options and the outside work."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..engine import Call, CallOptions
from ..menu import Ivr, Menu
from .outside import NoOutsideWork, OutsideWork


@dataclass(frozen=True, slots=True)
class CallSetup:
    options: CallOptions = CallOptions()
    outside: OutsideWork = field(default_factory=NoOutsideWork)

    def call(self, menu: Menu, ivr: Ivr) -> Call:
        return Call(menu, ivr, self.options)
