"""A switch made of arithmetic: runs a Call on a virtual clock.

It plays prompts for their length, fires the engine's timers at their
deadlines and answers transfers, all without sleeping. The engine's tests and
`ivrflow simulate --script` use it; the interactive simulator drives the same
object from the wall clock.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from ..engine import (
    Call,
    CallerHungUp,
    CallFinished,
    CallRecord,
    CallStarted,
    CancelTimer,
    DtmfReceived,
    Event,
    Output,
    PlaybackFinished,
    Play,
    PlaySilence,
    SayDigits,
    StartTimer,
    StopPlayback,
    TimerFired,
    Transfer,
    TransferFinished,
)

SECONDS_PER_SAID_DIGIT = 0.6


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    event: Event = field(compare=False)


class VirtualSwitch:
    """Runs one Call; `log` holds every output with the virtual time it came out."""

    def __init__(
        self,
        call: Call,
        durations: Mapping[str, float] | Callable[[str], float] = lambda _: 1.0,
        transfer_ok: bool = True,
    ) -> None:
        self.call = call
        self.now = 0.0
        self.log: list[tuple[float, Output]] = []
        self.transfer_ok = transfer_ok
        self._duration = durations.__getitem__ if isinstance(durations, Mapping) else durations
        self._due: list[_Due] = []
        self._cancelled: set[int] = set()
        self._timer_entries: dict[object, int] = {}
        self._play_entries: dict[int, int] = {}
        self._seq = itertools.count()

    @property
    def record(self) -> CallRecord | None:
        return self.call.record

    @property
    def ended(self) -> bool:
        return self.call.record is not None

    def start(self, variables: Mapping[str, str] | None = None) -> None:
        self.feed(CallStarted(self.now, dict(variables or {})))

    def press(self, digits: str) -> str:
        """Press keys now; returns those the call discarded (nothing came of them)."""
        discarded = ""
        for digit in digits:
            before = len(self.log)
            self.feed(DtmfReceived(self.now, digit))
            if len(self.log) == before:
                discarded += digit
        return discarded

    def hang_up(self, cause: str = "NORMAL_CLEARING") -> None:
        self.feed(CallerHungUp(self.now, cause))

    def advance(self, seconds: float) -> None:
        """Let virtual time pass, delivering everything that falls due meanwhile."""
        until = self.now + seconds
        while self._due and self._due[0].at <= until:
            due = heapq.heappop(self._due)
            if due.seq in self._cancelled:
                self._cancelled.discard(due.seq)
                continue
            self.now = due.at
            self.feed(replace(due.event, at=self.now))
        self.now = until

    def run_to_end(self, limit: float = 24 * 3600.0) -> CallRecord:
        """Advance until the call ends (a caller who never presses a key)."""
        while not self.ended and self._due and self._due[0].at - self.now <= limit:
            self.advance(self._due[0].at - self.now)
        if self.call.record is None:
            raise RuntimeError(f"call still running after {limit} s of virtual time")
        return self.call.record

    def next_due_in(self) -> float | None:
        live = [d.at for d in self._due if d.seq not in self._cancelled]
        return min(live) - self.now if live else None

    def outputs(self, kind: type | tuple[type, ...] = object) -> list[Output]:
        return [output for _, output in self.log if isinstance(output, kind)]

    def feed(self, event: Event) -> None:
        """Hand the call any event now, as the switch would; its outputs are logged and obeyed."""
        for output in self.call.handle(event):
            self.log.append((self.now, output))
            self._obey(output)

    def _obey(self, output: Output) -> None:
        if isinstance(output, StartTimer):
            self._timer_entries[output.timer] = self._schedule(output.seconds, TimerFired(0.0, output.timer))
        elif isinstance(output, CancelTimer):
            self._cancel(self._timer_entries.pop(output.timer, None))
        elif isinstance(output, (Play, PlaySilence, SayDigits)):
            self._play_entries[output.play_id] = self._schedule(
                self._length(output), PlaybackFinished(0.0, output.play_id)
            )
        elif isinstance(output, StopPlayback):
            self._cancel(self._play_entries.pop(output.play_id, None))
            self._schedule(0.0, PlaybackFinished(0.0, output.play_id))
        elif isinstance(output, Transfer):
            self._schedule(0.0, TransferFinished(0.0, self.transfer_ok, "" if self.transfer_ok else "NO_ANSWER"))
        elif isinstance(output, CallFinished):
            self._due.clear()

    def _length(self, output: Play | PlaySilence | SayDigits) -> float:
        if isinstance(output, Play):
            return self._duration(output.filename)
        if isinstance(output, PlaySilence):
            return output.milliseconds / 1000.0
        return SECONDS_PER_SAID_DIGIT * len(output.digits)

    def _schedule(self, delay: float, event: Event) -> int:
        seq = next(self._seq)
        heapq.heappush(self._due, _Due(self.now + delay, seq, event))
        return seq

    def _cancel(self, seq: int | None) -> None:
        if seq is not None:
            self._cancelled.add(seq)

