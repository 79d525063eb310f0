"""The emulated switch's inbound Event Socket (mod_event_socket on port 8021).

A client connects, gets ``auth/request``, authenticates with ``auth <password>``
and then subscribes (``event plain ...``, ``filter``) and runs ``api`` /
``bgapi`` commands.  ``originate`` into an extension of :attr:`InboundSwitch.
extensions` places an emulated call against the runtime listening there (the
dialplan's ``socket`` app, :class:`.fs_emulator.EmulatedCall`), and every event
of that channel reaches the subscribed clients.

Captured (transcripts, inbound side): the greeting, ``+OK accepted``, the
``event`` reply, the ``bgapi`` reply and BACKGROUND_JOB, the replies of
``uuid_send_dtmf`` / ``uuid_recv_dtmf`` / ``uuid_kill``, the loopback legs'
variables and the final notice after ``exit``.  Read from mod_event_socket.c,
not captured: ``-ERR invalid`` then the final notice for a bad password, the
ACL's ``text/rude-rejection``, ``filter`` replies.  Inferred: the originate
failures (``-ERR NO_ROUTE_DESTINATION`` for an unknown extension,
``-ERR CHAN_NOT_IMPLEMENTED`` for an unknown endpoint type) and the order of
the A leg's events around the B leg's hangup.
"""

from __future__ import annotations

import re
import socket
import time
import uuid as uuid_mod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import gevent
import gevent.event
import gevent.lock
from gevent.server import StreamServer

from . import fs_frames as writer
from .fs_channel import Channel, HostIdentity, default_profile, now_us
from .fs_command_reader import ClientCommand, CommandReader, ProtocolViolation
from .fs_emulator import EmulatedCall
from .fs_script import CallScript, Key

__all__ = ["InboundSwitch", "OriginatedCall"]

NO_SUCH_CHANNEL = "-ERR No such channel!\n"
_REJECTION = b"Access Denied, go away.\n"
_ENDPOINT_TYPES = ("user/", "sofia/")


@dataclass(slots=True)
class OriginatedCall:
    """One ``originate``: the leg it returned (A) and the emulated call running the menu."""

    a_uuid: str
    menu: EmulatedCall
    # The loopback A leg; None when the dialed leg itself runs the extension.
    a_leg: Channel | None
    answered: gevent.event.Event = field(default_factory=gevent.event.Event)
    greenlet: gevent.Greenlet | None = None
    socket_closed: bool = False
    # The application the A leg runs after answer: its Application headers and uuid.
    a_app: tuple[list[tuple[str, str]], str] | None = None

    @property
    def menu_uuid(self) -> str:
        return self.menu.channel.unique_id


class InboundSwitch:
    """A listener on 127.0.0.1:0 speaking the inbound protocol, and the calls it originated."""

    def __init__(
        self,
        extensions: Mapping[str, tuple[str, int]],
        *,
        password: str = "ClueCon",
        script: CallScript | None = None,
        allowed_clients: Iterable[str] | None = None,
        host: HostIdentity | None = None,
    ) -> None:
        self.extensions = dict(extensions)
        self.password = password
        self.script = script or CallScript()
        self.allowed_clients = None if allowed_clients is None else frozenset(allowed_clients)
        self.host = host or HostIdentity()
        self.calls: list[OriginatedCall] = []
        self.listeners: list[_Listener] = []
        self._server = StreamServer(("127.0.0.1", 0), self._accept)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return str(host), int(port)

    def start(self) -> InboundSwitch:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(timeout=1)
        for listener in list(self.listeners):
            listener.close()
        gevent.killall([c.greenlet for c in self.calls if c.greenlet is not None], timeout=1)

    def _accept(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        # As mod_event_socket does: an event is written as two sends, head then body.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener = _Listener(self, sock)
        if self.allowed_clients is not None and peer[0] not in self.allowed_clients:
            listener.write(b"Content-Type: text/rude-rejection\nContent-Length: %d\n\n%s" % (len(_REJECTION), _REJECTION))
            listener.close()
            return
        self.listeners.append(listener)
        try:
            listener.serve()
        finally:
            listener.close()
            self.listeners.remove(listener)

    # Events ------------------------------------------------------------------------

    def fire(self, channel: Channel, name: str, extra: Sequence[tuple[str, str]] = ()) -> None:
        """Deliver one of ``channel``'s events to every subscribed listener."""
        interested = [l for l in self.listeners if l.wants(name)]
        if not interested:
            return
        fields = dict(channel.event_fields(name, extra))
        body = (channel.event_text(name, extra) + "\n").encode("utf-8")
        for listener in interested:
            if listener.passes(fields):
                listener.write(writer.event_frame_head(body), body)

    def background_job(self, job: str, command: str, arg: str, output: str) -> None:
        stamp = time.time()
        fields = [
            ("Event-Name", "BACKGROUND_JOB"),
            ("Core-UUID", self.host.core_uuid),
            ("FreeSWITCH-Hostname", self.host.hostname),
            ("FreeSWITCH-Switchname", self.host.switchname),
            ("FreeSWITCH-IPv4", self.host.ipv4),
            ("FreeSWITCH-IPv6", self.host.ipv6),
            ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))),
            ("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(stamp))),
            ("Event-Date-Timestamp", str(int(stamp * 1_000_000))),
            ("Event-Calling-File", "mod_event_socket.c"),
            ("Event-Calling-Function", "api_exec"),
            ("Event-Calling-Line-Number", "1572"),
            ("Job-UUID", job),
            ("Job-Command", command),
        ]
        if arg:
            fields.append(("Job-Command-Arg", arg))
        body = writer.plain_event_body(fields, output)
        for listener in self.listeners:
            if listener.wants("BACKGROUND_JOB") and listener.passes(dict(fields)):
                listener.write(writer.event_frame_head(body), body)

    # api ------------------------------------------------------------------------------

    def run_api(self, command: str, arg: str) -> str:
        args = arg.split()
        if command == "originate":
            return self._originate(arg)
        if command == "uuid_exists":
            call, _ = self._find(args[0] if args else "")
            return "true" if call is not None else "false"
        if command in ("uuid_send_dtmf", "uuid_recv_dtmf", "uuid_kill"):
            call, leg = self._find(args[0] if args else "")
            if call is None:
                return NO_SUCH_CHANNEL
            if command == "uuid_kill":
                self._kill(call, leg, args[1] if len(args) > 1 else "NORMAL_CLEARING")
                return "+OK\n"
            if len(args) < 2:
                return f"-ERR Usage: {command} <uuid> <dtmf_data>\n"
            self._dtmf(call, leg, args[1], towards_peer=command == "uuid_send_dtmf")
            verb = "sent" if command == "uuid_send_dtmf" else "received"
            return f"+OK {args[0]} {verb} DTMF {args[1]}.\n"
        return f"-ERR {command} Command not found!\n"

    def _find(self, uuid: str) -> tuple[OriginatedCall | None, str]:
        """The live call owning leg ``uuid`` and which leg it is: "a" or "menu"."""
        for call in self.calls:
            if call.menu_uuid == uuid and call.menu.channel.ready:
                return call, "menu"
            if call.a_leg is not None and call.a_uuid == uuid and call.a_leg.ready:
                return call, "a"
        return None, ""

    def _dtmf(self, call: OriginatedCall, leg: str, spec: str, *, towards_peer: bool) -> None:
        digits, _, duration = spec.partition("@")
        samples = int(duration) * 8 if duration.isdigit() else 2000
        # uuid_send_dtmf on a loopback A leg reaches the B leg (DTMF-Source UNKNOWN);
        # on the leg running the menu it goes to the far end, which is nobody here.
        source = "UNKNOWN" if towards_peer else "APP"
        if (leg == "a") == towards_peer:
            call.menu.session.receive_digits(Key(call.menu.now(), digits, source, samples))
        elif call.a_leg is not None:
            # The parked A leg dequeues and events the digits at once.
            for digit in digits:
                self.fire(call.a_leg, "DTMF", [("DTMF-Digit", digit), ("DTMF-Duration", str(samples)), ("DTMF-Source", source)])

    def _kill(self, call: OriginatedCall, leg: str, cause: str) -> None:
        if leg == "a" and call.a_leg is not None:
            self._hang_up_a(call, cause)
        call.menu.session.hangup(cause, "caller")

    # originate ----------------------------------------------------------------------

    def _originate(self, arg: str) -> str:
        words = _split_args(arg)
        if len(words) < 2:
            return "-ERR INVALID_ARGUMENT\n"
        variables, endpoint = _split_variables(words[0])
        a_uuid = variables.get("origination_uuid") or str(uuid_mod.uuid4())
        cid_number = variables.get("origination_caller_id_number", "0000000000")
        cid_name = variables.get("origination_caller_id_name", "FreeSWITCH")
        if endpoint.startswith("loopback/"):
            if not words[1].startswith("&"):
                return "-ERR INVALID_ARGUMENT\n"
            parts = endpoint.split("/")
            extension, context = parts[1], parts[2] if len(parts) > 2 and parts[2] else "default"
            loopback = True
        elif endpoint.startswith(_ENDPOINT_TYPES) and not words[1].startswith("&"):
            extension = words[1]
            context = words[3] if len(words) > 3 else "default"
            loopback = False
        else:
            return "-ERR CHAN_NOT_IMPLEMENTED\n"
        address = self.extensions.get(extension)
        if address is None:
            return "-ERR NO_ROUTE_DESTINATION\n"
        call = self._place(address, endpoint, a_uuid, extension, context, cid_number, cid_name, loopback)
        timeout = float(variables.get("originate_timeout", "60")) * self.script.time_scale
        if not call.answered.wait(timeout):
            self._kill(call, "a" if loopback else "menu", "NO_ANSWER")
            return "-ERR NO_ANSWER\n"
        if not call.menu.channel.ready:
            return f"-ERR {call.menu.channel.hangup_cause}\n"
        if call.a_leg is not None:
            gevent.spawn(self._run_a_app, call, words[1])
        return f"+OK {a_uuid}\n"

    def _place(
        self,
        address: tuple[str, int],
        endpoint: str,
        a_uuid: str,
        extension: str,
        context: str,
        cid_number: str,
        cid_name: str,
        loopback: bool,
    ) -> OriginatedCall:
        menu_uuid = str(uuid_mod.uuid4()) if loopback else a_uuid
        variables = {
            **self.script.variables,
            "origination_uuid": a_uuid,
            "origination_caller_id_number": cid_number,
            "origination_caller_id_name": cid_name,
        }
        if loopback:
            # mod_loopback: the B leg inherits the originate variables and names its peer.
            variables |= {"other_loopback_leg_uuid": a_uuid, "loopback_leg": "B"}
        script = replace(
            self.script,
            unique_id=menu_uuid,
            caller_id_number=cid_number,
            caller_id_name=cid_name,
            destination_number=extension,
            context=context,
            channel_name=f"loopback/{extension}-b" if loopback else endpoint,
            variables=variables,
            socket_app_data=f"{address[0]}:{address[1]} async full",
        )
        holder: list[OriginatedCall] = []
        menu = EmulatedCall(script, lambda name, extra: self._menu_event(holder[0], name, extra))
        a_leg = self._a_leg(a_uuid, menu_uuid, extension, context, cid_number, cid_name) if loopback else None
        call = OriginatedCall(a_uuid, menu, a_leg)
        holder.append(call)
        self.calls.append(call)
        if a_leg is not None:
            self.fire(a_leg, "CHANNEL_CREATE")
        else:
            # The dialed phone answered; the answered leg is then routed to the extension.
            menu.channel.direction = "outbound"
            menu.channel.answer_state = "answered"
            menu.channel.call_state = "ACTIVE"
            menu.record.answered = True
        self.fire(menu.channel, "CHANNEL_CREATE")
        if a_leg is None:
            self.fire(menu.channel, "CHANNEL_ANSWER")
            call.answered.set()
        self.fire(
            menu.channel,
            "CHANNEL_EXECUTE",
            [
                ("Application", "socket"),
                ("Application-Data", script.resolved_socket_app_data()),
                ("Application-UUID", menu.session.socket_app_uuid),
            ],
        )
        call.greenlet = gevent.spawn(self._run_menu, call, address)
        return call

    def _a_leg(self, a_uuid: str, b_uuid: str, extension: str, context: str, number: str, name: str) -> Channel:
        channel_name = f"loopback/{extension}-a"
        profile = default_profile(
            unique_id=a_uuid,
            caller_id_name=name,
            caller_id_number=number,
            destination_number=extension,
            context=context,
            channel_name=channel_name,
            created_us=now_us(),
        )
        profile = [(k, "outbound" if k in ("Direction", "Logical-Direction") else v) for k, v in profile]
        channel = Channel(
            unique_id=a_uuid,
            channel_name=channel_name,
            profile=profile,
            variables=[
                ("direction", "outbound"),
                ("is_outbound", "true"),
                ("channel_name", channel_name),
                ("uuid", a_uuid),
                ("call_uuid", a_uuid),
                ("origination_uuid", a_uuid),
                ("origination_caller_id_number", number),
                ("origination_caller_id_name", name),
                ("originate_endpoint", "loopback"),
                ("other_loopback_leg_uuid", b_uuid),
                ("loopback_leg", "A"),
            ],
            host=self.host,
        )
        channel.direction = "outbound"
        channel.running_state = "CS_INIT"
        channel.set_state_number("CS_INIT")
        channel.call_state = "DOWN"
        return channel

    def _run_menu(self, call: OriginatedCall, address: tuple[str, int]) -> None:
        try:
            call.menu.run(address)
        except OSError:
            # The socket app found nobody listening: it returns and the dialplan ends.
            call.menu.session.hangup("NORMAL_CLEARING", "command")
        call.socket_closed = True
        if not call.menu.channel.ready:
            self.fire(call.menu.channel, "CHANNEL_DESTROY")

    def _run_a_app(self, call: OriginatedCall, app: str) -> None:
        a_leg = call.a_leg
        assert a_leg is not None
        name, _, rest = app[1:].partition("(")
        a_leg.set_var("current_application", name)
        head = [("Application", name)]
        if rest.rstrip(")"):
            head.append(("Application-Data", rest.rstrip(")")))
        call.a_app = (head, str(uuid_mod.uuid4()))
        self.fire(a_leg, "CHANNEL_EXECUTE", [*head, ("Application-UUID", call.a_app[1])])

    def _hang_up_a(self, call: OriginatedCall, cause: str) -> None:
        a_leg = call.a_leg
        if a_leg is None or not a_leg.ready:
            return
        a_leg.hangup_cause = cause
        a_leg.answer_state = "hangup"
        self.fire(a_leg, "CHANNEL_HANGUP")
        if call.a_app is not None:
            head, app_uuid = call.a_app
            self.fire(a_leg, "CHANNEL_EXECUTE_COMPLETE", [*head, ("Application-Response", "_none_"), ("Application-UUID", app_uuid)])
        a_leg.running_state = "CS_REPORTING"
        a_leg.set_state_number("CS_REPORTING")
        self.fire(a_leg, "CHANNEL_HANGUP_COMPLETE")
        self.fire(a_leg, "CHANNEL_DESTROY")

    def _menu_event(self, call: OriginatedCall, name: str, extra: Sequence[tuple[str, str]]) -> None:
        """Every event of the menu's channel, as it fires; the loopback A leg follows it."""
        a_leg = call.a_leg
        if name == "CHANNEL_ANSWER" and a_leg is not None and a_leg.answer_state != "answered":
            # mod_loopback answers A when B answers; A's event comes first (transcript 01).
            a_leg.answer_state = "answered"
            a_leg.call_state = "ACTIVE"
            a_leg.running_state = "CS_CONSUME_MEDIA"
            a_leg.set_state_number("CS_CONSUME_MEDIA")
            a_leg.set_profile("Channel-Answered-Time", str(now_us()))
            self.fire(a_leg, "CHANNEL_ANSWER")
        self.fire(call.menu.channel, name, extra)
        if name == "CHANNEL_ANSWER":
            call.answered.set()
        elif name == "CHANNEL_HANGUP":
            call.answered.set()
            self._hang_up_a(call, call.menu.channel.hangup_cause or "NORMAL_CLEARING")
            if call.socket_closed:
                # Released after a transfer: nothing runs the channel's teardown any more.
                self.fire(call.menu.channel, "CHANNEL_HANGUP_COMPLETE")
                self.fire(call.menu.channel, "CHANNEL_DESTROY")


class _Listener:
    """One inbound connection: authentication, subscriptions, filters and commands."""

    def __init__(self, switch: InboundSwitch, sock: socket.socket) -> None:
        self.switch = switch
        self.sock = sock
        self.authed = False
        self.subscribed: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.received: list[ClientCommand] = []
        self._reader = CommandReader()
        self._lock = gevent.lock.Semaphore()
        self._closed = False
        self._sock_closed = False

    def wants(self, name: str) -> bool:
        return self.authed and not self._closed and (name in self.subscribed or "ALL" in self.subscribed)

    def passes(self, fields: Mapping[str, str]) -> bool:
        """mod_event_socket's filters: none lets all through, otherwise any match does."""
        if not self.filters:
            return True
        lowered = {k.lower(): v for k, v in fields.items()}
        for header, value in self.filters:
            have = lowered.get(header.lower())
            if have is None:
                continue
            if value.startswith("/") and re.search(value[1:], have) or have.lower() == value.lower():
                return True
        return False

    def write(self, *parts: bytes) -> None:
        if self._closed:
            return
        with self._lock:
            try:
                for part in parts:
                    self.sock.sendall(part)
            except OSError:
                self._closed = True

    def close(self) -> None:
        self._closed = True
        if self._sock_closed:
            return
        self._sock_closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _reply(self, text: str, extra: Sequence[tuple[str, str]] = ()) -> None:
        self.write(writer.reply_frame(text, extra))

    def _goodbye(self) -> None:
        # The inbound final notice has no Controlled-Session-UUID (no session).
        self.write(b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n" % len(writer.DISCONNECT_BODY), writer.DISCONNECT_BODY)
        self.close()

    def serve(self) -> None:
        self.write(b"Content-Type: auth/request\n\n")
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            try:
                commands = self._reader.feed(data)
            except ProtocolViolation:
                return
            for command in commands:
                self.received.append(command)
                self._handle(command)
                if self._closed:
                    return

    def _handle(self, command: ClientCommand) -> None:
        name = command.name
        if name in ("exit", "..."):
            self._reply("+OK bye")
            self._goodbye()
        elif not self.authed:
            if name != "auth":
                self._reply("-ERR command not found")
            elif command.line[5:] == self.switch.password:
                self.authed = True
                self._reply("+OK accepted")
            else:
                self._reply("-ERR invalid")
                self._goodbye()
        elif name in ("event", "nixevent", "noevents", "filter"):
            self._subscription(name, command.args)
        elif name == "api":
            api, _, arg = command.line[4:].partition(" ")
            body = self.switch.run_api(api, arg) or "-ERR no reply\n"
            raw = body.encode("utf-8")
            self.write(b"Content-Type: api/response\nContent-Length: %d\n\n" % len(raw), raw)
        elif name == "bgapi":
            job = command.headers.get("job-uuid") or str(uuid_mod.uuid4())
            self._reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)])
            api, _, arg = command.line[6:].partition(" ")
            gevent.spawn(self._job, job, api, arg)
        else:
            self._reply("-ERR command not found")

    def _job(self, job: str, api: str, arg: str) -> None:
        output = self.switch.run_api(api, arg)
        self.switch.background_job(job, api, arg, output)

    def _subscription(self, name: str, args: list[str]) -> None:
        if name == "noevents":
            self.subscribed.clear()
            self._reply("+OK no longer listening for events")
        elif name == "filter":
            if len(args) >= 2 and args[0] != "delete":
                self.filters.append((args[0], " ".join(args[1:])))
                self._reply(f"+OK filter added. [{args[0]}]=[{' '.join(args[1:])}]")
            elif len(args) >= 2:
                self.filters = [f for f in self.filters if args[1] != "all" and f[0] != args[1]]
                self._reply(f"+OK filter deleted. [{args[1]}][{' '.join(args[2:])}]")
            else:
                self._reply("-ERR invalid syntax")
        else:
            names = [a for a in args if a not in ("plain", "json", "xml")]
            if not names:
                self._reply("-ERR no keywords supplied")
            elif name == "event":
                self.subscribed |= set(names)
                self._reply("+OK event listener enabled plain")
            else:
                self.subscribed -= set(names)
                self._reply("+OK events nixed")


def _split_args(text: str) -> list[str]:
    """Split on spaces outside ``{...}`` and single quotes, as originate reads its arguments."""
    words: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif char == "{" and not quoted:
            depth += 1
        elif char == "}" and not quoted:
            depth -= 1
        if char == " " and depth == 0 and not quoted:
            if current:
                words.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def _split_variables(url: str) -> tuple[dict[str, str], str]:
    """``{a=1,b='x y'}endpoint`` -> ({a: 1, b: x y}, endpoint)."""
    if not url.startswith("{") or "}" not in url:
        return {}, url
    end = url.index("}")
    variables: dict[str, str] = {}
    for pair in url[1:end].split(","):
        name, _, value = pair.partition("=")
        variables[name.strip()] = value.strip("'")
    return variables, url[end + 1 :]
