"""What happens to a call: the engine's inputs.

Every event carries `at`, the adapter's monotonic clock in seconds; the engine
reads time from nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .outputs import Timer

DTMF_DIGITS = frozenset("0123456789*#")


@dataclass(frozen=True, slots=True)
class CallStarted:
    """The call reached the menu; `variables` are the switch channel's variables."""

    at: float
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """A Play/PlaySilence/SayDigits ended, played out or stopped; `error` if it could not play."""

    at: float
    play_id: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    at: float
    digit: str

    def __post_init__(self) -> None:
        if self.digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {self.digit!r}")


@dataclass(frozen=True, slots=True)
class TimerFired:
    at: float
    timer: Timer


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    at: float
    cause: str = "NORMAL_CLEARING"


@dataclass(frozen=True, slots=True)
class TransferFinished:
    """The switch's verdict on a Transfer: the call left for its destination, or not."""

    at: float
    ok: bool
    cause: str = ""


@dataclass(frozen=True, slots=True)
class SwitchFailed:
    """The switch could not carry out a command; the call cannot go on."""

    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class ShutdownRequested:
    """The runtime is stopping and the call may not wait any longer: hang it up."""

    at: float
    reason: str


Event = (
    CallStarted
    | PlaybackFinished
    | DtmfReceived
    | TimerFired
    | CallerHungUp
    | TransferFinished
    | SwitchFailed
    | ShutdownRequested
)
