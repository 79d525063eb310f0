"""The record every call leaves when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["transfer", "hangup", "caller_hangup", "lifetime", "error"]


@dataclass(frozen=True, slots=True)
class Step:
    """One stop on the call's path: a context and the option whose rules ran."""

    context: int
    option: str


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

    @property
    def duration(self) -> float:
        return self.ended_at - self.started_at
