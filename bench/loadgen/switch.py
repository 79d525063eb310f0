"""A cheap FreeSWITCH for one outbound-socket call: commands in, pre-rendered frames out.

It plays what the emulator (:mod:`ivrflow.testing`) plays for the example
menu's calls, in ``async full`` mode: the connect reply with the channel data,
``myevents``/``linger`` replies, CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE
around each application with its ``Application-UUID``, CHANNEL_ANSWER, DTMF,
the hangup and transfer sequences and the linger and final disconnect notices,
but without the emulator's bookkeeping: each frame is a template plus three
``bytes.replace`` (see :mod:`.frames`).

Caller behaviour is relative to the prompts, so that every contender sees the
same call whatever its own latency: keys arrive a set time after ``hello.wav``
(the background prompt) starts, the hang-up a set time after
``advertising.wav`` starts.

One greenlet per call reads and answers commands; timers (media ending, keys,
the hang-up) are ``spawn_later`` greenlets, killed when the call ends.  All
writes of one call go through one lock.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent
import gevent.lock
from gevent import socket as gsocket

from . import frames as F

PC = time.perf_counter


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    # (seconds after hello.wav starts, digit, whether the server must answer it with a command at once)
    keys: tuple[tuple[float, str, bool], ...] = ()
    # seconds after advertising.wav starts
    hangup_after_ad: float | None = None
    expect: str = ""  # "transfer:DEST" or "hangup"
    hold: bool = False  # hello.wav never ends; the call is held until released


SCENARIOS = {
    "nokey": Scenario("nokey", expect="transfer:050"),
    # A first key stops the greeting by its playback_terminators: the server need not answer it.
    "two": Scenario("two", keys=((0.1, "2", False),), expect="transfer:002"),
    "direct": Scenario("direct", keys=((0.05, "1", False), (0.1, "0", False), (0.15, "5", True)), expect="transfer:105"),
    "hangup": Scenario("hangup", hangup_after_ad=0.2, expect="hangup"),
    # Option 3 of bench.webhook_hold's menu: a call_interactive webhook, then a transfer to 003.
    "hook": Scenario("hook", keys=((0.05, "3", False),), expect="transfer:003"),
    "hold": Scenario("hold", expect="hangup", hold=True),
}
SOUNDS = {"advertising.wav": 0.4, "hello.wav": 0.3}
DEFAULT_SOUND = 0.1
HOLD_SECONDS = 3600.0


def caller_in_prompt(
    s: Scenario, sound: str, later: Callable[..., object], key: Callable[[str, bool], None], hang_up: Callable[[], None]
) -> float:
    """A prompt (by file name) starts: schedule the caller's keys or hang-up in it; how long it plays."""
    if sound == "hello.wav":
        for at, digit, expect in s.keys:
            later(at, key, digit, expect)
        return HOLD_SECONDS if s.hold else SOUNDS[sound]
    if sound == "advertising.wav" and s.hangup_after_ad is not None:
        later(s.hangup_after_ad, hang_up)
    return SOUNDS.get(sound, DEFAULT_SOUND)


@dataclass(slots=True)
class Stats:
    """What all calls of one run measured."""

    accept_ms: list[float] = field(default_factory=list)  # socket app start -> first sendmsg
    connect_ms: list[float] = field(default_factory=list)  # socket app start -> `connect` command
    key_ms: list[float] = field(default_factory=list)  # DTMF written -> next command read
    started: int = 0
    finished: int = 0
    lost: int = 0
    left_open: int = 0
    held: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)

    def problem(self, what: str) -> None:
        self.problems[what] = self.problems.get(what, 0) + 1


def _split_scope(arg: str) -> tuple[str, str | None]:
    """``%[playback_terminators=X]path`` -> (path, X)."""
    if not arg.startswith("%["):
        return arg, None
    end = arg.find("]")
    terminators = None
    for pair in arg[2:end].split(","):
        name, _, value = pair.partition("=")
        if name.strip() == "playback_terminators":
            terminators = value
    return arg[end + 1 :], terminators


@dataclass(slots=True)
class _App:
    name: str
    data: bytes
    app_uuid: bytes
    terminators: str | None = None
    sound: str = ""
    timer: gevent.Greenlet | None = None


class FakeCall:
    def __init__(
        self,
        scenario: Scenario,
        templates: F.Templates,
        stats: Stats,
        release_timeout: float = 5.0,
        first_command_timeout: float = 10.0,
        start_timeout: float = 30.0,
    ) -> None:
        self.s = scenario
        self.t = templates
        self.stats = stats
        self.release_timeout = release_timeout
        self.first_command_timeout = first_command_timeout
        self.start_timeout = start_timeout
        self.uid = str(uuid.uuid4()).encode()
        self.sock: socket.socket | None = None
        self.lock = gevent.lock.Semaphore()
        self.app: _App | None = None
        self.queue: list[tuple[str, dict[bytes, bytes]]] = []
        self.timers: list[gevent.Greenlet] = []
        self.up = True  # channel not hung up
        self.controlled = True  # still in the socket app
        self.lingering = False
        self.nixed: set[bytes] = set()  # event names the server unsubscribed from
        self.closed = False
        self.exit_seen = False
        self.outcome = ""
        self.key_at = 0.0
        self.t0 = 0.0
        self.first_exec = False
        self.held = False
        self.release_deadline: gevent.Greenlet | None = None
        # Released once the server sent its first application (or the call ended): bounds calls in setup.
        self.on_setup: object = None

    # --- life -------------------------------------------------------------------

    def run(self, address: tuple[str, int]) -> None:
        st = self.stats
        st.started += 1
        self.t0 = PC()
        try:
            sock = gsocket.create_connection(address, timeout=self.start_timeout)
        except OSError as exc:
            st.lost += 1
            st.problem(f"connect failed: {type(exc).__name__}")
            return
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        try:
            self._serve()
        finally:
            self._end()

    def _setup_done(self) -> None:
        gate, self.on_setup = self.on_setup, None
        if gate is not None:
            gate.release()  # type: ignore[attr-defined]

    def _end(self) -> None:
        self._setup_done()
        gevent.killall(self.timers, block=False)
        if self.release_deadline is not None:
            self.release_deadline.kill(block=False)
        st = self.stats
        st.finished += 1
        if self.held:
            st.held -= 1
        if self.s.hold:
            ok = self.outcome == "hangup"
        else:
            ok = self.outcome == self.s.expect
        if not ok:
            st.lost += 1
            st.problem(f"{self.s.name}: ended as {self.outcome or 'nothing'}")
        st.outcomes[self.outcome or "none"] = st.outcomes.get(self.outcome or "none", 0) + 1
        if not self.closed:
            self._close()

    def _close(self) -> None:
        self.closed = True
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass

    def _serve(self) -> None:
        assert self.sock is not None
        buf = b""
        first = True
        while not self.closed:
            try:
                if first:
                    with gevent.Timeout(self.first_command_timeout, False):
                        data = self.sock.recv(65536)
                        first = False
                    if first:
                        self.stats.problem("no command within the first-command timeout")
                        return
                else:
                    data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return  # the server closed
            buf += data
            while not self.closed:
                end = buf.find(b"\n\n")
                if end < 0:
                    break
                head = buf[:end]
                rest = buf[end + 2 :]
                headers: dict[bytes, bytes] = {}
                lines = head.split(b"\n")
                for line in lines[1:]:
                    name, _, value = line.partition(b": ")
                    headers[name.lower()] = value
                body = b""
                length = headers.get(b"content-length")
                if length is not None:
                    n = int(length)
                    if len(rest) < n:
                        break
                    body, rest = rest[:n], rest[n:]
                buf = rest
                self._command(lines[0].decode("utf-8", "replace"), headers, body)

    # --- writing ------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.closed or self.sock is None:
            return
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self._close()

    def _ev(self, body: bytes, app: _App | None = None) -> bytes:
        if self.nixed and body[12 : body.index(b"\n")] in self.nixed:
            return b""  # unsubscribed: FreeSWITCH does not send it
        if app is None:
            return F.event_frame(body, self.uid)
        return F.event_frame(body, self.uid, app.app_uuid, app.data)

    def _later(self, seconds: float, fn, *args) -> gevent.Greenlet:  # type: ignore[no-untyped-def]
        g = gevent.spawn_later(seconds, fn, *args)
        self.timers.append(g)
        return g

    # --- commands -----------------------------------------------------------------

    def _command(self, line: str, headers: dict[bytes, bytes], body: bytes) -> None:
        now = PC()
        if self.key_at:
            self.stats.key_ms.append((now - self.key_at) * 1000)
            self.key_at = 0.0
        word, _, arg = line.partition(" ")
        if word == "connect":
            self.stats.connect_ms.append((now - self.t0) * 1000)
            self._write(self.t.connect_reply.replace(F.UID_B, self.uid).replace(F.SCENARIO_B, self.s.name.encode()))
        elif word == "myevents":
            self._write(F.REPLIES["myevents"])
        elif word == "event":
            self._write(F.REPLIES["events"])
        elif word == "nixevent":
            self.nixed.update(name.encode() for name in arg.split())
            self._write(F.REPLIES["nixed"])
        elif word == "linger":
            self.lingering = True
            self._write(F.linger_reply(arg))
        elif word == "nolinger":
            self.lingering = False
            self._write(F.REPLIES["ok"])
        elif word == "exit" or word == "...":
            self.exit_seen = True
            self._write(F.REPLIES["exit"] + self.t.final_notice.replace(F.UID_B, self.uid))
            if self.outcome == "":
                self.outcome = "exit"
            self._close()
        elif word == "sendmsg":
            if not self.first_exec:
                self.first_exec = True
                self.stats.accept_ms.append((now - self.t0) * 1000)
                self._setup_done()
            self._write(F.REPLIES["ok"])
            self._sendmsg(headers, body)
        elif word == "api":
            self._api(arg)
        else:
            self._write(F.REPLIES["not_found"])

    def _api(self, arg: str) -> None:
        words = arg.split()
        if not words or words[0] != "uuid_break":
            self._write(F.REPLIES["not_found"])
            return
        if len(words) < 2 or words[1].encode() != self.uid or not self.up:
            self._write(F.REPLIES["api_no_channel"])
            return
        self._write(F.REPLIES["api_ok"])
        app = self.app
        if app is not None and app.name in ("playback", "sleep"):
            self._complete(app, "FILE PLAYED" if app.name == "playback" else "_none_")

    def _sendmsg(self, headers: dict[bytes, bytes], body: bytes) -> None:
        if not self.up or not self.controlled:
            return
        command = headers.get(b"call-command", b"").decode()
        if command == "hangup":
            self._hangup()
            return
        if command != "execute":
            return
        name = headers.get(b"execute-app-name", b"").decode()
        arg = headers.get(b"execute-app-arg", b"").decode("utf-8", "replace") or body.decode("utf-8", "replace")
        event_uuid = headers.get(b"event-uuid") or str(uuid.uuid4()).encode()
        if name == "break":
            self._break_app(event_uuid)
            return
        if self.app is not None:
            self.queue.append((name, {b"arg": arg.encode(), b"uuid": event_uuid}))
            return
        self._execute(name, arg, event_uuid)

    def _execute(self, name: str, arg: str, event_uuid: bytes) -> None:
        data, terminators = _split_scope(arg)
        app = _App(name, F.encoded_data(data), event_uuid, terminators)
        template = self.t.execute.get(name, self.t.execute["set"])
        self.app = app
        if name == "answer":
            self._write(self._ev(template, app) + self._ev(self.t.answer))
            self._complete(app, "_none_")
        elif name == "playback":
            sound = data.rsplit("/", 1)[-1]
            app.sound = sound
            seconds = caller_in_prompt(self.s, sound, self._later, self._key, self._caller_hangup)
            if seconds == HOLD_SECONDS and not self.held:
                self.held = True
                self.stats.held += 1
            self._write(self._ev(template, app))
            app.timer = self._later(seconds, self._complete, app, "FILE PLAYED")
        elif name == "sleep":
            self._write(self._ev(template, app))
            try:
                ms = int(data)
            except ValueError:
                ms = 0
            app.timer = self._later(ms / 1000, self._complete, app, "_none_")
        elif name == "transfer":
            self._write(self._ev(template, app))
            self.outcome = "transfer:" + (data.split() or [""])[0]
            self._complete(app, "_none_")
        elif name == "hangup":
            self._write(self._ev(template, app))
            self._hangup(app)
        else:
            self._write(self._ev(template, app))
            self._complete(app, "_none_")

    def _break_app(self, event_uuid: bytes) -> None:
        """mod_dptools' break: nested in a running playback (which polls the queue) it ends it; else nothing."""
        brk = _App("break", F.encoded_data("all"), event_uuid)
        self._write(self._ev(self.t.execute["break"], brk) + self._ev(self.t.execute_complete[("break", "_none_")], brk))
        app = self.app
        if app is not None and app.name in ("playback", "sleep"):
            self._complete(app, "FILE PLAYED" if app.name == "playback" else "_none_")

    def _complete(self, app: _App, response: str, before: bytes = b"") -> None:
        if self.app is not app:
            return
        self.app = None
        if app.timer is not None and app.timer is not gevent.getcurrent():
            app.timer.kill(block=False)
        body = self.t.execute_complete.get((app.name, response)) or self.t.execute_complete[("set", response)]
        frames = [before, self._ev(body, app)]
        if app.name == "transfer":
            # The channel leaves the socket app for its new extension.
            self.controlled = False
            frames += [
                self._ev(self.t.unpark),
                self._ev(self.t.socket_complete),
                self._ev(self.t.state_routing),
                self._ev(self.t.state_execute),
            ]
            self._write(b"".join(frames))
            self._await_release()
            return
        self._write(b"".join(frames))
        if self.queue and self.up and self.controlled:
            name, q = self.queue.pop(0)
            self._execute(name, q[b"arg"].decode(), q[b"uuid"])

    # --- the caller ---------------------------------------------------------------

    def _key(self, digit: str, expect: bool) -> None:
        if not self.up or not self.controlled or self.closed:
            return
        frames = self._ev(self.t.dtmf[digit])
        app = self.app
        ends_playback = False
        if app is not None and app.name == "playback":
            terminators = "*" if app.terminators is None else app.terminators
            ends_playback = terminators == "any" or (terminators != "none" and digit in terminators)
        if ends_playback and app is not None:
            # The playback dequeued the digit and ended: its completion goes out with the DTMF event.
            self._complete(app, "FILE PLAYED", before=frames)
        else:
            self._write(frames)
        if expect:
            self.key_at = PC()

    def _caller_hangup(self) -> None:
        self._hangup(None, caller=True)

    def _hangup(self, hangup_app: _App | None = None, caller: bool = False) -> None:
        if not self.up or self.closed:
            return
        self.up = False
        if not self.outcome.startswith("transfer"):
            self.outcome = "hangup"
        frames = [self._ev(self.t.hangup["NORMAL_CLEARING"])]
        app = self.app
        self.app = None
        self.queue.clear()
        if app is not None:
            if app.timer is not None and app.timer is not gevent.getcurrent():
                app.timer.kill(block=False)
            response = "PLAYBACK ERROR" if caller and app.name == "playback" else (
                "FILE PLAYED" if app.name == "playback" else "_none_"
            )
            body = self.t.execute_complete.get((app.name, response)) or self.t.execute_complete[("set", response)]
            frames.append(self._ev(body, app))
        if self.controlled:
            self.controlled = False
            frames += [self._ev(self.t.unpark), self._ev(self.t.socket_complete)]
        frames += [self._ev(self.t.state_hangup), self._ev(self.t.state_reporting), self._ev(self.t.hangup_complete)]
        if self.lingering:
            frames.append(self.t.linger_notice.replace(F.UID_B, self.uid))
            self._write(b"".join(frames))
            self._await_release()
        else:
            frames.append(self.t.final_notice.replace(F.UID_B, self.uid))
            self._write(b"".join(frames))
            self._close()

    def release(self) -> None:
        """The held caller hangs up."""
        self._hangup(None, caller=True)

    def _await_release(self) -> None:
        """The channel has left the server: it must say exit (or close) within release_timeout."""
        if self.release_deadline is None:
            self.release_deadline = gevent.spawn_later(self.release_timeout, self._left_open)

    def _left_open(self) -> None:
        if self.closed:
            return
        self.stats.left_open += 1
        self.stats.problem("server did not exit after the channel was released")
        self._write(self.t.final_notice.replace(F.UID_B, self.uid))
        self._close()
