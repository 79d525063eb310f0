"""A protocol-faithful FreeSWITCH for one outbound-socket call, on gevent.

:func:`start_call` connects to the runtime's TCP server exactly as the
``socket`` dialplan application does and plays a :class:`CallScript`; the
greenlet it returns yields a :class:`ChannelHistory` once the socket is closed.

The socket side mirrors mod_event_socket's listener: it reads commands,
answers them (``command/reply`` or ``api/response``), filters events to the
``myevents`` subscription and handles linger and the disconnect notices.  The
channel side (:mod:`.fs_session`) runs in its own greenlet in ``async`` mode,
or inline in the listener in ``static`` mode, as FreeSWITCH does.

Test support past 400 lines: the emulated channel's behaviour is kept whole, as one
reads it against mod_event_socket and the transcripts.
"""

from __future__ import annotations

import socket
import time
import uuid as uuid_mod
from collections.abc import Callable, Sequence

import gevent
import gevent.event
import gevent.lock
from gevent import select
from gevent import socket as gsocket

from . import fs_frames as writer

from .fs_apps import APPLICATIONS
from .fs_channel import Channel, default_profile, now_us
from .fs_command_reader import ClientCommand, CommandReader, ProtocolViolation
from .fs_history import ChannelHistory, ClosedBy
from .fs_script import CallScript
from .fs_session import Message, Session
from .fresh_timers import spawn_after

__all__ = ["EmulatedCall", "EventObserver", "run_call", "start_call"]

EventObserver = Callable[[str, Sequence[tuple[str, str]]], None]

# The events ``myevents`` subscribes to (mod_event_socket).
MYEVENTS = frozenset(
    {
        "CHANNEL_ANSWER",
        "CHANNEL_APPLICATION",
        "CHANNEL_BRIDGE",
        "CHANNEL_CREATE",
        "CHANNEL_DATA",
        "CHANNEL_DESTROY",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_UUID",
        "CHANNEL_OUTGOING",
        "CHANNEL_PARK",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_STATE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_UNPARK",
        "DETECTED_SPEECH",
        "DTMF",
        "NOTALK",
        "TALK",
    }
)
# Commands refused with "-ERR command not found" unless the socket has ``full``.
FULL_ONLY = frozenset({"linger", "nolinger", "api", "bgapi", "event", "nixevent", "noevents", "log", "nolog", "sendevent"})
NO_SUCH_CHANNEL = "-ERR No such channel!\n"
# "..." is mod_event_socket's other spelling of exit.
_ALIASES = {"...": "exit"}
# Wall time granted to the channel thread to wind down once the socket is closed.
_SETTLE_SECONDS = 0.05


class EmulatedCall:
    """One call: connect to ``address``, serve the runtime, record everything."""

    def __init__(self, script: CallScript, observer: EventObserver | None = None) -> None:
        self.script = script
        # Sees every event the channel fires, subscribed or not (the switch's other listeners).
        self._observer = observer
        self.record = ChannelHistory(script.unique_id)
        self._t0 = time.monotonic()
        self._sock: socket.socket | None = None
        self._write_lock = gevent.lock.Semaphore()
        self._commands = CommandReader()
        self._subscribed: set[str] = set()
        self._event_format = "plain"
        self._myevents = False
        self._linger: int | None = None
        self._lingering = False
        self._closed = False
        self._handled = 0
        self._hold_events = False
        self._held: list[tuple[bytes, bytes]] = []
        self._sock_closed = False
        self._linger_sent = False
        self._down_handled = False
        self._parked = gevent.event.Event()
        self._events_late = False
        self._channel_thread: gevent.Greenlet | None = None
        self._greenlets: list[gevent.Greenlet] = []
        self.channel = self._make_channel()
        if script.answered:
            self.channel.answer_state, self.channel.call_state = "answered", "ACTIVE"
            self.record.answered = True
        self.session = Session(script, self.channel, self.record, self, self.now, APPLICATIONS)

    # Clock -------------------------------------------------------------------

    def now(self) -> float:
        """Call time in seconds since the emulator connected."""
        return (time.monotonic() - self._t0) / self.script.time_scale

    def _later(self, call_seconds: float, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn`` at call time ``call_seconds``."""
        delay = max(call_seconds - self.now(), 0.0) * self.script.time_scale
        self._greenlets.append(spawn_after(delay, fn, *args))

    # Setup -------------------------------------------------------------------

    def _make_channel(self) -> Channel:
        s = self.script
        profile = s.profile_override or default_profile(
            unique_id=s.unique_id,
            caller_id_name=s.caller_id_name,
            caller_id_number=s.caller_id_number,
            destination_number=s.destination_number,
            context=s.context,
            channel_name=s.resolved_channel_name(),
            created_us=now_us(),
        )
        if s.variables_override is not None:
            variables = list(s.variables_override)
        else:
            variables = [
                ("direction", "inbound"),
                ("uuid", s.unique_id),
                ("channel_name", s.resolved_channel_name()),
                ("read_codec", "L16"),
                ("read_rate", "8000"),
                ("write_codec", "L16"),
                ("write_rate", "8000"),
                ("call_uuid", s.unique_id),
                *s.variables.items(),
                ("current_application_data", s.resolved_socket_app_data()),
                ("current_application", "socket"),
                ("socket_host", "127.0.0.1"),
            ]
        if s.faults.hostile_variable is not None:
            variables.append(s.faults.hostile_variable)
        return Channel(
            unique_id=s.unique_id,
            channel_name=s.resolved_channel_name(),
            profile=profile,
            variables=variables,
            host=s.host,
        )

    def run(self, address: tuple[str, int]) -> ChannelHistory:
        """Connect and serve until the socket is closed; return the record."""
        self._sock = gsocket.create_connection(address)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._t0 = time.monotonic()
        for key in self.script.key_events():
            self._later(key.t, self.session.receive_digits, key)
        for at, words in self.script.speech:
            self._later(at, self.session.receive_speech, words)
        if self.script.caller_hangup is not None:
            at, cause = self.script.caller_hangup
            self._later(at, self.session.hangup, cause, "caller")
        if self.script.socket_mode == "async":
            self._channel_thread = gevent.spawn(self.session.run_async, self._parked)
        try:
            self._serve()
        finally:
            self._shutdown()
        return self.record

    def drop_connection(self) -> None:
        """The switch's end of the socket goes away mid-call (FreeSWITCH killed, a cut link): no notice, no goodbye."""
        self._close("emulator")

    def _shutdown(self) -> None:
        self._close("app")
        self.session.release_control()
        self._parked.set()
        if self._channel_thread is not None:
            # Give the channel thread the chance to finish the call as FreeSWITCH
            # would (socket app returns, dialplan ends); a transferred call that
            # keeps playing is left as it is.
            self._channel_thread.join(timeout=max(_SETTLE_SECONDS, self.script.keep_after_close * self.script.time_scale))
            self._channel_thread.kill()
        gevent.killall(self._greenlets)

    # Reading -----------------------------------------------------------------

    def _serve(self) -> None:
        first_timeout = self.script.first_command_timeout * self.script.time_scale
        while not self._closed:
            try:
                data = self._recv(first_timeout if self._handled == 0 else None)
            except OSError:
                return
            if data is None:
                self.record.protocol_errors.append("no command within the first-command timeout")
                self._final_notice_and_close("emulator")
                return
            if not data:
                self._close("app")
                return
            try:
                commands = self._commands.feed(data)
                while commands and not self._closed:
                    for command in commands:
                        self.record.received.append((self.now(), command))
                        self._handle(command)
                        if self._closed:
                            return
                    # Like read_packet: bytes already waiting are read before any
                    # queued event is written (this shows in static mode).
                    commands = self._read_available()
            except ProtocolViolation as exc:
                self.record.protocol_errors.append(str(exc))
                self._close("emulator")
                return
            if not self._commands.pending:
                self._flush_held()
                if self.script.socket_mode == "static" and not self.channel.ready:
                    self.channel_down()

    def _read_available(self) -> list[ClientCommand]:
        assert self._sock is not None
        # poll, not select: a load of a thousand calls puts descriptors past select's 1,024
        waiting = select.poll()
        waiting.register(self._sock, select.POLLIN)
        if not waiting.poll(0):
            return []
        data = self._sock.recv(65536)
        if not data:
            self._close("app")
            return []
        return self._commands.feed(data)

    def _recv(self, timeout: float | None) -> bytes | None:
        assert self._sock is not None
        with gevent.Timeout(timeout, False):
            return self._sock.recv(65536)
        return None

    # Writing -----------------------------------------------------------------

    def _write(self, *parts: bytes) -> None:
        if self._closed or self._sock is None:
            return
        limit = self.script.faults.close_mid_frame_after
        with self._write_lock:
            if limit is not None and self.record.frames_sent >= limit:
                frame = b"".join(parts)
                self._send_raw(frame[: max(len(frame) // 2, 1)])
                self._close("emulator")
                return
            for part in parts:
                self._send_raw(part)
            self.record.frames_sent += 1

    def _send_raw(self, data: bytes) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(data)
        except OSError:
            self._closed = True
            return
        self.record.sent.append((self.now(), data))

    def _reply(self, text: str, extra: Sequence[tuple[str, str]] = ()) -> None:
        self._write(writer.reply_frame(text, extra))

    def _api_response(self, body: str) -> None:
        self._write(writer.api_response_frame(body))

    def _close(self, by: ClosedBy) -> None:
        self._closed = True
        if self._sock is None or self._sock_closed:
            return
        self._sock_closed = True
        if self.record.closed_by is None:
            self.record.closed_by = by
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def _final_notice_and_close(self, by: ClosedBy) -> None:
        # FreeSWITCH drops whatever events are still queued, then says goodbye.
        self._held.clear()
        self._write(writer.disconnect_notice_frame(self.channel.unique_id))
        self._close(by)

    # Outbox (called by the channel thread) -----------------------------------

    def emit(self, name: str, extra: Sequence[tuple[str, str]] = (), body: str | None = None) -> None:
        self.record.events_fired.append((self.now(), name))
        if self._observer is not None:
            self._observer(name, extra)
        late = self.script.faults.late_events_after
        if late is not None and name == "CHANNEL_EXECUTE_COMPLETE" and ("Application", late[0]) in extra:
            self._events_late = True
        if name not in self._subscribed or self._closed:
            return
        if self._event_format == "json":
            framed = writer.json_event_body(self.channel.event_fields(name, extra), body)
            head = writer.event_frame_head(framed, "text/event-json")
        elif body is None:
            framed = (self.channel.event_text(name, extra) + "\n").encode("utf-8")
            head = writer.event_frame_head(framed)
        else:  # the event's own body follows its headers, counted by an inner Content-Length
            raw = body.encode("utf-8")
            framed = (self.channel.event_text(name, extra) + f"Content-Length: {len(raw)}\n\n").encode("utf-8") + raw
            head = writer.event_frame_head(framed)
        if self._events_late and late is not None:
            self._later(self.now() + late[1], self._write, head, framed)
        elif self._hold_events:
            self._held.append((head, framed))
        else:
            # Header and body are two writes, as FreeSWITCH does.
            self._write(head, framed)

    def _flush_held(self) -> None:
        held, self._held = self._held, []
        for head, body in held:
            self._write(head, body)

    def hangup_noticed(self) -> None:
        # A hangup before the park still has to run the channel's teardown.
        self._parked.set()
        if self.script.socket_mode == "static" and not self._hold_events:
            # An idle static listener notices the hangup on its next read loop.
            self.channel_down()
        elif self.script.linger_notice_early and self._lingering:
            self._send_linger_notice()

    def channel_down(self) -> None:
        """The channel finished hanging up: linger, or say goodbye and close."""
        if self._closed or self._down_handled:
            return
        self._down_handled = True
        if not self._lingering:
            self._final_notice_and_close("emulator")
            return
        self._send_linger_notice()
        if self._linger is not None and self._linger > 0:
            self._later(self.now() + self._linger, self._final_notice_and_close, "emulator")

    def _send_linger_notice(self) -> None:
        if self._linger_sent:
            return
        self._linger_sent = True
        self._write(
            writer.disconnect_notice_frame(
                self.channel.unique_id,
                linger_time=-1 if self._linger is None else self._linger,
                channel_name=self.channel.channel_name,
            )
        )

    # Commands ------------------------------------------------------------------

    def _handle(self, command: ClientCommand) -> None:
        first = self._handled == 0
        self._handled += 1
        name = command.name
        if first and name != "connect":
            # FreeSWITCH runs the first command but discards its reply unless it is connect.
            self.record.protocol_errors.append(f"first command was {command.line!r}, not connect")
        fault = self.script.faults.fail_commands.get(name)
        if fault is not None:
            self._reply(fault)
        elif name in FULL_ONLY and not self.script.full:
            self._reply("-ERR command not found")
        else:
            handler = getattr(self, f"_cmd_{_ALIASES.get(name, name)}", None)
            if handler is None:
                if not first:
                    self._reply("-ERR command not found")
            else:
                handler(command)
        if self._handled == self.script.park_after_commands:
            self._parked.set()
        if name == "connect":
            # However few commands follow, the channel parks soon after connect.
            self._later(self.now() + self.script.park_after_seconds, self._parked.set)

    def _cmd_connect(self, command: ClientCommand) -> None:
        mode = "async" if self.script.socket_mode == "async" else "static"
        control = "full" if self.script.full else "single-channel"
        self._write(
            self.channel.channel_data_text().encode("utf-8")
            + writer.connect_reply_tail(socket_mode=mode, control=control)
        )

    def _cmd_myevents(self, command: ClientCommand) -> None:
        if self._myevents:
            self._reply("-ERR aready enabled.")
            return
        self._myevents = True
        self._event_format = "json" if "json" in command.line else "plain"
        self._subscribed |= MYEVENTS
        self._reply("+OK Events Enabled")

    def _cmd_event(self, command: ClientCommand) -> None:
        args = command.args
        if args and args[0] in ("plain", "json", "xml"):
            fmt, names = args[0], args[1:]
        else:
            fmt, names = "plain", args
        if not names:
            self._reply("-ERR no keywords supplied")
            return
        self._subscribed |= set(names)
        self._reply(f"+OK event listener enabled {fmt}")

    def _cmd_nixevent(self, command: ClientCommand) -> None:
        self._subscribed -= set(command.args)
        self._reply("+OK events nixed")

    def _cmd_noevents(self, command: ClientCommand) -> None:
        self._subscribed.clear()
        self._reply("+OK no longer listening for events")

    def _cmd_linger(self, command: ClientCommand) -> None:
        args = command.args
        self._lingering = True
        if args and args[0].lstrip("-").isdigit():
            self._linger = int(args[0])
            self._reply(f"+OK will linger {self._linger} seconds")
        else:
            self._linger = None
            self._reply("+OK will linger")

    def _cmd_nolinger(self, command: ClientCommand) -> None:
        self._lingering = False
        self._reply("+OK will not linger")

    def _cmd_exit(self, command: ClientCommand) -> None:
        self._reply("+OK bye")
        self._final_notice_and_close("exit")

    def _cmd_getvar(self, command: ClientCommand) -> None:
        args = command.args
        value = self.channel.get_var(args[0]) if args else None
        # An unset variable makes an empty reply, which FreeSWITCH turns into this error.
        self._reply(value[:510] if value else "-ERR command not found")

    def _cmd_resume(self, command: ClientCommand) -> None:
        self.channel.set_var("socket_resume", "true")
        self._reply("+OK")

    def _cmd_sendmsg(self, command: ClientCommand) -> None:
        args = command.args
        if args and args[0] != self.channel.unique_id:
            self._reply(f"-ERR invalid session id [{args[0]}]")
            return
        message = _message(command)
        if self.script.socket_mode == "static":
            # The listener is the channel thread: the app runs before the reply,
            # and its events wait until the listener reads again.
            self._hold_events = True
            try:
                self.session.run_message(message)
            finally:
                self._hold_events = False
            self._reply("+OK")
            return
        self.session.enqueue(message)
        self._reply("+OK")
        self._parked.set()

    def _cmd_api(self, command: ClientCommand) -> None:
        self._api_response(self._run_api(command.args))

    def _cmd_bgapi(self, command: ClientCommand) -> None:
        job = command.headers.get("job-uuid") or str(uuid_mod.uuid4())
        self._reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)])
        args = command.args
        self._greenlets.append(gevent.spawn(self._background_job, job, args))

    def _background_job(self, job: str, args: list[str]) -> None:
        output = self._run_api(args)
        if "BACKGROUND_JOB" not in self._subscribed or self._closed:
            return
        fields = [
            ("Event-Name", "BACKGROUND_JOB"),
            ("Core-UUID", self.channel.host.core_uuid),
            ("Job-UUID", job),
            ("Job-Owner-UUID", self.channel.unique_id),
            ("Job-Command", args[0] if args else ""),
            ("Job-Command-Arg", " ".join(args[1:])),
        ]
        body = writer.plain_event_body(fields, output)
        self._write(writer.event_frame_head(body), body)

    def _run_api(self, args: list[str]) -> str:
        if not args:
            return "-ERR no reply\n"
        name, rest = args[0], args[1:]
        if name not in ("uuid_break", "uuid_kill", "uuid_getvar", "uuid_exists"):
            return f"-ERR {name} Command not found!\n"
        if name == "uuid_exists":
            return "true" if rest and rest[0] == self.channel.unique_id and self.channel.ready else "false"
        if not rest or rest[0] != self.channel.unique_id or not self.channel.ready:
            return NO_SUCH_CHANNEL
        if name == "uuid_break":
            self.session.request_break(flush_queue=len(rest) > 1 and rest[1] == "all")
            return "+OK\n"
        if name == "uuid_kill":
            self.session.hangup(rest[1] if len(rest) > 1 else "NORMAL_CLEARING", "caller")
            return "+OK\n"
        value = self.channel.get_var(rest[1]) if len(rest) > 1 else None
        return value if value is not None else "_undef_"


def _message(command: ClientCommand) -> Message:
    headers = command.headers
    arg = headers.get("execute-app-arg", "")
    if not arg and headers.get("content-type", "").lower() == "text/plain":
        arg = command.body.decode("utf-8", "replace")
    loops_text = headers.get("loops", "1").strip()
    loops = int(loops_text) if loops_text.lstrip("-").isdigit() else 1
    return Message(
        call_command=headers.get("call-command", ""),
        app=headers.get("execute-app-name", ""),
        arg=arg,
        event_uuid=headers.get("event-uuid"),
        event_lock=headers.get("event-lock", "").lower() == "true",
        # loops: -1 means forever; the loop still stops on a break or hangup.
        loops=loops if loops > 0 else 1_000_000,
        hangup_cause=headers.get("hangup-cause", "NORMAL_CLEARING"),
    )


def start_call(address: tuple[str, int], script: CallScript | None = None) -> gevent.Greenlet:
    """Start one emulated call against the runtime listening on ``address``.

    The greenlet's value (``.get()``) is the call's :class:`ChannelHistory`.
    """
    call = EmulatedCall(script or CallScript())
    return gevent.spawn(call.run, address)


def run_call(address: tuple[str, int], script: CallScript | None = None) -> ChannelHistory:
    """Run one emulated call to its end in the current greenlet."""
    return EmulatedCall(script or CallScript()).run(address)
