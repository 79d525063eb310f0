"""The record every call leaves when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .checks import check_text

Outcome = Literal["transfer", "hangup", "caller_hangup", "lifetime", "error"]
RingOutcome = Literal["answered", "no_answer", "busy", "failed"]
RING_OUTCOMES: tuple[RingOutcome, ...] = ("answered", "no_answer", "busy", "failed")


@dataclass(frozen=True, slots=True)
class Step:
    """One stop on the call's path: a context and the option whose rules ran."""

    context: int
    option: str


@dataclass(frozen=True, slots=True)
class DestinationOutcome:
    """How one destination of a ringing transfer (a bridge, dialled legs) ended; `cause` is the switch's own."""

    destination: str
    outcome: RingOutcome
    cause: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in RING_OUTCOMES:
            raise ValueError(f"DestinationOutcome.outcome must be one of {', '.join(RING_OUTCOMES)}, not {self.outcome!r}")
        check_text(self, "destination", self.destination)
        check_text(self, "cause", self.cause)


@dataclass(frozen=True, slots=True)
class Rating:
    """A caller's answer to a quality_rate rule: `rate` of 1..`max_rate`, given at `at` (call time)."""

    rate: int
    max_rate: int
    at: float
    client_id: int | None  # the ivr's owner in the menu API; None for a menu file without one
    extension_id: int | None


@dataclass(frozen=True, slots=True)
class CallRecord:
    ivr: str
    outcome: Outcome
    reason: str
    started_at: float
    ended_at: float
    path: tuple[Step, ...] = ()
    entries: tuple[str, ...] = ()  # each entry the caller typed, as resolved
    variables: tuple[tuple[str, str], ...] = ()
    transfer_destinations: tuple[str, ...] = ()
    notices: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    first_digit_at: float | None = field(default=None)
    ratings: tuple[Rating, ...] = ()
    # Each destination rung by the call's bridged transfers, in order (every attempt of the call).
    destination_outcomes: tuple[DestinationOutcome, ...] = ()
    voicemail_s: float | None = None  # the length of the message the caller left; None: none

    @property
    def duration(self) -> float:
        return self.ended_at - self.started_at
