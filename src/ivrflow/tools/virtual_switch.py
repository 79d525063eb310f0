"""A switch made of arithmetic: runs a call through the call layer's driver on a virtual clock.

It plays prompts for their length, answers transfers, and lets the driver
fire the engine's timers at their deadlines, all without sleeping. Since the
driver is the one the daemon runs, what `ivrflow simulate` shows is what the
daemon does. The engine's tests and `ivrflow simulate --script` use it; the
interactive simulator drives the same object from the wall clock.

Things due at the same virtual instant happen in the order they were asked
for (a prompt's end, a timer), as on a switch that answers in order.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ..calls.driver import CallDriver
from ..calls.info import CallInfo
from ..calls.observer import QuietObserver
from ..calls.switch import Playable, UnsafeValue
from ..engine import (
    Call,
    CallerHungUp,
    CallRecord,
    CancelTimer,
    DtmfReceived,
    Event,
    MessageRecorded,
    Output,
    Play,
    PlaybackFinished,
    PlaySilence,
    SayDigits,
    Speak,
    StartSpeech,
    StartTimer,
    StopPlayback,
    Timer,
    Transfer,
    TransferFinished,
)

SECONDS_PER_SAID_DIGIT = 0.6
_SCHEDULED = (Play, PlaySilence, SayDigits, StopPlayback, Transfer)


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
        self._play_entries: dict[int, int] = {}
        self._seq = itertools.count()
        self._reserved: deque[int] = deque()  # order numbers of scheduled outputs, in output order
        self._timer_seq: dict[Timer, int] = {}
        info = CallInfo("virtual", call.ivr.extension, "", "", call.ivr.extension)
        self.driver = CallDriver(call, info, self, _Log(self), lambda: self.now)

    @property
    def record(self) -> CallRecord | None:
        return self.call.record

    @property
    def ended(self) -> bool:
        return self.call.record is not None

    # --- the caller -----------------------------------------------------------

    def start(self, variables: Mapping[str, str] | None = None) -> None:
        self.driver.start(dict(variables or {}))

    def press(self, digits: str) -> str:
        """Press keys now; returns those the call discarded (nothing came of them)."""
        discarded = ""
        for digit in digits:
            before = len(self.log)
            self.feed(DtmfReceived(self.now, digit))
            if len(self.log) == before:
                discarded += digit
        return discarded

    def hang_up_caller(self, cause: str = "NORMAL_CLEARING") -> None:
        self.feed(CallerHungUp(self.now, cause))

    def feed(self, event: Event) -> None:
        """Hand the call any event now, as the switch would; its outputs are logged and obeyed."""
        self.driver.post(event)

    # --- time -----------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Let virtual time pass, delivering everything that falls due meanwhile."""
        until = self.now + seconds
        while (due := self._next_due()) is not None and due[0] <= until:
            at, _, entry = due
            self.now = at
            if entry is None:
                self.driver.fire_due_timers()
            else:
                heapq.heappop(self._due)
                self.feed(replace(entry.event, at=self.now))
        self.now = until

    def run_to_end(self, limit: float = 24 * 3600.0) -> CallRecord:
        """Advance until the call ends (a caller who never presses a key)."""
        while not self.ended and (due := self._next_due()) is not None and due[0] - self.now <= limit:
            self.advance(due[0] - self.now)
        if self.call.record is None:
            raise RuntimeError(f"call still running after {limit} s of virtual time")
        return self.call.record

    def next_due_in(self) -> float | None:
        due = self._next_due()
        return None if due is None else due[0] - self.now

    def outputs(self, kind: type | tuple[type, ...] = object) -> list[Output]:
        return [output for _, output in self.log if isinstance(output, kind)]

    def _next_due(self) -> tuple[float, int, _Due | None] | None:
        """The earliest of the switch's own events and the driver's timers; None for a timer."""
        while self._due and self._due[0].seq in self._cancelled:
            self._cancelled.discard(heapq.heappop(self._due).seq)
        found: tuple[float, int, _Due | None] | None = None
        if self._due:
            found = (self._due[0].at, self._due[0].seq, self._due[0])
        deadline, timer = self.driver.next_deadline(), self.driver.timers.next_timer()
        if deadline is not None and timer is not None:
            seq = self._timer_seq.get(timer, -1)
            if found is None or (deadline, seq) < found[:2]:
                found = (deadline, seq, None)
        return found

    # --- the Switch protocol --------------------------------------------------

    def answer(self) -> None:
        pass

    def play(self, prompt: Playable) -> None:
        self._play_entries[prompt.play_id] = self._schedule(self._length(prompt), PlaybackFinished(0.0, prompt.play_id))

    def stop_playback(self, play_id: int) -> None:
        self._cancel(self._play_entries.pop(play_id, None))
        self._schedule(0.0, PlaybackFinished(0.0, play_id))

    # A simulated call has no speech options: the engine skips voice_helper and TTS and never asks.

    def speak(self, prompt: Speak) -> None:
        raise UnsafeValue("the virtual switch has no speech synthesis")

    def start_speech(self, listen: StartSpeech) -> None:
        raise UnsafeValue("the virtual switch has no speech recognition")

    def stop_speech(self, listen_id: int) -> None:
        pass

    def set_variable(self, name: str, value: str) -> None:
        pass

    def set_caller_id(self, field: Literal["number", "name"], value: str) -> None:
        pass

    def transfer(
        self, destinations: tuple[str, ...], kind: Literal["transfer", "simple_transfer"], ring_timeout: int | None = None
    ) -> None:
        self._schedule(0.0, TransferFinished(0.0, self.transfer_ok, "" if self.transfer_ok else "NO_ANSWER"))

    def hang_up(self, cause: str) -> None:
        pass

    def record_message(self, job: int, path: Path, max_seconds: int, silence_threshold: int, silence_seconds: int) -> None:
        # No caller speaks into arithmetic: nothing is recorded (simulate runs without a voicemail spool).
        self.feed(MessageRecorded(self.now, job, error="the virtual switch records nothing"))

    def finished(self) -> None:
        self._due.clear()
        self._timer_seq.clear()

    # --- bookkeeping ----------------------------------------------------------

    def _logged(self, outputs: list[Output]) -> None:
        for output in outputs:
            self.log.append((self.now, output))
            if isinstance(output, StartTimer):
                self._timer_seq[output.timer] = next(self._seq)
            elif isinstance(output, CancelTimer):
                self._timer_seq.pop(output.timer, None)
            elif isinstance(output, _SCHEDULED):
                self._reserved.append(next(self._seq))

    def _length(self, output: Playable) -> float:
        if isinstance(output, Play):
            return self._duration(output.filename)
        if isinstance(output, PlaySilence):
            return output.milliseconds / 1000.0
        return SECONDS_PER_SAID_DIGIT * len(output.digits)

    def _schedule(self, delay: float, event: Event) -> int:
        seq = self._reserved.popleft() if self._reserved else next(self._seq)
        heapq.heappush(self._due, _Due(self.now + delay, seq, event))
        return seq

    def _cancel(self, seq: int | None) -> None:
        if seq is not None:
            self._cancelled.add(seq)


class _Log(QuietObserver):
    """The driver's observer: only the outputs matter here, logged with their virtual time."""

    def __init__(self, switch: VirtualSwitch) -> None:
        self._switch = switch

    def outputs(self, info: CallInfo, outputs: list[Output]) -> None:
        self._switch._logged(outputs)
