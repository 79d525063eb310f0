"""One call's outbound Event Socket conversation, without I/O: bytes and calls in, bytes and events out.

Theory of operation
-------------------
`start` queues the handshake (connect, myevents, nixevent, linger: one write,
four replies). The bytes FreeSWITCH sends go to `receive_data`; `next_event`
then takes the frames one at a time, in order, and returns each engine event
they carry (a frame's effects, such as sending the next application, happen
before the next frame is looked at). The `Switch` methods (answer, play, ...)
turn the engine's commands into `sendmsg` applications. What to write is
collected in an outbox that the I/O shell empties with `data_to_send`.

Applications run one at a time: the next is sent only when the previous one's
CHANNEL_EXECUTE_COMPLETE with our `Application-UUID` has arrived (but for
`answer`, which the first prompt follows at once, see `_send_next_app`), so nothing
runs nested and completions are never matched by application name (the
`break` below is the one exception, and it ends what it nests in). Replies
carry no id: they come in the order commands were sent, and each command
queues what its reply means. A reply awaited longer than `command_timeout`
fails that command; its late reply is then dropped.

Stopping a prompt: nothing is sent when the prompt's completion is already
among the frames received (a digit the prompt dequeued ends it, with
`playback_terminators=any`, and its completion follows the DTMF event at once).
Otherwise the `break` application is sent: it queues on the channel behind
the prompt or runs nested inside it (a playback polls the queue every frame)
and ends it; where the prompt has ended already it does nothing. Being queued,
it cannot miss a prompt not yet started, as `uuid_break` would (the switch
clears the break flag when an application starts), so no CHANNEL_EXECUTE is
needed to know when a prompt starts, and none is subscribed.

Listening (voice_helper): `start_speech` subscribes DETECTED_SPEECH (the
handshake nixes it: the switch sends it only while a recognition runs), sets
`fire_asr_events` and queues `detect_speech`. FreeSWITCH's speech thread
queues each result on the channel and, with `fire_asr_events`, also fires a
copy for the socket: a playback's input callback eats the queued one, the
park loop fires it too, so a result may come twice. The dialogue takes the
first final result (`Speech-Type: detected-speech`) that follows the
`detect_speech` completion, and nothing more until the next `start_speech`.
`stop_speech` sends `detect_speech stop` and nixes the event again.

Releasing the channel: once the engine is done (`finished`) the shell waits
until `released` (the switch hung up, the channel left for its transfer
target when `exit_after_transfer` is set, or the target is safe without the
socket) and then sends `exit`. `exit` clears FreeSWITCH's control flag, which
ends a `park` or a second `socket` running at the target, so a transferred
call's socket is held while its target parks (see `release`): the shell
calls `check_release` at `release_deadline`, and the `current_application`
check that goes out then sets `released` when its answer says it is safe.

One module, longer than most: the app queue, the reply order, the command
deadlines and the release rules depend on one another and are read together.
"""

from __future__ import annotations

import functools
import logging
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal, TypeVar

from ..calls.observer import CallObserver
from ..calls.routing import Rejected
from ..calls.switch import Playable, UnsafeValue
from ..engine import (
    CallerHungUp,
    DtmfReceived,
    Event as EngineEvent,
    MessageRecorded,
    Play,
    PlaybackFinished,
    PlaySilence,
    Speak,
    SpeechDetected,
    StartSpeech,
    SwitchFailed,
    TransferFinished,
    clip_text,
)
from ..menu.sound_paths import sound_path
from . import builders as esl
from .frames import ApiResponse, ChannelData, DisconnectNotice, EslEvent, Frame, MalformedFrame, Reply
from .framing import FrameReader
from .release import WATCHED_EVENTS, TargetWatch, resume_set
from .ring_outcomes import leg_outcomes
from .speech_result import transcription

log = logging.getLogger("ivrflow.esl")

PLAYBACK_FAILURES = frozenset({"FILE NOT FOUND", "PLAYBACK ERROR"})

# `myevents` subscribes to these too, but a call needs none of them: it lives on
# CHANNEL_EXECUTE_COMPLETE, DTMF, CHANNEL_HANGUP(_COMPLETE) and the disconnect
# notices. Most events carry every channel variable (kilobytes); CHANNEL_EXECUTE,
# one per application, was a third of what the switch wrote per call (see the
# module's doc on stopping a prompt for why it is not needed).
UNUSED_EVENTS = (
    "CHANNEL_EXECUTE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_DATA", "CHANNEL_ORIGINATE",
    "CHANNEL_UUID", "TALK", "NOTALK", "DETECTED_SPEECH",
)
HANDSHAKE_STEPS = ("connect", "myevents", "nixevent", "linger")
# What the release after a transfer reads and the handshake does not subscribe.
WATCH_SUBSCRIPTION = tuple(name for name in WATCHED_EVENTS if name in UNUSED_EVENTS)
SPEECH_EVENT = "DETECTED_SPEECH"
# The name detect_speech gives the grammar it loads (the grammar itself is a setting).
GRAMMAR_NAME = "ivrflow"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class SwitchSettings:
    """How engine commands become FreeSWITCH applications, and how long to wait for the switch.

    The first six come from the daemon's settings, which hold their defaults.
    """

    sound_dir: Path
    transfer_context: str  # empty: the caller's own dialplan context
    simple_transfer_context: str
    bridge_template: str
    # After a transfer, say `exit` as soon as the channel has left the socket (releasing it
    # at once), or hold the socket while the target parks (see above).
    exit_after_transfer: bool
    # After a transfer, how long nothing may start or end on the channel before its socket
    # is let go (if the target is not parked; see `release`).
    release_quiet_time: float
    # Variables FreeSWITCH acts on by itself (hooks, call control) that menus may still set.
    allowed_variables: frozenset[str] = frozenset()
    linger_seconds: int = 30
    command_timeout: float = 5.0
    teardown_timeout: float = 10.0
    idle_timeout: float = 4 * 3600.0


class _Awaits(Enum):
    HANDSHAKE = "handshake"
    APP = "app"
    EXIT = "exit"
    SUBSCRIBE = "subscribe"  # the events the release after a transfer reads
    CHECK = "check"  # current_application, just before letting a transferred call go
    NOTHING = "nothing"  # a reply nobody waits for (break, hangup), or one that came too late


@dataclass(slots=True)
class _App:
    name: str
    arg: str | None
    event_uuid: str
    play_id: int | None = None
    transfer: bool = False
    listen_id: int | None = None  # the detect_speech that starts this recognition
    break_sent: bool = False
    sent_at: float = 0.0
    legs: tuple[tuple[str, str], ...] = ()  # a bridge's (leg uuid, destination), to read originate_causes by
    record_job: int | None = None  # a voicemail recording's RecordMessage job


@dataclass(slots=True)
class _Expected:
    awaits: _Awaits
    deadline: float | None = None  # None: nobody waits for it
    app: _App | None = None


class EslDialogue:
    """The FreeSWITCH side of one call, as a `Switch` for the call layer."""

    def __init__(self, settings: SwitchSettings, observer: CallObserver, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.observer = observer
        self.clock = clock
        self.channel: ChannelData | None = None  # the connect reply, once the handshake succeeded
        self.hung_up = False  # by the caller, or by our own hangup command
        self.released = False  # the switch is done with the channel
        self.transferred = False  # the channel left for a transfer target
        self.done = False  # the engine has finished; only letting go remains
        self.exited = False  # `exit` was sent
        self.call_id = "-"
        # A stop the switch had already done (the prompt's terminator): the digit was acted on.
        self.stop_already_done = False
        self._reader = FrameReader()
        self._frames: deque[tuple[float, Frame]] = deque()
        self._outbox: list[bytes] = []
        self._expected: deque[_Expected] = deque()
        self._handshake_replies: list[Frame] = []
        self._apps: deque[_App] = deque()
        self._in_flight: _App | None = None
        self._uuid_prefix = _uuid_prefix()
        self._app_count = 0
        self._caller_context = "default"
        self._watch: TargetWatch | None = None  # set when a transfer is queued (unless exit_after_transfer)
        self._released_by_check = False
        self._listen: int | None = None  # the recognition the engine started and has not stopped
        self._hearing = False  # a result now is the listen's answer (detect_speech ran, none taken yet)

    # --- bytes ----------------------------------------------------------------

    def data_to_send(self) -> bytes:
        data, self._outbox = b"".join(self._outbox), []
        return data

    def receive_data(self, data: bytes, at: float) -> None:
        """Bytes from the switch; b"" at end of stream."""
        frames = self._reader.feed(data) if data else self._reader.close()
        self._frames.extend((at, frame) for frame in frames)

    def next_event(self) -> EngineEvent | None:
        """Handle received frames in order until one gives the engine an event; None when none is left."""
        while self._frames:
            at, frame = self._frames.popleft()
            event = self._handle(frame, at)
            if event is not None:
                return event
        return None

    def _send(self, command: bytes, awaits: _Awaits, app: _App | None = None, awaited: bool = True) -> None:
        deadline = self.clock() + self.settings.command_timeout if awaited else None
        self._outbox.append(command)
        self._expected.append(_Expected(awaits if awaited else _Awaits.NOTHING, deadline, app))

    # --- deadlines ------------------------------------------------------------

    def reply_deadline(self) -> float | None:
        """When the oldest awaited reply is overdue."""
        for expected in self._expected:
            if expected.deadline is not None:
                return expected.deadline
        return None

    def check_deadlines(self, now: float) -> EngineEvent | None:
        """Fail the command whose reply is overdue; Rejected while still in the handshake."""
        for expected in self._expected:
            if expected.deadline is None or expected.deadline > now:
                continue
            what, expected.deadline, awaits = expected.awaits.value, None, expected.awaits
            expected.awaits = _Awaits.NOTHING  # its reply, should it come, is dropped
            reason = f"no reply within {self.settings.command_timeout} s"
            if awaits is _Awaits.HANDSHAKE:
                raise Rejected("handshake_failed", f"handshake: {reason}")
            if awaits is _Awaits.APP and expected.app is not None:
                self.observer.error("command_timeout")
                return self._app_failed(f"{expected.app.name}: {reason}")
            if self._watch is not None and awaits in (_Awaits.SUBSCRIBE, _Awaits.CHECK):
                self._release_reply(awaits, None)
            log.debug("%s: %s", what, reason, extra={"call": self.call_id})
        return None

    # --- the handshake --------------------------------------------------------

    def start(self) -> None:
        # The handshake in one write: one round trip instead of four. (Were the socket
        # not `async full`, nixevent and linger get -ERR and the call is handed back.)
        self._outbox.append(_handshake(self.settings.linger_seconds))
        deadline = self.clock() + self.settings.command_timeout
        self._expected.extend(_Expected(_Awaits.HANDSHAKE, deadline) for _ in HANDSHAKE_STEPS)

    def _handshake_reply(self, frame: Frame) -> None:
        self._handshake_replies.append(frame)
        if len(self._handshake_replies) < len(HANDSHAKE_STEPS):
            return
        data, *replies = self._handshake_replies
        if not isinstance(data, ChannelData):
            raise Rejected("handshake_failed", f"connect answered {data!r}")
        headers = data.headers
        self.call_id = data.unique_id
        mode, control = headers.get("Socket-Mode", ""), headers.get("Control", "")
        if (mode, control) != ("async", "full"):
            raise Rejected(
                "not_async_full",
                f"socket opened as '{mode} {control}'; the dialplan must say 'socket HOST:PORT async full'",
            )
        for what, reply in zip(HANDSHAKE_STEPS[1:], replies):
            if not isinstance(reply, Reply) or not reply.ok:
                raise Rejected("handshake_failed", f"{what} refused: {getattr(reply, 'text', reply)!r}")
        self._caller_context = headers.get("Caller-Context") or "default"
        self.channel = data

    # --- switch -> engine -----------------------------------------------------

    def _handle(self, frame: Frame, at: float) -> EngineEvent | None:
        if isinstance(frame, MalformedFrame):
            log.warning("skipped a malformed frame: %s (%r)", frame.reason, frame.raw[:200], extra={"call": self.call_id})
            self.observer.error("malformed_frame")
            return None
        if isinstance(frame, (Reply, ApiResponse, ChannelData)):
            return self._reply(frame)
        self._note_release(frame)
        if isinstance(frame, EslEvent):
            return self._on_event(frame, at)
        if isinstance(frame, DisconnectNotice):
            event = self._caller_gone(at, "disconnect notice")
            self.done = self.done or not frame.is_linger
            return event
        return None

    def _reply(self, frame: Reply | ApiResponse | ChannelData) -> EngineEvent | None:
        if not self._expected:
            log.warning("reply nobody asked for: %r", frame, extra={"call": self.call_id})
            return None
        expected = self._expected.popleft()
        if expected.awaits is _Awaits.HANDSHAKE:
            self._handshake_reply(frame)
        elif expected.awaits in (_Awaits.SUBSCRIBE, _Awaits.CHECK):
            self._release_reply(expected.awaits, frame)
        elif expected.awaits is _Awaits.APP and expected.app is not None:
            app = expected.app
            self.observer.command_timed(app.name, self.clock() - app.sent_at)
            if not isinstance(frame, Reply) or not frame.ok:
                self.observer.error("switch_refused")
                return self._app_failed(f"{app.name} refused: {getattr(frame, 'text', frame)!r}")
        return None

    def _on_event(self, event: EslEvent, at: float) -> EngineEvent | None:
        name = event.name
        if self._watch is not None and self._watch.on_event(event, at) and self._released_by_check and not self.exited:
            # The target moved on after the check's answer, before the exit went out: look again.
            self.released = self._released_by_check = False
        if name == "CHANNEL_EXECUTE_COMPLETE":
            return self._on_execute_complete(event, at)
        elif name == "DTMF":
            return self._on_dtmf(event.get("DTMF-Digit") or "", at)
        elif name == "CHANNEL_HANGUP":
            return self._caller_gone(at, clip_text(event.get("Hangup-Cause") or "NORMAL_CLEARING"))
        elif name == SPEECH_EVENT:
            return self._on_speech(event, at)
        return None

    def _on_speech(self, event: EslEvent, at: float) -> EngineEvent | None:
        if not self._hearing or self._listen is None or event.get("Speech-Type") != "detected-speech":
            return None  # begin-speaking, partial results, closed; or a copy of a result taken
        self._hearing = False
        text = transcription(event.body or "")
        if text is None:
            log.warning("speech result is not NLSML: %r", (event.body or "")[:200], extra={"call": self.call_id})
            self.observer.error("bad_speech_result")
        return SpeechDetected(at, self._listen, clip_text(text or ""))

    def _on_dtmf(self, digit: str, at: float) -> EngineEvent | None:
        try:
            return DtmfReceived(at, digit)
        except ValueError:
            log.warning("ignored a DTMF event with digit %r", digit, extra={"call": self.call_id})
            self.observer.error("bad_dtmf")
            return None

    def _on_execute_complete(self, event: EslEvent, at: float) -> EngineEvent | None:
        app = self._in_flight
        if app is None or event.get("Application-UUID") != app.event_uuid:
            return None
        self._in_flight = None
        result: EngineEvent | None = None
        response = event.get("Application-Response") or ""
        if app.play_id is not None:
            failed = response in PLAYBACK_FAILURES and not self.hung_up
            result = PlaybackFinished(at, app.play_id, response if failed else None)
        elif app.transfer:
            result = self._transfer_complete(app, event, at)
        elif app.listen_id is not None and app.listen_id == self._listen:
            self._hearing = True
        elif app.record_job is not None:
            result = _recorded(app.record_job, event, at)
        self._send_next_app()
        return result

    def _transfer_complete(self, app: _App, event: EslEvent, at: float) -> EngineEvent:
        if app.name == "transfer":
            self.transferred = True
            return TransferFinished(at, True)
        disposition = event.get("variable_originate_disposition") or ""
        answered = disposition in ("SUCCESS", "ANSWER")
        if answered:  # the bridged conversation is over; end the caller's leg too
            self._send(esl.hangup("NORMAL_CLEARING"), _Awaits.NOTHING, awaited=False)
            self.hung_up = True
        outcomes = leg_outcomes(app.legs, event.get("variable_originate_causes") or "", answered, disposition)
        return TransferFinished(at, answered, clip_text(disposition) or "bridge failed", outcomes)

    def _caller_gone(self, at: float, cause: str) -> EngineEvent | None:
        if self.hung_up or self.channel is None:
            return None
        self.hung_up = True
        return CallerHungUp(at, cause)

    def _note_release(self, frame: Frame) -> None:
        """Whether the switch is done with the channel: hung up, or gone to its transfer target."""
        if isinstance(frame, DisconnectNotice) or isinstance(frame, EslEvent) and (
            frame.name == "CHANNEL_HANGUP_COMPLETE"
            or frame.name == "CHANNEL_EXECUTE_COMPLETE"
            and frame.get("Application") == "socket"
            and self.settings.exit_after_transfer
        ):
            self.released = True

    def _app_failed(self, reason: str) -> EngineEvent:
        log.warning("switch could not run a command: %s", reason, extra={"call": self.call_id})
        self._in_flight = None
        return SwitchFailed(self.clock(), reason)

    # --- engine -> switch: the Switch protocol --------------------------------

    def answer(self) -> None:
        if self.channel is not None and self.channel.headers.get("Answer-State") == "answered":
            return  # the dialplan answered before `socket`: an answer would only cost two events
        self._queue_app("answer", None)

    def play(self, prompt: Playable) -> None:
        terminators = "any" if prompt.interruptible else "none"
        try:
            if isinstance(prompt, Play):
                path = _playable_path(self.settings.sound_dir, prompt.filename)
                name, arg = "playback", esl.playback_arg(path, terminators=terminators)
            elif isinstance(prompt, PlaySilence):
                name, arg = "playback", esl.playback_arg(esl.silence_arg(prompt.milliseconds), terminators=terminators)
            else:
                name = "say"
                arg = f"%[playback_terminators={terminators}]" + esl.say_digits_arg(prompt.digits, method=prompt.method)
        except ValueError as exc:  # esl.UnsafeArgument, or a sound path leaving the sound directory
            raise UnsafeValue(str(exc)) from exc
        self._queue_app(name, arg, prompt.play_id)

    def speak(self, prompt: Speak) -> None:
        terminators = "any" if prompt.interruptible else "none"
        arg = _safe(esl.speak_arg, prompt.engine, prompt.voice, prompt.text)
        self._queue_app("speak", f"%[playback_terminators={terminators}]" + arg, prompt.play_id)

    def start_speech(self, listen: StartSpeech) -> None:
        arg = _safe(esl.detect_speech_arg, listen.engine, listen.grammar, GRAMMAR_NAME)
        if self.hung_up:
            return
        self._listen, self._hearing = listen.listen_id, False
        self._send(esl.event_plain(SPEECH_EVENT), _Awaits.NOTHING, awaited=False)
        self._queue_app("set", esl.set_arg("fire_asr_events", "true"))
        self._queue_app("detect_speech", arg, listen_id=listen.listen_id)

    def stop_speech(self, listen_id: int) -> None:
        if listen_id != self._listen:
            return
        self._listen, self._hearing = None, False
        started = not any(app.listen_id == listen_id for app in self._apps)
        self._apps = deque(app for app in self._apps if app.listen_id != listen_id)
        if not self.hung_up:
            if started:
                self._queue_app("detect_speech", "stop")
            self._send(esl.nixevent(SPEECH_EVENT), _Awaits.NOTHING, awaited=False)

    def stop_playback(self, play_id: int) -> None:
        for queued in self._apps:
            if queued.play_id == play_id:
                self._apps.remove(queued)  # never sent: nothing to stop
                return
        app = self._in_flight
        if app is None or app.play_id != play_id or app.break_sent:
            return
        if self._completion_received(app):
            self.stop_already_done = True
        elif not self.hung_up:  # a hangup ends the prompt anyway
            app.break_sent = True
            self._send(esl.execute("break", "all", event_uuid=self._next_event_uuid()), _Awaits.NOTHING, awaited=False)

    def _completion_received(self, app: _App) -> bool:
        """Whether the app's CHANNEL_EXECUTE_COMPLETE came in the frames not yet handled."""
        return any(
            isinstance(frame, EslEvent) and frame.name == "CHANNEL_EXECUTE_COMPLETE"
            and frame.get("Application-UUID") == app.event_uuid
            for _, frame in self._frames
        )

    def set_variable(self, name: str, value: str) -> None:
        arg = _safe(functools.partial(esl.export_arg, allowed=self.settings.allowed_variables), name, value)
        self._queue_app("export", arg)

    def set_caller_id(self, field: Literal["number", "name"], value: str) -> None:
        self._queue_app("set", _safe(esl.set_arg, f"effective_caller_id_{field}", value))

    def transfer(
        self, destinations: tuple[str, ...], kind: Literal["transfer", "simple_transfer"], ring_timeout: int | None = None
    ) -> None:
        if len(destinations) == 1 and ring_timeout is None:
            if kind == "simple_transfer":
                context = self.settings.simple_transfer_context
            else:
                context = self.settings.transfer_context or self._caller_context
            arg = _safe(esl.transfer_arg, destinations[0], context)
            if not self.settings.exit_after_transfer and not self.hung_up:
                self._watch_target()
            self._queue_app("transfer", arg, transfer=True)
            return
        # Ring every destination at once; continue_on_fail makes bridge return
        # on failure, so the engine learns the result instead of the dialplan.
        ring = None if ring_timeout is None else {"originate_timeout": str(ring_timeout)}
        uuids = [str(uuid.uuid4()) for _ in destinations]
        build = functools.partial(esl.bridge_arg, variables=ring, leg_uuids=uuids)
        bridge = _safe(build, self.settings.bridge_template, destinations)
        self._queue_app("set", esl.set_arg("continue_on_fail", "true"))
        self._queue_app("set", esl.set_arg("hangup_after_bridge", "false"))
        self._queue_app("bridge", bridge, transfer=True, legs=tuple(zip(uuids, destinations)))

    def record_message(self, job: int, path: Path, max_seconds: int, silence_threshold: int, silence_seconds: int) -> None:
        build = functools.partial(esl.record_arg, max_seconds=max_seconds, silence_threshold=silence_threshold, silence_seconds=silence_seconds)
        self._queue_app("record", _safe(build, str(path)), record_job=job)

    def hang_up(self, cause: str) -> None:
        self._apps.clear()
        if not self.hung_up:
            command = _safe(esl.hangup, cause)
            self.hung_up = True
            self._send(command, _Awaits.NOTHING, awaited=False)

    def finished(self) -> None:
        self.done = True

    def exit(self) -> None:
        """Give the channel back to the dialplan (after the call, or for a call not ours)."""
        if not self.exited:
            self.exited = True
            self._send(esl.exit_(), _Awaits.EXIT)

    @property
    def exit_acknowledged(self) -> bool:
        return self.exited and not any(e.awaits is _Awaits.EXIT for e in self._expected)

    # --- after a transfer: letting go once the target is safe -------------------

    def _watch_target(self) -> None:
        assert self.channel is not None
        self._watch = TargetWatch(self.settings.release_quiet_time, self.clock(), resume_set(self.channel.headers))
        if WATCH_SUBSCRIPTION:
            # Sent with the transfer, so the target's first events already come.
            self._send(esl.event_plain(*WATCH_SUBSCRIPTION), _Awaits.SUBSCRIBE)

    def release_deadline(self) -> float | None:
        """When a held transferred call is due for its current_application check."""
        if self._watch is None or not self.transferred or self.released or self.exited or self.hung_up:
            return None
        return self._watch.check_due()

    def check_release(self, now: float) -> None:
        """Send the check if it is due: its answer decides whether the socket goes."""
        due = self.release_deadline()
        if due is None or due > now:
            return
        assert self._watch is not None
        self._watch.checking()
        self._send(esl.uuid_getvar(self.call_id, "current_application"), _Awaits.CHECK)

    def hold_reason(self) -> str | None:
        """Why a held transferred call cannot be let go now (None: it can, once quiet)."""
        if self._watch is None:
            return "the target is not watched"
        return self._watch.holds_because()

    def _release_reply(self, awaits: _Awaits, frame: Frame | None) -> None:
        watch = self._watch
        assert watch is not None
        if awaits is _Awaits.SUBSCRIBE:
            if frame is None or not isinstance(frame, Reply) or not frame.ok:
                log.warning("could not subscribe to the park events (%r): the transferred call is held until it hangs up",
                            frame, extra={"call": self.call_id})
                watch.blind = True
            return
        answer = frame.body.strip() if isinstance(frame, ApiResponse) else ""
        if not answer or answer == "_undef_" or answer.startswith("-ERR"):
            watch.check_lost(self.clock())
        elif watch.checked(answer):
            log.info("transfer target runs %s: letting the socket go", answer, extra={"call": self.call_id})
            self.released = self._released_by_check = True

    def _queue_app(
        self, name: str, arg: str | None, play_id: int | None = None, transfer: bool = False, listen_id: int | None = None,
        legs: tuple[tuple[str, str], ...] = (), record_job: int | None = None,
    ) -> None:
        if self.hung_up:
            return
        self._apps.append(_App(name, arg, self._next_event_uuid(), play_id, transfer, listen_id, legs=legs, record_job=record_job))
        self._send_next_app()

    def _next_event_uuid(self) -> str:
        self._app_count += 1
        # Unique on this channel, which is all Application-UUID matching needs: one random
        # prefix per call and a counter, instead of a fresh uuid4 (a getrandom call) per command.
        return f"{self._uuid_prefix}{self._app_count:04x}"

    def _send_next_app(self) -> None:
        in_flight = self._in_flight
        if in_flight is not None and in_flight.name != "answer" or not self._apps or self.hung_up:
            return
        app = self._apps.popleft()
        self._in_flight = app
        app.sent_at = self.clock()
        # answer goes with event-lock: what is queued behind it runs after it, never inside it, so
        # the first prompt goes in the same write and starts in the answer's frame (its completion,
        # with the answer's Application-UUID, is then nobody's).
        command = esl.execute(app.name, app.arg, event_uuid=app.event_uuid, event_lock=app.name == "answer")
        self._send(command, _Awaits.APP, app)


def _uuid_prefix() -> str:
    """A call's Application-UUIDs but their last four digits: UUID-shaped, random.

    Unique on the channel is all matching needs, so the process's own generator serves:
    uuid4 costs a getrandom system call and a UUID object per call.
    """
    digits = f"{random.getrandbits(112):028x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _recorded(job: int, event: EslEvent, at: float) -> MessageRecorded:
    """The record app's end: it sets record_ms once the file is closed, also after a hangup (switch_ivr_record_file)."""
    milliseconds = event.get("variable_record_ms") or ""
    if not milliseconds.isdigit():
        return MessageRecorded(at, job, error=clip_text(f"the switch recorded nothing ({event.get('Application-Response') or 'no record_ms'})"))
    return MessageRecorded(at, job, int(milliseconds) / 1000.0)


class ChannelVariables(Mapping[str, str]):
    """The channel's variables (`variable_<name>` headers of the connect reply), read on demand."""

    __slots__ = ("_headers",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers

    def __getitem__(self, name: str) -> str:
        return self._headers["variable_" + name]

    def __iter__(self) -> Iterator[str]:
        return (name[9:] for name in self._headers if name.startswith("variable_"))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _safe(build: Callable[..., _T], *args: object) -> _T:
    try:
        return build(*args)
    except ValueError as exc:
        raise UnsafeValue(str(exc)) from exc


@functools.lru_cache(maxsize=8)
def _handshake(linger_seconds: int) -> bytes:
    """The same four commands open every call: built and checked once."""
    return esl.connect() + esl.myevents() + esl.nixevent(*UNUSED_EVENTS) + esl.linger(linger_seconds)


@functools.lru_cache(maxsize=4096)
def _playable_path(sound_dir: Path, filename: str) -> str:
    # Resolving costs a few system calls; a prompt's path is checked once, not per call.
    return str(sound_path(sound_dir, filename))
