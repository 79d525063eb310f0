"""The emulator's inbound Event Socket, byte for byte where the transcripts captured it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import gevent
import pytest
from gevent import socket as gsocket
from gevent.queue import Queue
from gevent.server import StreamServer

from ivrflow.freeswitch import ApiResponse, DisconnectNotice, EslEvent, FrameReader, Reply
from ivrflow.freeswitch import builders as c
from ivrflow.freeswitch.frames import Frame, OtherFrame
from ivrflow.testing import CallScript
from ivrflow.testing.fs_inbound import InboundSwitch

TIMEOUT = 10
EVENTS = "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY DTMF BACKGROUND_JOB"


class Client:
    """A raw inbound client: bytes out, parsed frames in."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = gsocket.create_connection(address)
        self.raw = bytearray()
        self.frames: Queue[Frame | None] = Queue()
        self.seen: list[Frame] = []
        self._claimed: set[int] = set()
        self._reader = FrameReader()
        self._pump = gevent.spawn(self._read)

    def _read(self) -> None:
        while True:
            data = self.sock.recv(65536)
            if not data:
                self.frames.put(None)
                return
            self.raw += data
            for frame in self._reader.feed(data):
                self.frames.put(frame)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next(self) -> Frame | None:
        frame = self.frames.get(timeout=TIMEOUT)
        if frame is not None:
            self.seen.append(frame)
        return frame

    def until(self, pred: Callable[[Frame], bool]) -> Frame:
        while True:
            frame = self.next()
            assert frame is not None, "the switch closed the connection"
            if pred(frame):
                return frame

    def command(self, line: str) -> Frame | None:
        self.send(line.encode() + b"\n\n")
        return self.until(lambda f: isinstance(f, (Reply, ApiResponse)))

    def login(self) -> None:
        assert isinstance(self.next(), OtherFrame)  # auth/request
        self.command("auth ClueCon")
        self.command(f"event plain {EVENTS}")

    def event(self, name: str, unique_id: str, **headers: str) -> EslEvent:
        """The first such event not returned yet, whether already read (while awaiting a reply) or still to come."""

        def wanted(f: Frame) -> bool:
            return (
                isinstance(f, EslEvent)
                and id(f) not in self._claimed
                and f.name == name
                and f.get("Unique-ID") == unique_id
                and all(f.get(k.replace("_", "-")) == v for k, v in headers.items())
            )

        frame = next((f for f in self.seen if wanted(f)), None) or self.until(wanted)
        assert isinstance(frame, EslEvent)
        self._claimed.add(id(frame))
        return frame

    def events(self, unique_id: str | None = None) -> list[tuple[str, str | None]]:
        return [
            (f.name, f.get("Unique-ID"))
            for f in self.seen
            if isinstance(f, EslEvent) and (unique_id is None or f.get("Unique-ID") == unique_id)
        ]


class Runtime:
    """A tiny outbound-socket runtime: answer, play one file, then transfer or wait."""

    def __init__(self, *, transfer_to: str | None = "002") -> None:
        self.transfer_to = transfer_to
        self.server = StreamServer(("127.0.0.1", 0), self._serve)
        self.server.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address[:2]  # type: ignore[no-any-return]

    def _serve(self, sock: gsocket.socket, _: object) -> None:
        reader = FrameReader()

        def until(pred: Callable[[Frame], bool]) -> None:
            while True:
                data = sock.recv(65536)
                if not data:
                    raise EOFError
                if any(pred(f) for f in reader.feed(data)):
                    return

        replied = lambda f: isinstance(f, Reply)  # noqa: E731
        try:
            sock.sendall(c.connect())
            until(lambda f: True)
            for command in (c.myevents(), c.linger()):
                sock.sendall(command)
                until(replied)
            for app, arg in (("answer", None), ("playback", "/sounds/hello.wav")):
                app_uuid = str(uuid.uuid4())
                sock.sendall(c.execute(app, arg, event_uuid=app_uuid))
                until(lambda f: isinstance(f, EslEvent) and f.name == "CHANNEL_EXECUTE_COMPLETE" and f.get("Application-UUID") == app_uuid)
            if self.transfer_to is not None:
                sock.sendall(c.execute("transfer", c.transfer_arg(self.transfer_to, "default"), event_uuid=str(uuid.uuid4())))
            until(lambda f: isinstance(f, DisconnectNotice))
            sock.sendall(c.exit_())
        except (EOFError, OSError):
            pass


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    it = Runtime()
    yield it
    it.server.stop()


def switch_for(runtime: Runtime, **kw: object) -> InboundSwitch:
    return InboundSwitch({"071": runtime.address}, script=CallScript(time_scale=0.05), **kw).start()  # type: ignore[arg-type]


def test_greeting_and_auth_are_the_captured_bytes(runtime: Runtime) -> None:
    switch = switch_for(runtime)
    client = Client(switch.address)
    client.next()
    client.command("auth ClueCon")
    client.command("event plain CHANNEL_CREATE")
    assert bytes(client.raw) == (
        b"Content-Type: auth/request\n\n"
        b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
        b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"
    )
    switch.stop()


def test_a_bad_password_is_refused_and_the_connection_closed(runtime: Runtime) -> None:
    switch = switch_for(runtime)
    client = Client(switch.address)
    client.next()
    reply = client.command("auth nope")
    assert isinstance(reply, Reply) and reply.text == "-ERR invalid"
    notice = client.next()
    assert isinstance(notice, DisconnectNotice) and notice.body.startswith("Disconnected, goodbye.")
    assert client.next() is None
    switch.stop()


def test_before_auth_only_auth_and_exit_work(runtime: Runtime) -> None:
    switch = switch_for(runtime)
    client = Client(switch.address)
    client.next()
    reply = client.command("api uuid_exists x")
    assert isinstance(reply, Reply) and reply.text == "-ERR command not found"
    reply = client.command("exit")
    assert isinstance(reply, Reply) and reply.text == "+OK bye"
    assert isinstance(client.next(), DisconnectNotice)
    assert client.next() is None
    switch.stop()


def test_a_client_outside_the_acl_gets_the_rude_rejection(runtime: Runtime) -> None:
    switch = switch_for(runtime, allowed_clients=["192.0.2.9"])
    client = Client(switch.address)
    rejection = client.next()
    assert isinstance(rejection, OtherFrame) and rejection.content_type == "text/rude-rejection"
    assert client.next() is None
    switch.stop()


def test_bgapi_replies_with_its_job_uuid_then_delivers_the_result(runtime: Runtime) -> None:
    switch = switch_for(runtime)
    client = Client(switch.address)
    client.login()
    client.send(c.bgapi("status", job_uuid="job-1"))
    reply = client.until(lambda f: isinstance(f, Reply))
    assert isinstance(reply, Reply) and reply.text == "+OK Job-UUID: job-1" and reply.headers.get("Job-UUID") == "job-1"
    job = client.until(lambda f: isinstance(f, EslEvent))
    assert isinstance(job, EslEvent) and job.name == "BACKGROUND_JOB"
    assert job.get("Job-UUID") == "job-1" and job.body == "-ERR status Command not found!\n"
    switch.stop()


def test_originate_a_loopback_leg_into_the_menu_extension(runtime: Runtime) -> None:
    switch = switch_for(runtime)
    client = Client(switch.address)
    client.login()
    a = str(uuid.uuid4())
    client.send(c.bgapi("originate", *c.originate_args("loopback/071/default", uuid=a, caller_id_number="79991234567",
                caller_id_name="Test", extension="071", context="default", park=True), job_uuid="j"))
    b_create = client.until(lambda f: isinstance(f, EslEvent) and f.name == "CHANNEL_CREATE" and f.get("Unique-ID") != a)
    assert isinstance(b_create, EslEvent)
    b = b_create.get("Unique-ID") or ""
    assert b_create.get("variable_other_loopback_leg_uuid") == a
    assert b_create.get("variable_origination_uuid") == a
    assert b_create.get("Channel-Name") == "loopback/071-b"
    job = client.until(lambda f: isinstance(f, EslEvent) and f.name == "BACKGROUND_JOB")
    assert isinstance(job, EslEvent) and job.body == f"+OK {a}\n"
    playback = client.event("CHANNEL_EXECUTE", b, Application="playback")
    assert playback.get("Application-Data") == "/sounds/hello.wav"
    client.event("CHANNEL_EXECUTE_COMPLETE", b, Application="playback", Application_Response="FILE PLAYED")
    transfer = client.event("CHANNEL_EXECUTE", b, Application="transfer")
    assert transfer.get("Application-Data") == "002 XML default"
    # As captured: A is created first, B's socket app starts, A answers just before B.
    order = client.events()
    assert order[:3] == [("CHANNEL_CREATE", a), ("CHANNEL_CREATE", b), ("CHANNEL_EXECUTE", b)]
    answers = [uid for name, uid in order if name == "CHANNEL_ANSWER"]
    assert answers == [a, b]
    assert ("CHANNEL_EXECUTE", a) in order  # A runs park() after the originate returned
    reply = client.command(f"api uuid_kill {a}")
    assert isinstance(reply, ApiResponse) and reply.body == "+OK\n"
    client.event("CHANNEL_HANGUP", b, Hangup_Cause="NORMAL_CLEARING")
    client.event("CHANNEL_HANGUP_COMPLETE", a)
    switch.stop()


def test_digits_sent_by_the_a_leg_reach_the_menu_leg(runtime: Runtime) -> None:
    runtime.transfer_to = None
    switch = switch_for(runtime)
    client = Client(switch.address)
    client.login()
    a = str(uuid.uuid4())
    client.command("api originate {origination_uuid=%s}loopback/071/default &park()" % a)
    b = switch.calls[0].menu_uuid
    reply = client.command(f"api uuid_send_dtmf {a} 12")
    assert isinstance(reply, ApiResponse) and reply.body == f"+OK {a} sent DTMF 12.\n"
    first = client.event("DTMF", b)
    second = client.event("DTMF", b)
    assert (first.get("DTMF-Digit"), second.get("DTMF-Digit")) == ("1", "2")
    assert first.get("DTMF-Source") == "UNKNOWN"
    reply = client.command(f"api uuid_recv_dtmf {b} 5")
    assert isinstance(reply, ApiResponse) and reply.body == f"+OK {b} received DTMF 5.\n"
    assert client.event("DTMF", b).get("DTMF-Source") == "APP"
    reply = client.command(f"api uuid_send_dtmf {b} 3")  # towards A: nothing on B
    assert client.event("DTMF", a).get("DTMF-Digit") == "3"
    client.command(f"api uuid_kill {b} USER_BUSY")
    assert client.event("CHANNEL_HANGUP", a).get("Hangup-Cause") == "USER_BUSY"
    reply = client.command(f"api uuid_send_dtmf {a} 1")
    assert isinstance(reply, ApiResponse) and reply.body == "-ERR No such channel!\n"
    switch.stop()


def test_a_dial_string_leg_answers_and_runs_the_extension_itself(runtime: Runtime) -> None:
    switch = switch_for(runtime)
    client = Client(switch.address)
    client.login()
    a = str(uuid.uuid4())
    reply = client.command("api originate {origination_uuid=%s}user/1000 071 XML default" % a)
    assert isinstance(reply, ApiResponse) and reply.body == f"+OK {a}\n"
    assert switch.calls[0].menu_uuid == a and switch.calls[0].a_leg is None
    socket_app = client.event("CHANNEL_EXECUTE", a, Application="socket")
    assert socket_app.get("Answer-State") == "answered" and socket_app.get("Channel-Name") == "user/1000"
    client.event("CHANNEL_EXECUTE", a, Application="playback")
    client.event("CHANNEL_EXECUTE", a, Application="transfer")
    switch.stop()


def test_filters_let_only_matching_events_through(runtime: Runtime) -> None:
    switch = switch_for(runtime)
    client = Client(switch.address)
    client.login()
    a = str(uuid.uuid4())
    reply = client.command(f"filter Unique-ID {a}")
    assert isinstance(reply, Reply) and reply.text == f"+OK filter added. [Unique-ID]=[{a}]"
    client.command("api originate {origination_uuid=%s}loopback/071/default &park()" % a)
    client.event("CHANNEL_EXECUTE", a, Application="park")
    client.command(f"api uuid_kill {a}")
    client.event("CHANNEL_DESTROY", a)
    assert {uid for _, uid in client.events()} == {a}  # nothing of the B leg
    switch.stop()


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("originate loopback/999/default &park()", "-ERR NO_ROUTE_DESTINATION\n"),
        ("originate pigeon/1 071 XML default", "-ERR CHAN_NOT_IMPLEMENTED\n"),
        ("uuid_kill 00000000-0000-0000-0000-000000000000", "-ERR No such channel!\n"),
        ("frobnicate", "-ERR frobnicate Command not found!\n"),
    ],
)
def test_api_errors(runtime: Runtime, line: str, error: str) -> None:
    switch = switch_for(runtime)
    client = Client(switch.address)
    client.login()
    reply = client.command(f"api {line}")
    assert isinstance(reply, ApiResponse) and reply.body == error
    assert switch.calls == []
    switch.stop()
