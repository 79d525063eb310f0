"""Drive one FreeSWITCH call with the engine: switch events in, `sendmsg` out.

One greenlet per call reads an inbox (frames, timer expiries, connection
loss), feeds the engine and carries out its commands. Applications run one at
a time: the next is sent only when the previous one's CHANNEL_EXECUTE_COMPLETE
with our `Event-UUID` has arrived, so nothing runs nested. DTMF events are
delivered to the engine whenever FreeSWITCH dequeues them, parked between
commands included, so keys typed ahead are kept.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gevent
import gevent.queue

from ..config.model import Menu
from ..config.sound_files import sound_path
from ..engine import (
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
    StartTimer,
    StopPlayback,
    SwitchFailed,
    Timer,
    TimerFired,
    Transfer,
    TransferFinished,
)
from . import commands as esl
from .connection import CommandTimeout, ConnectionLost, EslConnection
from .frames import ChannelData, DisconnectNotice, Event, Frame, Reply

log = logging.getLogger("ivrflow.call")

PLAYBACK_FAILURES = frozenset({"FILE NOT FOUND", "PLAYBACK ERROR"})


@dataclass(frozen=True, slots=True)
class SwitchSettings:
    """How engine commands become FreeSWITCH applications."""

    sound_dir: Path
    transfer_context: str | None = None  # None: the caller's own dialplan context
    simple_transfer_context: str = "ivrflow-simple-transfer"
    bridge_template: str = "user/{number}"
    linger_seconds: int = 30
    command_timeout: float = 5.0  # a command/reply
    teardown_timeout: float = 10.0  # from our hangup/transfer to the switch letting go
    idle_timeout: float = 4 * 3600.0  # nothing at all from the switch for this long: the call is lost


class CallObserver(Protocol):
    def call_rejected(self, reason: str) -> None: ...

    def call_started(self, info: CallInfo) -> None: ...

    def outputs(self, info: CallInfo, outputs: list[Output], caused_by: EngineEvent) -> None: ...

    def command_timed(self, command: str, seconds: float) -> None: ...

    def call_finished(self, info: CallInfo, record: CallRecord) -> None: ...


@dataclass(slots=True)
class CallInfo:
    """What the switch told us about the call, for records and logs."""

    channel_uuid: str
    ivr: str
    caller_number: str
    caller_name: str
    destination: str
    started_wall: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class _Closed:
    reason: str


@dataclass(frozen=True, slots=True)
class _Expired:
    timer: Timer


@dataclass(slots=True)
class _App:
    name: str
    arg: str | None
    event_uuid: str
    play_id: int | None = None
    transfer: bool = False
    executing: bool = False
    break_when_executing: bool = False


class Rejected(Exception):
    """A connection that is not ours to serve; it goes back to the dialplan."""


class CallSession:
    """The life of one outbound connection, from `connect` to the socket closing."""

    def __init__(
        self,
        sock: socket.socket,
        address: Any,
        menu: Callable[[], Menu],
        settings: SwitchSettings,
        observer: CallObserver,
    ) -> None:
        self._menu_source = menu
        self.settings = settings
        self.observer = observer
        self.inbox: gevent.queue.Queue[Frame | _Closed | _Expired] = gevent.queue.Queue()
        self.conn = EslConnection(sock, address, self.inbox.put, lambda why: self.inbox.put(_Closed(why)))
        self.info: CallInfo | None = None
        self.call: Call | None = None
        self._apps: deque[_App] = deque()  # [0] is in flight once sent
        self._in_flight: _App | None = None
        self._timers: dict[Timer, Any] = {}
        self._hung_up = False
        self._released = False
        self._done = False  # the engine has finished; we are letting the switch go

    # --- lifecycle ----------------------------------------------------------

    def run(self) -> None:
        try:
            self._start()
            while not self._done:
                self._handle(self._next_item())
            self._let_go()
        except Rejected as exc:
            self.observer.call_rejected(str(exc))
            self._hand_back(str(exc))
        except (ConnectionLost, CommandTimeout) as exc:
            self._lost(str(exc))
        finally:
            for watcher in self._timers.values():
                watcher.close()
            self._timers.clear()
            self.conn.close()

    def _start(self) -> None:
        data = self.conn.command(esl.connect(), self.settings.command_timeout)
        if not isinstance(data, ChannelData):
            raise Rejected(f"connect answered {data!r}")
        headers = data.headers
        self.conn.call_id = data.unique_id
        mode, control = headers.get("Socket-Mode", ""), headers.get("Control", "")
        if mode != "async" or control != "full":
            raise Rejected(
                f"socket opened as '{mode} {control}'; the dialplan must say 'socket HOST:PORT async full'"
            )
        self._expect_ok(self.conn.command(esl.myevents(), self.settings.command_timeout), "myevents")
        self._expect_ok(self.conn.command(esl.linger(self.settings.linger_seconds), self.settings.command_timeout), "linger")
        menu = self._menu_source()
        extension = headers.get("variable_ivr_extension") or headers.get("Caller-Destination-Number", "")
        ivr = menu.ivr_for(extension)
        if ivr is None:
            raise Rejected(f"no active ivr for extension {extension!r}")
        self.info = CallInfo(
            channel_uuid=data.unique_id,
            ivr=ivr.extension,
            caller_number=headers.get("Caller-Caller-ID-Number", ""),
            caller_name=headers.get("Caller-Caller-ID-Name", ""),
            destination=headers.get("Caller-Destination-Number", ""),
        )
        self._caller_context = headers.get("Caller-Context", "default")
        self.call = Call(menu, ivr)
        self.observer.call_started(self.info)
        variables = {k.removeprefix("variable_"): v for k, v in headers.items() if k.startswith("variable_")}
        self._feed(CallStarted(time.monotonic(), variables))

    def _next_item(self) -> Frame | _Closed | _Expired:
        try:
            return self.inbox.get(timeout=self.settings.idle_timeout)
        except gevent.queue.Empty:
            raise ConnectionLost(f"nothing from the switch for {self.settings.idle_timeout} s") from None

    def _expect_ok(self, reply: object, what: str) -> None:
        if not isinstance(reply, Reply) or not reply.ok:
            raise Rejected(f"{what} refused: {getattr(reply, 'text', reply)!r}")

    # --- switch -> engine ---------------------------------------------------

    def _handle(self, item: Frame | _Closed | _Expired) -> None:
        self._note_release(item)
        if isinstance(item, _Expired):
            watcher = self._timers.pop(item.timer, None)
            if watcher is not None:
                watcher.close()
                self._feed(TimerFired(time.monotonic(), item.timer))
        elif isinstance(item, _Closed):
            self._caller_gone(f"connection closed: {item.reason}")
            self._done = True
        elif isinstance(item, DisconnectNotice):
            self._caller_gone("switch sent a disconnect notice")
            if not item.is_linger:
                self._done = True
        elif isinstance(item, Event):
            self._on_event(item)

    def _on_event(self, event: Event) -> None:
        name = event.name
        if name == "CHANNEL_EXECUTE":
            self._on_execute(event)
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            self._on_execute_complete(event)
        elif name == "DTMF":
            digit = event.get("DTMF-Digit", "")
            try:
                self._feed(DtmfReceived(time.monotonic(), digit))
            except ValueError:
                log.warning("call=%s ignored DTMF %r", self.conn.call_id, digit)
        elif name == "CHANNEL_HANGUP":
            self._caller_gone(event.get("Hangup-Cause") or "NORMAL_CLEARING")

    def _on_execute(self, event: Event) -> None:
        app = self._in_flight
        if app is None or event.get("Application-UUID") != app.event_uuid:
            return
        app.executing = True
        if app.break_when_executing:
            self._break()

    def _on_execute_complete(self, event: Event) -> None:
        app = self._in_flight
        if app is None or event.get("Application-UUID") != app.event_uuid:
            return
        self._in_flight = None
        response = event.get("Application-Response") or ""
        if app.play_id is not None:
            error = response if response in PLAYBACK_FAILURES and not self._hung_up else None
            self._feed(PlaybackFinished(time.monotonic(), app.play_id, error))
        elif app.transfer:
            self._transfer_complete(app, event)
        self._send_next_app()

    def _transfer_complete(self, app: _App, event: Event) -> None:
        if app.name == "transfer":
            self._feed(TransferFinished(time.monotonic(), True))
            return
        cause = event.get("variable_originate_disposition") or event.get("variable_DIALSTATUS") or ""
        answered = cause == "SUCCESS" or event.get("variable_bridge_hangup_cause") is not None
        self._feed(TransferFinished(time.monotonic(), answered, cause or "bridge failed"))
        if answered:
            self.conn.send_only(esl.hangup("NORMAL_CLEARING"))

    def _caller_gone(self, cause: str) -> None:
        if self._hung_up or self.call is None:
            return
        self._hung_up = True
        self._feed(CallerHungUp(time.monotonic(), cause))

    # --- engine -> switch ---------------------------------------------------

    def _feed(self, event: EngineEvent) -> None:
        assert self.call is not None and self.info is not None
        outputs = self.call.handle(event)
        if outputs:
            self.observer.outputs(self.info, outputs, event)
        for output in outputs:
            self._carry_out(output)

    def _carry_out(self, output: Output) -> None:
        match output:
            case StartTimer(timer=timer, seconds=seconds):
                watcher = gevent.get_hub().loop.timer(seconds)
                watcher.start(self.inbox.put, _Expired(timer))
                self._timers[timer] = watcher
            case CancelTimer(timer=timer):
                watcher = self._timers.pop(timer, None)
                if watcher is not None:
                    watcher.close()
            case Answer():
                self._queue_app("answer", None)
            case Play(play_id=play_id, filename=filename, interruptible=interruptible):
                path = str(sound_path(self.settings.sound_dir, filename))
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
                    self.conn.send_only(esl.hangup(cause))
                    self._hung_up = True
            case CallFinished(record=record):
                assert self.info is not None
                self.observer.call_finished(self.info, record)
                self._done = True

    def _transfer(self, destinations: tuple[str, ...], kind: str) -> None:
        if len(destinations) == 1:
            context = (
                self.settings.simple_transfer_context
                if kind == "simple_transfer"
                else self.settings.transfer_context or self._caller_context
            )
            self._queue_app("transfer", esl.transfer_arg(destinations[0], context), transfer=True)
            return
        self._queue_app("set", esl.set_arg("continue_on_fail", "true"))
        self._queue_app("set", esl.set_arg("hangup_after_bridge", "false"))
        self._queue_app("bridge", esl.bridge_arg(self.settings.bridge_template, destinations), transfer=True)

    def _queue_app(self, name: str, arg: str | None, play_id: int | None = None, transfer: bool = False) -> None:
        if self._hung_up:
            return
        self._apps.append(_App(name, arg, str(uuid.uuid4()), play_id, transfer))
        self._send_next_app()

    def _send_next_app(self) -> None:
        if self._in_flight is not None or not self._apps or self._hung_up:
            return
        app = self._apps.popleft()
        self._in_flight = app
        started = time.monotonic()
        reply = self.conn.command(esl.execute(app.name, app.arg, event_uuid=app.event_uuid), self.settings.command_timeout)
        self.observer.command_timed(app.name, time.monotonic() - started)
        if not isinstance(reply, Reply) or not reply.ok:
            self._in_flight = None
            self._feed(SwitchFailed(time.monotonic(), f"{app.name} refused: {getattr(reply, 'text', reply)!r}"))

    def _stop_playback(self, play_id: int) -> None:
        for queued in list(self._apps):
            if queued.play_id == play_id:
                self._apps.remove(queued)  # never sent: nothing to stop
                return
        app = self._in_flight
        if app is None or app.play_id != play_id:
            return
        if app.executing:
            self._break()
        else:
            # A break before the app starts is cleared when it starts; wait for CHANNEL_EXECUTE.
            app.break_when_executing = True

    def _break(self) -> None:
        assert self.info is not None
        self.conn.send_only(esl.uuid_break(self.info.channel_uuid))

    # --- the end --------------------------------------------------------------

    def _let_go(self) -> None:
        """Wait (bounded) until the switch is done with the socket, then exit."""
        deadline = time.monotonic() + self.settings.teardown_timeout
        while self.conn.closed_reason is None and not self._released:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                item = self.inbox.get(timeout=remaining)
            except gevent.queue.Empty:
                break
            self._note_release(item)
        if self.conn.closed_reason is None:
            try:
                self.conn.command(esl.exit_(), self.settings.command_timeout)
            except (ConnectionLost, CommandTimeout):
                pass

    def _note_release(self, item: Frame | _Closed | _Expired) -> None:
        """Whether the switch is done with the channel: hung up, or gone to its transfer target."""
        if isinstance(item, (DisconnectNotice, _Closed)):
            self._released = True
        elif isinstance(item, Event) and (
            item.name == "CHANNEL_HANGUP_COMPLETE"
            or item.name == "CHANNEL_EXECUTE_COMPLETE" and item.get("Application") == "socket"
        ):
            self._released = True

    def _hand_back(self, reason: str) -> None:
        log.warning("call=%s handed back to the dialplan: %s", self.conn.call_id, reason)
        try:
            self.conn.command(esl.exit_(), self.settings.command_timeout)
        except (ConnectionLost, CommandTimeout):
            pass

    def _lost(self, reason: str) -> None:
        log.warning("call=%s connection lost: %s", self.conn.call_id, reason)
        if self.call is not None and self.call.record is None:
            self._hung_up = True
            self._feed(CallerHungUp(time.monotonic(), f"connection lost: {reason}"))


def _terminators(interruptible: bool) -> str:
    return "any" if interruptible else "none"

