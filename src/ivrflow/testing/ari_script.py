"""What happens on an emulated Asterisk call: the caller's side and the dialplan's setup.

Times are seconds of *call time* since the call reached ``Stasis()``; every wait
is multiplied by ``time_scale``, as in the FreeSWITCH emulator's CallScript, so
one scenario table can drive both switches.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["AriCallScript", "AriKey", "DialOutcome"]

_ids = itertools.count(1)


def _new_channel_id() -> str:
    return f"1795748397.{next(_ids)}"


@dataclass(frozen=True, slots=True)
class AriKey:
    """A digit string the caller sends at call time ``t`` (one ChannelDtmfReceived per digit)."""

    t: float
    digits: str
    duration_ms: int = 100  # Asterisk's default
    between_ms: int = 100


@dataclass(frozen=True, slots=True)
class DialOutcome:
    """How a dialed endpoint behaves: answers after ``ring_seconds``, or ends with ``result``."""

    result: Literal["answer", "no_answer", "busy"] = "answer"
    ring_seconds: float = 1.0
    talk_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class AriCallScript:
    channel_id: str = field(default_factory=_new_channel_id)
    channel_name: str = ""
    caller_number: str = "+4930111222"
    caller_name: str = "Alice Example"
    context: str = "ivr-in"
    exten: str = "071"
    # The dialplan's Stasis(app,args...); None: the app name alone with the extension as argument.
    stasis_args: Sequence[str] | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    # Sound durations in seconds by what follows "sound:" (a name or an absolute path).
    sounds: Mapping[str, float] = field(default_factory=dict)
    default_sound_seconds: float = 1.0
    missing_sounds: frozenset[str] = frozenset()
    keys: Sequence[AriKey | tuple[float, str]] = ()
    caller_hangup_at: float | None = None
    # Dial outcomes by endpoint (the technology/resource string given to /channels/create).
    dial_outcomes: Mapping[str, DialOutcome] = field(default_factory=dict)
    default_dial_outcome: DialOutcome = field(default_factory=DialOutcome)
    # After `continue` into a context the call talks there this long, then ends (None: it stays).
    after_continue_seconds: float | None = None
    # (context, extension) pairs the dialplan has; `continue` elsewhere hangs the channel up. None: all exist.
    extensions: frozenset[tuple[str, str]] | None = None
    # The caller's own leg (the ";1" half of a Local pair): its id, and the Stasis app it is in (None: dialplan).
    caller_leg_id: str | None = None
    caller_leg_app: str | None = None
    time_scale: float = 1.0

    def resolved_channel_name(self) -> str:
        return self.channel_name or f"Local/{self.exten}@{self.context}-00000022;2"

    def resolved_args(self) -> list[str]:
        return list(self.stasis_args) if self.stasis_args is not None else [self.exten]

    def sound_seconds(self, name: str) -> float | None:
        if name in self.missing_sounds:
            return None
        return self.sounds.get(name, self.default_sound_seconds)

    def key_events(self) -> list[AriKey]:
        return [k if isinstance(k, AriKey) else AriKey(k[0], k[1]) for k in self.keys]

    def has_extension(self, context: str, exten: str) -> bool:
        return self.extensions is None or (context, exten) in self.extensions

    def dial_outcome(self, endpoint: str) -> DialOutcome:
        return self.dial_outcomes.get(endpoint, self.default_dial_outcome)
