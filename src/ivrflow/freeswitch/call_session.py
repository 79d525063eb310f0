"""Drive one FreeSWITCH call with the engine: switch events in, `sendmsg` out.

One greenlet per call reads the socket, fires the engine's timers (as the
timeout of that read) and takes shutdown requests; it feeds the engine and
carries out its commands.
Applications run one at a time: the next is sent only when the previous one's
CHANNEL_EXECUTE_COMPLETE with our `Event-UUID` has arrived, so nothing runs
nested and completions are never matched by application name. DTMF events
reach the engine whenever FreeSWITCH dequeues them, while parked between
commands too, so keys typed ahead are kept.

Every wait is bounded: replies by `command_timeout`, silence from the switch by
`idle_timeout`, the switch letting go of the channel by `teardown_timeout`.
A hangup, a disconnect notice, EOF or a socket error ends the call at once.
"""

from __future__ import annotations

import functools
import heapq
import logging
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gevent

from ..menu.model import Menu
from ..menu.sound_paths import sound_path
from ..engine import (
    PROGRESS_TYPES,
    Answer,
    Call,
    CallerHungUp,
    CallFinished,
    CallRecord,
    CallStarted,
    CancelTimer,
    DtmfReceived,
    Event as EngineEvent,
    Hangup,
    Output,
    Play,
    PlaybackFinished,
    PlaySilence,
    SayDigits,
    SetCallerId,
    SetVariable,
    ShutdownRequested,
    StartTimer,
    StopPlayback,
    SwitchFailed,
    Timer,
    TimerFired,
    Transfer,
    TransferFinished,
)
from ..logs import for_call
from . import builders as esl
from .connection import CommandTimeout, ConnectionLost, EslConnection, ReplyFrame
from .frames import ChannelData, DisconnectNotice, EslEvent, Frame, Reply

log = logging.getLogger("ivrflow.call")

PLAYBACK_FAILURES = frozenset({"FILE NOT FOUND", "PLAYBACK ERROR"})

# `myevents` subscribes to these too, but a call needs none of them: it lives on
# CHANNEL_EXECUTE(_COMPLETE), DTMF, CHANNEL_HANGUP(_COMPLETE) and the disconnect
# notices. Each event carries every channel variable (kilobytes); not receiving
# a third of them saves the switch's work and ours.
UNUSED_EVENTS = (
    "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_DATA", "CHANNEL_ORIGINATE",
    "CHANNEL_UUID", "TALK", "NOTALK", "DETECTED_SPEECH",
)


@dataclass(frozen=True, slots=True)
class SwitchSettings:
    """How engine commands become FreeSWITCH applications, and how long to wait for the switch."""

    sound_dir: Path
    transfer_context: str = ""  # empty: the caller's own dialplan context
    simple_transfer_context: str = "ivrflow-simple-transfer"
    bridge_template: str = "user/{number}"
    # After a transfer, say `exit` as soon as the channel has left the socket (releasing it
    # at once), or hold the socket until the channel hangs up. `exit` clears FreeSWITCH's
    # control flag, which knocks out a `park` or a new `socket` in the target extension,
    # so holding is the default; exit is safe when no transfer target parks or runs socket.
    exit_after_transfer: bool = False
    linger_seconds: int = 30
    command_timeout: float = 5.0
    teardown_timeout: float = 10.0
    idle_timeout: float = 4 * 3600.0


@dataclass(slots=True)
class CallInfo:
    """What the switch told us about the call, for records and logs."""

    channel_uuid: str
    ivr: str
    caller_number: str
    caller_name: str
    destination: str
    started_wall: float = field(default_factory=time.time)


class CallObserver(Protocol):
    def call_rejected(self, reason: str, message: str) -> None: ...

    def call_started(self, info: CallInfo) -> None: ...

    def outputs(self, info: CallInfo, outputs: list[Output]) -> None: ...

    def dtmf_handled(self, seconds: float) -> None: ...

    def command_timed(self, command: str, seconds: float) -> None: ...

    def error(self, kind: str) -> None: ...

    def call_finished(self, info: CallInfo, record: CallRecord) -> None: ...


class Rejected(Exception):
    """A connection that is not ours to serve; it goes back to the dialplan."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # a bounded code, for metrics


class _Wakeup(Exception):
    """Thrown into a call's greenlet idle in a read, when it is asked to shut down."""


@dataclass(slots=True)
class _App:
    name: str
    arg: str | None
    event_uuid: str
    play_id: int | None = None
    transfer: bool = False
    executing: bool = False
    break_when_executing: bool = False


class CallSession:
    """The life of one outbound connection, from `connect` until the socket closes."""

    def __init__(
        self,
        sock: socket.socket,
        address: Any,
        menu: Callable[[], Menu],
        settings: SwitchSettings,
        observer: CallObserver,
        left_menu: Callable[[CallSession], None] = lambda session: None,
    ) -> None:
        self._menu_source = menu
        self._left_menu = left_menu
        self.settings = settings
        self.observer = observer
        # Not a bound method: a connection referring back to its session would make a cycle,
        # which only the cyclic collector frees, in pauses that stall every call.
        self.conn = EslConnection(sock, address, lambda reason: observer.error("malformed_frame"))
        self._frames: deque[tuple[float, Frame]] = deque()  # read, not yet handled
        self._greenlet: gevent.Greenlet | None = None
        self._idle = False  # blocked in a read with nothing else to do
        self._shutdown: str | None = None
        self.log: logging.LoggerAdapter[logging.Logger] = for_call(log, "-")
        self.info: CallInfo | None = None
        self.call: Call | None = None
        self._caller_context = "default"
        self._apps: deque[_App] = deque()
        self._uuid_prefix = str(uuid.uuid4())[:-4]
        self._app_count = 0
        self._in_flight: _App | None = None
        self._timers = TimerHeap()
        self._writes = 0
        self._hung_up = False  # by the caller, or by our own hangup command
        self._released = False  # the switch is done with the channel
        self._transferred = False  # the channel left for a transfer target
        self._done = False  # the engine has finished; only letting go remains

    def shutdown(self, reason: str) -> None:
        """Ask the call to hang up now (from any greenlet)."""
        self._shutdown = reason
        gevent.get_hub().loop.run_callback(self._wake)

    def _wake(self) -> None:
        # Runs in the hub; only a read is interrupted, never a half-done write.
        if self._idle and self._greenlet is not None:
            self._greenlet.throw(_Wakeup)

    # --- lifecycle ----------------------------------------------------------

    def run(self) -> None:
        self._greenlet = gevent.getcurrent()
        try:
            self._start()
            while not self._done:
                self._step()
            self._let_go()
        except Rejected as exc:
            self.observer.call_rejected(exc.reason, str(exc))
            self._hand_back()
        except (ConnectionLost, CommandTimeout) as exc:
            self.observer.error("connection_lost" if isinstance(exc, ConnectionLost) else "command_timeout")
            self._end_unexpectedly(CallerHungUp(time.monotonic(), f"connection lost: {exc}"))
        except Exception:
            self.log.exception("call failed")
            self.observer.error("internal")
            self._end_unexpectedly(SwitchFailed(time.monotonic(), "internal error"))
        finally:
            self.conn.close()
            self._greenlet = None

    def _start(self) -> None:
        # The handshake in one write: one round trip instead of four. (Were the socket
        # not `async full`, nixevent and linger get -ERR and the call is handed back.)
        handshake = _handshake(self.settings.linger_seconds)
        try:
            data, events_reply, nix_reply, linger_reply = self._commands(handshake)
        except (ConnectionLost, CommandTimeout) as exc:
            raise Rejected("handshake_failed", f"handshake: {exc}") from exc
        if not isinstance(data, ChannelData):
            raise Rejected("handshake_failed", f"connect answered {data!r}")
        headers = data.headers
        self.conn.call_id = data.unique_id
        self.log = for_call(log, data.unique_id)
        mode, control = headers.get("Socket-Mode", ""), headers.get("Control", "")
        if (mode, control) != ("async", "full"):
            raise Rejected(
                "not_async_full",
                f"socket opened as '{mode} {control}'; the dialplan must say 'socket HOST:PORT async full'",
            )
        self._expect_ok("myevents", events_reply)
        self._expect_ok("nixevent", nix_reply)
        self._expect_ok("linger", linger_reply)
        menu = self._menu_source()
        extension = headers.get("variable_ivr_extension") or headers.get("Caller-Destination-Number", "")
        ivr = menu.ivr_for(extension)
        if ivr is None:
            raise Rejected("no_ivr", f"no active ivr for extension {extension!r}")
        self.info = CallInfo(
            channel_uuid=data.unique_id,
            ivr=ivr.extension,
            caller_number=headers.get("Caller-Caller-ID-Number", ""),
            caller_name=headers.get("Caller-Caller-ID-Name", ""),
            destination=headers.get("Caller-Destination-Number", ""),
        )
        self._caller_context = headers.get("Caller-Context") or "default"
        self.call = Call(menu, ivr)  # the call keeps this menu even if a reload swaps it
        self.observer.call_started(self.info)
        self._feed(CallStarted(time.monotonic(), ChannelVariables(headers)))

    def _expect_ok(self, what: str, reply: object) -> None:
        if not isinstance(reply, Reply) or not reply.ok:
            raise Rejected("handshake_failed", f"{what} refused: {getattr(reply, 'text', reply)!r}")

    # --- reading --------------------------------------------------------------

    def _step(self) -> None:
        """Handle one thing: a frame already read, a shutdown, due timers, or else wait for the switch."""
        if self._frames:
            at, frame = self._frames.popleft()
            self._handle(frame, at)
        elif self._shutdown is not None:
            reason, self._shutdown = self._shutdown, None
            self._feed(ShutdownRequested(time.monotonic(), reason))
        elif self._timers.due(time.monotonic()):
            for timer in self._timers.pop_due(time.monotonic()):
                self._feed(TimerFired(time.monotonic(), timer))
        else:
            wait = min(self._timers.next_in(time.monotonic()), self.settings.idle_timeout)
            if not self._read(wait) and wait == self.settings.idle_timeout and self._shutdown is None:
                raise ConnectionLost(f"nothing from the switch for {self.settings.idle_timeout} s")

    def _read(self, timeout: float) -> bool:
        """Read what the switch sends within `timeout`, interruptible by shutdown; whether anything came."""
        self._idle = True
        try:
            frames = self.conn.read(max(timeout, 0.0))
        except _Wakeup:
            return False
        finally:
            self._idle = False
        if frames is None:
            return False
        at = time.monotonic()
        self._frames.extend((at, frame) for frame in frames)
        return True

    def _commands(self, commands: list[bytes]) -> list[ReplyFrame]:
        """Send commands in one write and wait for their replies; events meanwhile are kept for later.

        FreeSWITCH reads commands one after another from the socket, so sending
        several at once saves a round trip per command.
        """
        self._writes += 1
        self.conn.write(b"".join(commands), replies=len(commands))
        deadline = time.monotonic() + self.settings.command_timeout
        while len(self.conn.replies) < len(commands):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                first_line = commands[len(self.conn.replies)].split(b"\n", 1)[0]
                raise CommandTimeout(f"no reply within {self.settings.command_timeout} s to {first_line!r}")
            frames = self.conn.read(remaining)
            if frames:
                at = time.monotonic()
                self._frames.extend((at, frame) for frame in frames)
        return [self.conn.replies.popleft() for _ in commands]

    # --- switch -> engine ---------------------------------------------------

    def _handle(self, frame: Frame, at: float) -> None:
        self._note_release(frame)
        if isinstance(frame, EslEvent):
            self._on_event(frame, at)
        elif isinstance(frame, DisconnectNotice):
            self._caller_gone(at, "disconnect notice")
            self._done = self._done or not frame.is_linger

    def _on_event(self, event: EslEvent, at: float) -> None:
        name = event.name
        if name == "CHANNEL_EXECUTE":
            self._on_execute(event)
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            self._on_execute_complete(event, at)
        elif name == "DTMF":
            self._on_dtmf(event.get("DTMF-Digit") or "", at)
        elif name == "CHANNEL_HANGUP":
            self._caller_gone(at, event.get("Hangup-Cause") or "NORMAL_CLEARING")

    def _on_dtmf(self, digit: str, at: float) -> None:
        try:
            event = DtmfReceived(at, digit)
        except ValueError:
            self.log.warning("ignored a DTMF event with digit %r", digit)
            self.observer.error("bad_dtmf")
            return
        writes = self._writes
        self._feed(event)
        if self._writes != writes:
            self.observer.dtmf_handled(time.monotonic() - at)

    def _on_execute(self, event: EslEvent) -> None:
        app = self._in_flight
        if app is None or event.get("Application-UUID") != app.event_uuid:
            return
        app.executing = True
        if app.break_when_executing:
            self._break()

    def _on_execute_complete(self, event: EslEvent, at: float) -> None:
        app = self._in_flight
        if app is None or event.get("Application-UUID") != app.event_uuid:
            return
        self._in_flight = None
        response = event.get("Application-Response") or ""
        if app.play_id is not None:
            failed = response in PLAYBACK_FAILURES and not self._hung_up
            self._feed(PlaybackFinished(at, app.play_id, response if failed else None))
        elif app.transfer:
            self._transfer_complete(app, event, at)
        self._send_next_app()

    def _transfer_complete(self, app: _App, event: EslEvent, at: float) -> None:
        if app.name == "transfer":
            self._transferred = True
            self._feed(TransferFinished(at, True))
            return
        disposition = event.get("variable_originate_disposition") or ""
        answered = disposition in ("SUCCESS", "ANSWER")
        self._feed(TransferFinished(at, answered, disposition or "bridge failed"))
        if answered:  # the bridged conversation is over; end the caller's leg too
            self._send_only(esl.hangup("NORMAL_CLEARING"))
            self._hung_up = True

    def _caller_gone(self, at: float, cause: str) -> None:
        if self._hung_up or self.call is None:
            return
        self._hung_up = True
        self._feed(CallerHungUp(at, cause))

    def _note_release(self, frame: Frame) -> None:
        """Whether the switch is done with the channel: hung up, or gone to its transfer target."""
        if isinstance(frame, DisconnectNotice) or isinstance(frame, EslEvent) and (
            frame.name == "CHANNEL_HANGUP_COMPLETE"
            or frame.name == "CHANNEL_EXECUTE_COMPLETE"
            and frame.get("Application") == "socket"
            and self.settings.exit_after_transfer
        ):
            self._released = True

    # --- engine -> switch ---------------------------------------------------

    def _feed(self, event: EngineEvent) -> None:
        assert self.call is not None and self.info is not None
        outputs = self.call.handle(event)
        if outputs:
            self.observer.outputs(self.info, outputs)
        for output in outputs:
            if isinstance(output, PROGRESS_TYPES):
                continue
            try:
                self._carry_out(output)
            except ValueError as exc:  # esl.UnsafeArgument, or a sound path leaving the sound directory
                # Config checks should make this unreachable; never send it, end the call instead.
                self.log.error("refused to send %r: %s", output, exc)
                self.observer.error("unsafe_argument")
                self._feed(SwitchFailed(time.monotonic(), f"unsafe argument: {exc}"))

    def _carry_out(self, output: Output) -> None:
        match output:
            case StartTimer(timer=timer, seconds=seconds):
                self._timers.start(timer, time.monotonic() + seconds)
            case CancelTimer(timer=timer):
                self._timers.cancel(timer)
            case Answer():
                self._queue_app("answer", None)
            case Play(play_id=play_id, filename=filename, interruptible=interruptible):
                path = _playable_path(self.settings.sound_dir, filename)
                self._queue_app("playback", esl.playback_arg(path, terminators=_terminators(interruptible)), play_id)
            case PlaySilence(play_id=play_id, milliseconds=ms, interruptible=interruptible):
                arg = esl.playback_arg(esl.silence_arg(ms), terminators=_terminators(interruptible))
                self._queue_app("playback", arg, play_id)
            case SayDigits(play_id=play_id, digits=digits, method=method, interruptible=interruptible):
                arg = f"%[playback_terminators={_terminators(interruptible)}]" + esl.say_digits_arg(digits, method=method)
                self._queue_app("say", arg, play_id)
            case StopPlayback(play_id=play_id):
                self._stop_playback(play_id)
            case SetVariable(name=name, value=value):
                self._queue_app("export", esl.set_arg(name, value))
            case SetCallerId(field=which, value=value):
                self._queue_app("set", esl.set_arg(f"effective_caller_id_{which}", value))
            case Transfer(destinations=destinations, kind=kind):
                self._transfer(destinations, kind)
            case Hangup(cause=cause):
                self._apps.clear()
                if not self._hung_up:
                    self._hung_up = True
                    self._send_only(esl.hangup(cause))
            case CallFinished(record=record):
                assert self.info is not None
                self.observer.call_finished(self.info, record)
                self._done = True
                self._left_menu(self)

    def _transfer(self, destinations: tuple[str, ...], kind: str) -> None:
        if len(destinations) == 1:
            if kind == "simple_transfer":
                context = self.settings.simple_transfer_context
            else:
                context = self.settings.transfer_context or self._caller_context
            self._queue_app("transfer", esl.transfer_arg(destinations[0], context), transfer=True)
            return
        # Ring every destination at once; continue_on_fail makes bridge return
        # on failure, so the engine learns the result instead of the dialplan.
        self._queue_app("set", esl.set_arg("continue_on_fail", "true"))
        self._queue_app("set", esl.set_arg("hangup_after_bridge", "false"))
        self._queue_app("bridge", esl.bridge_arg(self.settings.bridge_template, destinations), transfer=True)

    def _queue_app(self, name: str, arg: str | None, play_id: int | None = None, transfer: bool = False) -> None:
        if self._hung_up:
            return
        self._app_count += 1
        # Unique on this channel, which is all Application-UUID matching needs: one random
        # prefix per call and a counter, instead of a fresh uuid4 (a getrandom call) per command.
        event_uuid = f"{self._uuid_prefix}{self._app_count:04x}"
        self._apps.append(_App(name, arg, event_uuid, play_id, transfer))
        self._send_next_app()

    def _send_next_app(self) -> None:
        if self._in_flight is not None or not self._apps or self._hung_up:
            return
        app = self._apps.popleft()
        self._in_flight = app
        command = esl.execute(app.name, app.arg, event_uuid=app.event_uuid)
        started = time.monotonic()
        try:
            [reply] = self._commands([command])
        except CommandTimeout as exc:
            self.observer.error("command_timeout")
            self._app_failed(f"{app.name}: {exc}")
            return
        self.observer.command_timed(app.name, time.monotonic() - started)
        if not isinstance(reply, Reply) or not reply.ok:
            self.observer.error("switch_refused")
            self._app_failed(f"{app.name} refused: {getattr(reply, 'text', reply)!r}")

    def _app_failed(self, reason: str) -> None:
        self.log.warning("switch could not run a command: %s", reason)
        self._in_flight = None
        self._feed(SwitchFailed(time.monotonic(), reason))

    def _stop_playback(self, play_id: int) -> None:
        for queued in self._apps:
            if queued.play_id == play_id:
                self._apps.remove(queued)  # never sent: nothing to stop
                return
        app = self._in_flight
        if app is None or app.play_id != play_id:
            return
        if app.executing:
            self._break()
        else:
            # A break sent before the app starts is cleared when it starts.
            app.break_when_executing = True

    def _break(self) -> None:
        assert self.info is not None
        self._send_only(esl.uuid_break(self.info.channel_uuid))

    def _send_only(self, command: bytes) -> None:
        """A command whose reply nobody waits for; a connection already gone is no error here."""
        self._writes += 1
        try:
            self.conn.write(command, awaited=False)
        except ConnectionLost:
            pass

    # --- the end --------------------------------------------------------------

    def _let_go(self) -> None:
        """Wait (bounded) until the switch is done with the channel, then say exit.

        A transferred call that is held waits until it hangs up, or until the
        switch has said nothing for `idle_timeout`; a shutdown ends the wait.
        """
        holding = self._transferred and not self.settings.exit_after_transfer
        deadline = time.monotonic() + self.settings.teardown_timeout
        try:
            while not self._released and self._shutdown is None:
                if self._frames:
                    self._note_release(self._frames.popleft()[1])
                    continue
                if holding:
                    deadline = time.monotonic() + self.settings.idle_timeout
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.log.warning("switch did not release the channel in time; exiting")
                    break
                self._read(remaining)
        except ConnectionLost:
            return  # the switch closed first: nothing left to release
        self._exit()

    def _hand_back(self) -> None:
        """Give the channel back to the dialplan, which goes on to its next action."""
        self._exit()

    def _exit(self) -> None:
        if self.conn.closed_reason is not None:
            return
        try:
            self._commands([esl.exit_()])
        except (ConnectionLost, CommandTimeout):
            pass

    def _end_unexpectedly(self, event: CallerHungUp | SwitchFailed) -> None:
        """Still record a call whose connection failed or whose handling broke."""
        if self.call is None or self.call.record is not None:
            return
        self._hung_up = self._hung_up or isinstance(event, CallerHungUp)
        try:
            self._feed(event)
        except Exception:
            self.log.exception("could not record the end of the call")


class TimerHeap:
    """The engine's timers as deadlines; the call's read waits until the nearest one.

    No event-loop timer per engine timer: an idle call costs nothing until its
    socket or its nearest deadline wakes it. A cancelled timer is forgotten
    lazily, when it reaches the top of the heap.
    """

    __slots__ = ("_heap", "_live")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._live: dict[Timer, float] = {}

    def start(self, timer: Timer, deadline: float) -> None:
        self._live[timer] = deadline
        heapq.heappush(self._heap, (deadline, timer.seq, timer))

    def cancel(self, timer: Timer) -> None:
        self._live.pop(timer, None)

    def _drop_dead(self) -> None:
        while self._heap and self._live.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)

    def next_in(self, now: float) -> float:
        self._drop_dead()
        return self._heap[0][0] - now if self._heap else float("inf")

    def due(self, now: float) -> bool:
        return self.next_in(now) <= 0

    def pop_due(self, now: float) -> list[Timer]:
        due = []
        while self.due(now):
            _, _, timer = heapq.heappop(self._heap)
            del self._live[timer]
            due.append(timer)
        return due


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


@functools.lru_cache(maxsize=8)
def _handshake(linger_seconds: int) -> list[bytes]:
    """The same four commands open every call: built and checked once."""
    return [esl.connect(), esl.myevents(), esl.nixevent(*UNUSED_EVENTS), esl.linger(linger_seconds)]


@functools.lru_cache(maxsize=4096)
def _playable_path(sound_dir: Path, filename: str) -> str:
    # Resolving costs a few system calls; a prompt's path is checked once, not per call.
    return str(sound_path(sound_dir, filename))


def _terminators(interruptible: bool) -> str:
    return "any" if interruptible else "none"
