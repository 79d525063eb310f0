"""The emulated switch's inbound Event Socket (mod_event_socket on port 8021).

A client connects, gets ``auth/request``, authenticates with ``auth <password>``
and then subscribes (``event plain ...``, ``filter``) and runs ``api`` /
``bgapi`` commands.  ``originate`` into an extension of ``extensions`` places
an emulated call against the runtime listening there (:mod:`.fs_inbound_calls`),
and every event of its channels reaches the subscribed clients.

Captured (transcripts, inbound side): the greeting, ``+OK accepted``, the
``event`` reply, the ``bgapi`` reply and BACKGROUND_JOB, the replies of
``uuid_send_dtmf`` / ``uuid_recv_dtmf`` / ``uuid_kill``, the loopback legs'
variables and the final notice after ``exit``.  Read from mod_event_socket.c,
not captured: ``-ERR invalid`` then the final notice for a bad password, the
ACL's ``text/rude-rejection``, the ``filter`` replies.  Inferred: the
originate failures (``-ERR NO_ROUTE_DESTINATION`` for an unknown extension,
``-ERR CHAN_NOT_IMPLEMENTED`` for an unknown endpoint type).  Not emulated:
FreeSWITCH holds events back while an ``api`` runs on the same connection;
here they keep flowing.  Only the plain event format is produced.
"""

from __future__ import annotations

import re
import socket
import time
import uuid as uuid_mod
from collections.abc import Iterable, Mapping, Sequence

import gevent
import gevent.lock
from gevent.server import StreamServer

from . import fs_frames as writer
from .fs_channel import Channel, HostIdentity
from .fs_command_reader import ClientCommand, CommandReader, ProtocolViolation
from .fs_inbound_calls import Channels, OriginatedCall
from .fs_script import CallScript

__all__ = ["InboundSwitch", "OriginatedCall"]

_REJECTION = b"Access Denied, go away.\n"


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
        self.password = password
        self.script = script or CallScript()
        self.allowed_clients = None if allowed_clients is None else frozenset(allowed_clients)
        self.host = host or HostIdentity()
        self.channels = Channels(extensions, self.script, self.host, self.fire)
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

    @property
    def calls(self) -> list[OriginatedCall]:
        return self.channels.calls

    def run_api(self, command: str, arg: str) -> str:
        return self.channels.run_api(command, arg)


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
