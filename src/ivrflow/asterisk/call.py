"""One ARI call as the call layer's `Switch`: the dialogue's requests sent in order, its events posted.

Requests go out from a sender greenlet of the call, in the order the dialogue
made them, so neither the driver nor the event stream waits on REST. A REST
failure is given back to the dialogue, which decides what the engine hears.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import gevent
import gevent.queue

from ..calls.switch import Playable, UnsafeValue
from ..engine import DtmfReceived, Event, MessageRecorded, Speak, StartSpeech
from .dialogue import AriDialogue, AriRequest, Step, Json
from .rest import AriRest, AriUnavailable

log = logging.getLogger("ivrflow.asterisk")


class AriCall:
    """Implements `ivrflow.calls.switch.Switch` for one channel in the Stasis app."""

    def __init__(
        self,
        dialogue: AriDialogue,
        rest: AriRest,
        post: Callable[[Event], None],
        clock: Callable[[], float] = time.monotonic,
        on_done: Callable[[], None] = lambda: None,
        dtmf_handled: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        self.dialogue = dialogue
        self._on_done = on_done  # told once nothing of the call is left to watch
        # Seconds from a digit's event to the first request it caused leaving: ESL's measure, on ARI.
        self._dtmf_handled = dtmf_handled
        self._rest = rest
        self._post = post
        self._clock = clock
        # Each request with the arrival time of the digit that caused it, if one did.
        self._outbox: gevent.queue.Queue[tuple[AriRequest, float | None] | None] = gevent.queue.Queue()
        self._pending = 0  # requests queued or in flight
        self._queued = 0  # requests ever queued: which ones a digit's handling added
        self._digit_at: float | None = None
        self._told_done = False
        self._sender = gevent.spawn(self._send_all)

    # --- Switch -------------------------------------------------------------

    def answer(self) -> None:
        self._apply(self.dialogue.answer())

    def play(self, prompt: Playable) -> None:
        self._apply(self.dialogue.play(prompt, self._clock()))

    def stop_playback(self, play_id: int) -> None:
        self._apply(self.dialogue.stop_playback(play_id, self._clock()))

    # ARI has no speech recognition or synthesis: the daemon gives ARI calls no speech
    # options, so the engine skips voice_helper and TTS with a notice and never asks.

    def speak(self, prompt: Speak) -> None:
        raise UnsafeValue("Asterisk (ARI) has no speech synthesis")

    def start_speech(self, listen: StartSpeech) -> None:
        raise UnsafeValue("Asterisk (ARI) has no speech recognition")

    def stop_speech(self, listen_id: int) -> None:
        pass

    def set_variable(self, name: str, value: str) -> None:
        self._apply(self.dialogue.set_variable(name, value))

    def set_caller_id(self, field: Literal["number", "name"], value: str) -> None:
        self._apply(self.dialogue.set_caller_id(field, value))

    def transfer(
        self, destinations: tuple[str, ...], kind: Literal["transfer", "simple_transfer"], ring_timeout: int | None = None
    ) -> None:
        self._apply(self.dialogue.transfer(destinations, kind, self._clock(), ring_timeout))

    def hang_up(self, cause: str) -> None:
        self._apply(self.dialogue.hang_up(cause))

    def record_message(self, job: int, path: Path, max_seconds: int, silence_threshold: int, silence_seconds: int) -> None:
        # Voicemail is not built for Asterisk: the daemon gives ARI calls no voicemail options, so
        # the engine never asks; should it, the call is told at once and nothing is recorded.
        self._post(MessageRecorded(self._clock(), job, error="voicemail is not supported on Asterisk (ARI) yet"))

    def finished(self) -> None:
        self._apply(self.dialogue.finished())
        if self.dialogue.done:
            self._outbox.put(None)

    # --- from the event stream and timers -----------------------------------

    def on_event(self, event: Json) -> None:
        self._apply(self.dialogue.on_event(event, self._clock()))

    def apply(self, step: Step) -> None:
        self._apply(step)

    def apply_event(self, event: Event) -> None:
        self._post(event)

    @property
    def sending(self) -> bool:
        """Requests are queued or in flight."""
        return self._pending > 0

    def next_deadline(self) -> float | None:
        """When `fire_due_timers` must run next: a prompt's deadline (see AriDialogue)."""
        return self.dialogue.next_deadline()

    def fire_due_timers(self) -> None:
        self._apply(self.dialogue.fire_due(self._clock()))

    def _apply(self, step: Step) -> None:
        for event in step.events:
            if isinstance(event, DtmfReceived):
                self._post_digit(event)
            else:
                self._post(event)
        for request in step.requests:
            self._pending += 1
            self._queued += 1
            self._outbox.put((request, self._digit_at))
            self._digit_at = None
        if self.dialogue.done and not self._told_done:
            self._told_done = True
            self._on_done()

    def _post_digit(self, event: DtmfReceived) -> None:
        # The driver runs the engine inside the post, so the requests it makes are queued by then.
        before, self._digit_at = self._queued, event.at
        self._post(event)
        if self._queued == before:
            self._digit_at = None  # the digit caused nothing on the wire (discarded, or mid-entry)

    def _send_all(self) -> None:
        while True:
            item = self._outbox.get()
            if item is None:
                return
            request, digit_at = item
            if digit_at is not None:
                self._dtmf_handled(self._clock() - digit_at)
            try:
                reply = self._rest.request(request.method, request.path, request.params)
                status, body = reply.status, reply.body if isinstance(reply.body, dict) else None
            except AriUnavailable as exc:
                log.warning("ARI request failed: %s", exc)
                status, body = 0, {"message": str(exc)}
            self._pending -= 1
            self._apply(self.dialogue.on_reply(request, status, body, self._clock()))

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queued request was sent (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            gevent.sleep(0.005)

    def close(self) -> None:
        self._outbox.put(None)
