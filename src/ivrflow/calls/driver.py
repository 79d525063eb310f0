"""One call driven through the engine, whatever the switch: the call layer's heart.

Theory of operation
-------------------
Everything that happens to a call arrives in its inbox as an engine event:
what the switch reports (through its adapter), timers firing, and results of
work done outside the call (an HTTP reply, a recording stored, a drain
deadline). `run` feeds the engine one event at a time and carries out the
outputs after `handle` has returned; an event posted meanwhile (by the switch
adapter while it carries out a command, or by another greenlet) waits in the
inbox for its turn. The engine is never re-entered, so no state is seen half
updated.

The driver does no I/O and reads time only from the clock it is given: the
FreeSWITCH and Asterisk adapters run it on the monotonic clock, `simulate`
on a virtual one. Whoever runs the call waits for the switch until
`next_deadline` and then calls `fire_due_timers`.

A command the adapter refuses to put on the wire (`UnsafeValue`) drops the
rest of that batch and ends the call as failed; an engine that raises is
aborted: the call is hung up and recorded with outcome `error`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path

from ..engine import (
    PROGRESS_TYPES,
    Answer,
    Call,
    CallerHungUp,
    CallFinished,
    CallRecord,
    CallStarted,
    CancelTimer,
    CancelWebhook,
    EngineError,
    Event,
    FetchWebhook,
    Hangup,
    KeepMessage,
    MessageRecorded,
    Output,
    Play,
    PlaySilence,
    RecordMessage,
    SayDigits,
    SetCallerId,
    SetVariable,
    ShutdownRequested,
    Speak,
    StartSpeech,
    StartTimer,
    StopPlayback,
    StopSpeech,
    SwitchFailed,
    TimerFired,
    Transfer,
    WebhookReplied,
    clip_text,
)
from ..menu.verbs import Verb
from .info import CallInfo
from .observer import CallObserver
from .outside import Cancellable, NoOutsideWork, NothingToCancel, OutsideWork
from .switch import Switch, UnsafeValue
from .timers import TimerHeap
from .voicemail_box import VoicemailBox

log = logging.getLogger("ivrflow.call")


class CallDriver:
    def __init__(
        self,
        call: Call,
        info: CallInfo,
        switch: Switch,
        observer: CallObserver,
        clock: Callable[[], float],
        on_finished: Callable[[CallDriver], None] = lambda driver: None,
        wake: Callable[[], None] = lambda: None,
        outside: OutsideWork = NoOutsideWork(),
        voicemail: VoicemailBox | None = None,
    ) -> None:
        self.call = call
        self.info = info
        self.switch = switch
        self.observer = observer
        self.clock = clock
        self._on_finished = on_finished
        self._wake = wake  # tells whoever runs the call that the inbox has work
        self.outside = outside
        self._jobs: dict[int, Cancellable] = {}  # outside work under way, by job
        self.voicemail = voicemail
        self._recordings: dict[int, Path] = {}  # where each RecordMessage's job records
        self.timers = TimerHeap()
        self._inbox: deque[Event] = deque()
        self._running = False
        self.record: CallRecord | None = None  # set when the call has finished

    @property
    def finished(self) -> bool:
        return self.record is not None

    # --- in -------------------------------------------------------------------

    def start(self, variables: Mapping[str, str]) -> None:
        self.observer.call_started(self.info)
        self.post(CallStarted(self.clock(), variables))

    def post(self, event: Event) -> None:
        """Queue an event for the call and run it unless the call is already running."""
        if self.finished:
            return
        self._inbox.append(event)
        if self._running:
            return
        self.run()
        self._wake()

    def shut_down(self, reason: str) -> None:
        self.post(ShutdownRequested(self.clock(), reason))

    def next_deadline(self) -> float | None:
        return self.timers.next_deadline()

    def fire_due_timers(self) -> None:
        now = self.clock()
        for timer in self.timers.pop_due(now):
            self.post(TimerFired(now, timer))

    def end_unexpectedly(self, event: CallerHungUp | SwitchFailed) -> None:
        """Still record a call whose switch went away or whose handling broke."""
        if not self.finished:
            self._inbox.clear()
            self.post(event)

    # --- the feed loop --------------------------------------------------------

    def run(self) -> None:
        if self._running:
            return
        self._running = True
        try:
            while self._inbox and not self.finished:
                self._feed(self._inbox.popleft())
        finally:
            self._running = False

    def _feed(self, event: Event) -> None:
        try:
            outputs = self.call.handle(event)
        except EngineError as exc:
            log.exception("engine failed on %s", type(event).__name__, extra={"call": self.info.call_id})
            self.observer.error("internal")
            outputs = self.call.abort(self.clock(), clip_text(f"internal error: {exc.__cause__ or exc}"))
        if outputs:
            self.observer.outputs(self.info, outputs)
        for output in outputs:
            if isinstance(output, PROGRESS_TYPES):
                continue
            try:
                self._carry_out(output)
            except UnsafeValue as exc:
                # Checks at load should make this unreachable; never send it, end the call instead.
                log.error("refused to send %r: %s", output, exc, extra={"call": self.info.call_id})
                self.observer.error("unsafe_argument")
                self._inbox.appendleft(SwitchFailed(self.clock(), clip_text(f"unsafe argument: {exc}")))
                return

    def _carry_out(self, output: Output) -> None:
        switch = self.switch
        match output:
            case StartTimer(timer=timer, seconds=seconds):
                self.timers.start(timer, self.clock() + seconds)
            case CancelTimer(timer=timer):
                self.timers.cancel(timer)
            case Play() | PlaySilence() | SayDigits():
                switch.play(output)
            case StopPlayback(play_id=play_id):
                switch.stop_playback(play_id)
            case Speak():
                switch.speak(output)
            case StartSpeech():
                switch.start_speech(output)
            case StopSpeech(listen_id=listen_id):
                switch.stop_speech(listen_id)
            case Answer():
                switch.answer()
            case SetVariable(name=name, value=value):
                switch.set_variable(name, value)
            case SetCallerId(field=which, value=value):
                switch.set_caller_id(which, value)
            case Transfer(destinations=destinations, kind=kind, ring_timeout=ring_timeout):
                switch.transfer(destinations, kind, ring_timeout)
            case Hangup(cause=cause):
                switch.hang_up(cause)
            case FetchWebhook(job=job):
                self._fetch(output, job)
            case CancelWebhook(job=job):
                work = self._jobs.pop(job, None)
                if work is not None:
                    work.cancel()
            case RecordMessage(job=job):
                self._record(output, job)
            case KeepMessage(job=job, duration_s=duration):
                path = self._recordings.pop(job, None)
                if path is not None and self.voicemail is not None:
                    self.voicemail.keep(self.info, self.call.ivr, path, duration)
            case CallFinished(record=record):
                self.record = record
                self.timers.clear()
                for work in self._jobs.values():  # the engine cancels its own; this is a backstop
                    work.cancel()
                self._jobs.clear()
                self._inbox.clear()
                self.observer.call_finished(self.info, record)
                switch.finished()
                self._on_finished(self)

    def _record(self, record: RecordMessage, job: int) -> None:
        if self.voicemail is None:  # the engine records only with voicemail options: a runtime mix-up
            self.post(MessageRecorded(self.clock(), job, error="this runtime has no voicemail spool"))
            return
        path = self._recordings[job] = self.voicemail.new_recording()
        self.switch.record_message(job, path, record.max_seconds, record.silence_threshold, record.silence_seconds)

    def _fetch(self, fetch: FetchWebhook, job: int) -> None:
        # The job is listed before the work starts, so a reply given while it starts
        # finds it; a reply whose job is gone (cancelled, or said before) is dropped.
        self._jobs[job] = NothingToCancel()

        def reply(verbs: tuple[Verb, ...], error: str | None) -> None:
            if self._jobs.pop(job, None) is not None:
                self.post(WebhookReplied(self.clock(), job, verbs, None if error is None else clip_text(error)))

        work = self.outside.fetch_webhook(self.info, self.call.ivr, fetch, reply)
        if job in self._jobs:
            self._jobs[job] = work
