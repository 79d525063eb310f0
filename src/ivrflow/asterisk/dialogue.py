"""One call's ARI dialogue, sans I/O: ARI events in, engine events out; Switch calls in, REST requests out.

The dialogue owns the ids it puts on the wire (playback `<channel>-p<play_id>`,
bridge and dialed legs `<channel>-b` / `<channel>-l<n>`), so an event about a
playback or leg that arrives before the REST reply creating it is understood.
It reads time only from the `at` it is given, and runs one kind of deadline of
its own: a prompt that never reports its end (Asterisk sends no
PlaybackFinished for some media) is ended by `fire_due(now)` once its sound's
length plus a margin has passed; `next_deadline()` says when to call it.

Once the caller hangs up (ChannelHangupRequest or StasisEnd) the dialogue reports
CallerHungUp once and nothing more: every wait of the call ends there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..calls.switch import Playable
from ..engine import (
    CallerHungUp,
    DestinationOutcome,
    DtmfReceived,
    Event,
    PlaybackFinished,
    PlaySilence,
    RingOutcome,
    SayDigits,
    SwitchFailed,
    TransferFinished,
)
from ..engine.events import DTMF_DIGITS
from . import wire

Json = Mapping[str, Any]
LEG_ARG = "ivrflow-dialed"  # first Stasis argument of a leg ivrflow dials itself
FAILED_DIAL = frozenset({"NOANSWER", "BUSY", "CANCEL", "CHANUNAVAIL", "CONGESTION"})
# A dialled leg's end in the record (the Dial event's dialstatus is kept as its cause).
RING_OUTCOMES: Mapping[str, RingOutcome] = {
    "ANSWER": "answered", "NOANSWER": "no_answer", "CANCEL": "no_answer", "BUSY": "busy",
    "CHANUNAVAIL": "failed", "CONGESTION": "failed",
}


@dataclass(frozen=True, slots=True)
class AriRequest:
    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    play_id: int | None = None  # the prompt a play/stop request is about


@dataclass(slots=True)
class Step:
    """What one input caused: engine events for the driver's inbox, REST requests to send in order."""

    events: list[Event] = field(default_factory=list)
    requests: list[AriRequest] = field(default_factory=list)

    def extend(self, other: Step) -> None:
        self.events += other.events
        self.requests += other.requests


@dataclass(frozen=True, slots=True)
class DialogueSettings:
    app: str
    sound_dir: Path
    transfer_context: str = ""  # empty: the channel's own context
    simple_transfer_context: str = "ivrflow-simple-transfer"
    dial_template: str = "PJSIP/{number}"
    dial_timeout: int = 30
    # Seconds a sound file lasts (None: unknown); a prompt's deadline is that plus the margin.
    sound_seconds: Callable[[str], float | None] = lambda filename: None
    deadline_margin: float = 5.0
    unknown_sound_deadline: float = 300.0


@dataclass(slots=True)
class _Prompt:
    play_id: int
    playback_id: str | None  # None: silence, played as a deadline alone
    deadline: float
    stopped: bool = False


class AriDialogue:
    def __init__(self, channel_id: str, dialplan_context: str, settings: DialogueSettings) -> None:
        self.channel_id = channel_id
        self.settings = settings
        self._context = dialplan_context
        self._chan = f"/channels/{channel_id}"
        self._prompts: dict[int, _Prompt] = {}
        self._by_playback: dict[str, int] = {}
        self._continued = False
        self._legs: dict[str, str] = {}  # leg channel id -> destination, while ringing
        self._dialled: dict[str, str] = {}  # every leg of the transfer under way -> destination, in order
        self._ended: dict[str, DestinationOutcome] = {}  # how each leg of it ended, so far
        self._winner: str | None = None
        self._bridge = f"{channel_id}-b"
        self.hung_up = False  # the caller or we ended the channel: nothing more will be reported
        self._we_hung_up = False
        self.done = False  # nothing of this call is left to watch on ARI
        self.now = 0.0

    # --- Switch calls -> requests -------------------------------------------

    def answer(self) -> Step:
        return Step(requests=[AriRequest("POST", f"{self._chan}/answer")])

    def play(self, prompt: Playable, at: float) -> Step:
        if isinstance(prompt, PlaySilence):
            self._prompts[prompt.play_id] = _Prompt(prompt.play_id, None, at + prompt.milliseconds / 1000.0)
            return Step()
        if isinstance(prompt, SayDigits):
            media = wire.digits_uri(prompt.digits, prompt.method)
            seconds: float | None = 1.0 * len(prompt.digits)
        else:
            media = wire.sound_uri(self.settings.sound_dir, prompt.filename)
            seconds = self.settings.sound_seconds(prompt.filename)
        limit = self.settings.unknown_sound_deadline if seconds is None else seconds + self.settings.deadline_margin
        playback_id = f"{self.channel_id}-p{prompt.play_id}"
        self._prompts[prompt.play_id] = _Prompt(prompt.play_id, playback_id, at + limit)
        self._by_playback[playback_id] = prompt.play_id
        return Step(requests=[AriRequest("POST", f"{self._chan}/play/{playback_id}", (("media", media),), prompt.play_id)])

    def stop_playback(self, play_id: int, at: float) -> Step:
        prompt = self._prompts.get(play_id)
        if prompt is None or prompt.stopped:
            return Step()
        if prompt.playback_id is None:
            del self._prompts[play_id]
            return Step(events=[PlaybackFinished(at, play_id)])
        prompt.stopped = True
        return Step(requests=[AriRequest("DELETE", f"/playbacks/{prompt.playback_id}", play_id=play_id)])

    def set_variable(self, name: str, value: str) -> Step:
        params = (("variable", wire.variable_name(name)), ("value", wire.plain_value(value)))
        return Step(requests=[AriRequest("POST", f"{self._chan}/variable", params)])

    def set_caller_id(self, field_: Literal["number", "name"], value: str) -> Step:
        name = "CALLERID(num)" if field_ == "number" else "CALLERID(name)"
        return Step(requests=[AriRequest("POST", f"{self._chan}/variable", (("variable", name), ("value", wire.plain_value(value))))])

    def transfer(
        self,
        destinations: tuple[str, ...],
        kind: Literal["transfer", "simple_transfer"],
        at: float,
        ring_timeout: int | None = None,
    ) -> Step:
        """One destination goes on in the dialplan; several, or a ring timeout, are dialed and bridged."""
        step = self._stop_all(at)
        if len(destinations) == 1 and ring_timeout is None:
            if kind == "simple_transfer":
                ctx = self.settings.simple_transfer_context
            else:
                ctx = self.settings.transfer_context or self._context
            params = (("context", wire.context(ctx)), ("extension", wire.extension(destinations[0])), ("priority", "1"))
            self._continued = True
            step.requests.append(AriRequest("POST", f"{self._chan}/continue", params))
            return step
        endpoints = [wire.dial_endpoint(self.settings.dial_template, d) for d in destinations]
        step.requests += [
            AriRequest("POST", "/bridges", (("type", "mixing"), ("bridgeId", self._bridge), ("name", f"ivrflow-{self.channel_id}"))),
            AriRequest("POST", f"/bridges/{self._bridge}/addChannel", (("channel", self.channel_id),)),
        ]
        self._dialled, self._ended = {}, {}
        for n, (destination, endpoint) in enumerate(zip(destinations, endpoints), 1):
            leg = f"{self.channel_id}-l{n}"
            self._legs[leg] = self._dialled[leg] = destination
            args = f"{LEG_ARG},{self.channel_id}"
            step.requests += [
                AriRequest("POST", "/channels/create", (("endpoint", endpoint), ("app", self.settings.app), ("appArgs", args), ("channelId", leg))),
                AriRequest("POST", f"/channels/{leg}/dial", (("caller", self.channel_id), ("timeout", str(ring_timeout or self.settings.dial_timeout)))),
            ]
        return step

    def hang_up(self, cause: str) -> Step:
        if self.hung_up:
            return Step()
        self.hung_up = self._we_hung_up = True
        step = self._release_legs()
        step.requests.append(AriRequest("DELETE", self._chan, (("reason_code", str(wire.q850(cause))),)))
        return step

    def finished(self) -> Step:
        """The engine is done: a bridged call stays watched until one side hangs up; else nothing is left."""
        if self._winner is None and not self._legs:
            self.done = self.done or self.hung_up or self._continued
        return Step()

    # --- ARI events -> engine events ----------------------------------------

    def owns(self, channel_id: str) -> bool:
        return channel_id == self.channel_id or channel_id in self._legs or channel_id == self._winner

    def on_event(self, event: Json, at: float) -> Step:
        kind = event.get("type")
        if kind == "PlaybackFinished":
            return self._playback_finished(event.get("playback", {}), at)
        if kind == "Dial":
            return self._dial(event, at)
        channel_id = event.get("channel", {}).get("id")
        if channel_id != self.channel_id:
            if kind in ("StasisEnd", "ChannelHangupRequest") and isinstance(channel_id, str):
                return self._leg_gone(channel_id, at)
            return Step()
        if self.hung_up and kind != "StasisEnd":
            return Step()
        if kind == "ChannelDtmfReceived":
            digit = event.get("digit")
            if digit in DTMF_DIGITS and not self._continued:
                return Step(events=[DtmfReceived(at, digit)])
            return Step()
        if kind == "ChannelHangupRequest":
            return self._channel_gone(at, wire.cause_name(event.get("cause")))
        if kind == "StasisEnd":
            return self._stasis_end(at)
        return Step()

    def _playback_finished(self, playback: Json, at: float) -> Step:
        play_id = self._by_playback.pop(str(playback.get("id")), None)
        if play_id is None or play_id not in self._prompts or self.hung_up:
            return Step()
        del self._prompts[play_id]
        error = "failed" if playback.get("state") == "failed" else None
        return Step(events=[PlaybackFinished(at, play_id, error)])

    def _channel_gone(self, at: float, cause: str) -> Step:
        if self.hung_up:
            return Step()
        self.hung_up = True
        step = self._release_legs()
        if self._continued:
            step.events.append(TransferFinished(at, True))
        else:
            step.events.append(CallerHungUp(at, cause))
        return step

    def _stasis_end(self, at: float) -> Step:
        if self.hung_up:
            self.done = True
            return Step()
        if self._continued:
            self.hung_up = self.done = True
            return Step(events=[TransferFinished(at, True)])
        step = self._channel_gone(at, "NORMAL_CLEARING")
        self.done = True
        return step

    def _dial(self, event: Json, at: float) -> Step:
        leg = event.get("peer", {}).get("id")
        status = event.get("dialstatus")
        if leg not in self._legs or self.hung_up:
            return Step()
        if status == "ANSWER":
            self._winner = leg
            self._leg_ended(leg, "ANSWER")
            del self._legs[leg]
            step = self._release_legs()
            step.requests.append(AriRequest("POST", f"/bridges/{self._bridge}/addChannel", (("channel", leg),)))
            step.events.append(TransferFinished(at, True, destinations=self._outcomes()))
            return step
        if status in FAILED_DIAL:
            return self._leg_failed(leg, at, status)
        return Step()

    def _leg_failed(self, leg: str, at: float, status: str) -> Step:
        self._legs.pop(leg, None)
        self._leg_ended(leg, status)
        if self._legs or self._winner is not None:
            return Step()
        return Step(
            requests=[AriRequest("DELETE", f"/bridges/{self._bridge}")],
            events=[TransferFinished(at, False, {"BUSY": "USER_BUSY"}.get(status, "NO_ANSWER"), self._outcomes())],
        )

    def _leg_ended(self, leg: str, status: str) -> None:
        if leg in self._dialled and leg not in self._ended:
            self._ended[leg] = DestinationOutcome(self._dialled[leg], RING_OUTCOMES.get(status, "failed"), status)

    def _outcomes(self) -> tuple[DestinationOutcome, ...]:
        return tuple(self._ended[leg] for leg in self._dialled if leg in self._ended)

    def _leg_gone(self, leg: str, at: float) -> Step:
        if leg in self._legs:
            return self._leg_failed(leg, at, "NOANSWER")
        if leg == self._winner:
            # The transfer target hung up: the caller, alone in the bridge, is hung up too.
            self._winner = None
            step = Step(requests=[AriRequest("DELETE", f"/bridges/{self._bridge}")])
            if not self.hung_up:
                step.extend(self.hang_up("NORMAL_CLEARING"))
            return step
        return Step()

    def _release_legs(self) -> Step:
        step = Step()
        for leg in self._legs:
            self._leg_ended(leg, "CANCEL")  # Asterisk's dialstatus for a leg hung up while ringing
            step.requests.append(AriRequest("DELETE", f"/channels/{leg}", (("reason", "answered_elsewhere"),)))
        self._legs.clear()
        if self.hung_up and self._winner is not None:
            step.requests += [AriRequest("DELETE", f"/channels/{self._winner}"), AriRequest("DELETE", f"/bridges/{self._bridge}")]
            self._winner = None
        return step

    def _stop_all(self, at: float) -> Step:
        step = Step()
        for play_id in list(self._prompts):
            step.extend(self.stop_playback(play_id, at))
        return step

    # --- deadlines and REST outcomes ----------------------------------------

    def next_deadline(self) -> float | None:
        live = [p.deadline for p in self._prompts.values()]
        return min(live) if live and not self.hung_up else None

    def fire_due(self, now: float) -> Step:
        step = Step()
        for prompt in [p for p in self._prompts.values() if p.deadline <= now]:
            del self._prompts[prompt.play_id]
            if prompt.playback_id is None:
                step.events.append(PlaybackFinished(now, prompt.play_id))
                continue
            self._by_playback.pop(prompt.playback_id, None)
            step.requests.append(AriRequest("DELETE", f"/playbacks/{prompt.playback_id}", play_id=prompt.play_id))
            step.events.append(PlaybackFinished(now, prompt.play_id, "no end reported before the prompt's deadline"))
        return step

    def on_reply(self, request: AriRequest, status: int, body: Json | None, at: float) -> Step:
        """A REST outcome: 2xx is nothing new; a failure becomes what the engine must know."""
        if 200 <= status < 300 or self.hung_up:
            return Step()
        message = str((body or {}).get("message") or (body or {}).get("error") or f"HTTP {status}")
        if request.method == "DELETE" and status == 404:
            return Step()  # already gone: a playback that ended, a leg that hung up
        if status == 404 and request.path.startswith(self._chan):
            return self._channel_gone(at, "NORMAL_CLEARING")
        if request.play_id is not None and request.play_id in self._prompts:
            del self._prompts[request.play_id]
            return Step(events=[PlaybackFinished(at, request.play_id, message)])
        if request.path.endswith("/continue"):
            self._continued = False
            return Step(events=[TransferFinished(at, False, message)])
        return Step(events=[SwitchFailed(at, f"{request.method} {request.path}: {status} {message}")])

    # --- after a WebSocket gap ----------------------------------------------

    def playback_ids(self) -> list[str]:
        return [p.playback_id for p in self._prompts.values() if p.playback_id is not None]

    @property
    def state_known(self) -> bool:
        """Whether REST alone can tell where the call is: not while legs ring or a bridge holds it."""
        return not self._legs and self._winner is None

    def resync(self, in_app: bool, gone: set[str], at: float) -> Step:
        """Reconcile after events were lost: `in_app` from the app's channel list, `gone` the playbacks Asterisk no longer has.

        Only the playbacks asked about are in `gone`: one started while the
        question was out (an engine timer ran meanwhile) is left playing.
        """
        if not in_app:
            return self._stasis_end(at)
        step = Step()
        for playback_id in sorted(gone):
            step.extend(self._playback_finished({"id": playback_id, "state": "done"}, at))
        return step
