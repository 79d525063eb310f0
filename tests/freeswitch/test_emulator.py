"""Behaviour of the emulated FreeSWITCH that the captures do not cover."""

from __future__ import annotations

import time
import uuid
from typing import Callable, Iterator

import gevent
import pytest
from gevent.event import Event as GEvent
from gevent.queue import Queue
from gevent.server import StreamServer

from ivrflow.freeswitch import ChannelData, DisconnectNotice, EslEvent, FrameReader, MalformedFrame, Reply
from ivrflow.freeswitch import builders as c
from ivrflow.freeswitch.frames import Frame
from ivrflow.testing import BridgeOutcome, ChannelHistory, CallScript, Faults, Key, start_call

SCALE = 0.01
TIMEOUT = 10


class App:
    """A minimal runtime side: send bytes, wait for frames (with a timeout)."""

    def __init__(self, sock: object) -> None:
        self.sock = sock
        self.frames: Queue[Frame | None] = Queue()
        self.seen: list[Frame] = []
        self.bytes_read = 0
        self._reader = FrameReader()
        self._pump = gevent.spawn(self._read)

    def _read(self) -> None:
        while True:
            data = self.sock.recv(65536)  # type: ignore[attr-defined]
            if not data:
                for frame in self._reader.close():
                    self.frames.put(frame)
                self.frames.put(None)
                return
            self.bytes_read += len(data)
            for frame in self._reader.feed(data):
                self.frames.put(frame)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)  # type: ignore[attr-defined]

    def until(self, pred: Callable[[Frame | None], bool]) -> Frame | None:
        while True:
            frame = self.frames.get(timeout=TIMEOUT)
            if frame is not None:
                self.seen.append(frame)
            if frame is None or pred(frame):
                return frame

    def handshake(self, *, linger: bool = True) -> ChannelData:
        self.send(c.connect())
        data = self.until(lambda f: True)
        assert isinstance(data, ChannelData)
        self.send(c.myevents())
        self.until(lambda f: isinstance(f, Reply))
        if linger:
            self.send(c.linger())
            self.until(lambda f: isinstance(f, Reply))
        return data

    def execute(self, app: str, arg: str | None = None, **kw: object) -> EslEvent:
        app_uuid = str(uuid.uuid4())
        self.send(c.execute(app, arg, event_uuid=app_uuid, **kw))  # type: ignore[arg-type]
        done = self.until(lambda f: isinstance(f, EslEvent) and f.name == "CHANNEL_EXECUTE_COMPLETE" and f.get("Application-UUID") == app_uuid)
        assert isinstance(done, EslEvent)
        return done

    def events(self, name: str) -> list[EslEvent]:
        return [f for f in self.seen if isinstance(f, EslEvent) and f.name == name]

    def finish(self) -> None:
        self.send(c.exit_())
        self.until(lambda f: f is None)


def serve(app_logic: Callable[[App], None], script: CallScript) -> tuple[ChannelHistory, App]:
    """Run one emulated call against ``app_logic``; both sides must finish."""
    holder: list[App] = []
    errors: list[Exception] = []
    finished = GEvent()

    def handle(sock: object, _addr: object) -> None:
        app = App(sock)
        holder.append(app)
        try:
            app_logic(app)
        except Exception as exc:  # re-raised in the test's greenlet below
            errors.append(exc)
        finally:
            sock.close()  # type: ignore[attr-defined]
            finished.set()

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    try:
        record = start_call(("127.0.0.1", server.server_port), script).get(timeout=TIMEOUT)
        assert finished.wait(TIMEOUT), "the application side did not finish"
    finally:
        server.stop(timeout=1)
    if errors:
        raise errors[0]
    return record, holder[0]


def test_answer_playback_with_scoped_terminators_and_type_ahead() -> None:
    script = CallScript(time_scale=SCALE, sounds={"/s/menu.wav": 5.0}, keys=[Key(1.0, "7"), Key(2.0, "8")])

    def logic(app: App) -> None:
        app.handshake()
        app.execute("answer")
        done = app.execute("playback", c.playback_arg("/s/menu.wav", terminators="any"))
        assert done.get("Application-Response") == "FILE PLAYED"
        assert done.get("variable_playback_terminator_used") == "7"
        # Scoped: the channel variable itself was never set.
        assert "variable_playback_terminators" not in done.headers
        # The second digit arrives while parked: evented at once.
        app.until(lambda f: isinstance(f, EslEvent) and f.name == "DTMF")
        app.send(c.hangup("NORMAL_CLEARING"))
        app.until(lambda f: isinstance(f, DisconnectNotice) and f.is_linger)
        app.finish()

    record, app = serve(logic, script)
    assert [d for _, d in record.dtmf] == ["7", "8"]
    assert [e.get("DTMF-Digit") for e in app.events("DTMF")] == ["7", "8"]
    assert record.final_state == "hangup:NORMAL_CLEARING"
    assert record.closed_by == "exit"
    assert record.answered


def test_the_switch_counts_what_it_wrote_and_the_commands_it_read() -> None:
    def logic(app: App) -> None:
        app.handshake()
        app.execute("answer")
        app.finish()

    record, app = serve(logic, CallScript(time_scale=SCALE))
    # Every frame the application read, the event heads and bodies written apart counted once.
    assert record.frames_sent == len(app.seen) >= 7
    assert record.bytes_sent == app.bytes_read
    assert [command.name for _, command in record.received] == ["connect", "myevents", "linger", "sendmsg", "exit"]


def test_uuid_break_before_the_app_started_is_lost() -> None:
    script = CallScript(time_scale=SCALE, sounds={"/s/long.wav": 3.0})

    def logic(app: App) -> None:
        data = app.handshake()
        # One write: the break is handled before the park loop's next frame starts the playback.
        app.send(c.execute("playback", "/s/long.wav", event_uuid=str(uuid.uuid4())) + c.uuid_break(data.unique_id))
        app.until(lambda f: isinstance(f, EslEvent) and f.name == "CHANNEL_EXECUTE_COMPLETE")
        app.finish()

    record, _ = serve(logic, script)
    (run,) = record.applications
    assert run.ended is not None and run.ended - run.started >= 2.9


def _break_app() -> bytes:
    return c.execute("break", "all", event_uuid=str(uuid.uuid4()))


@pytest.mark.parametrize("break_after", [None, 1.0], ids=["queued behind the playback", "sent while it plays"])
def test_the_break_app_ends_a_playback_it_queues_behind_or_nests_in(break_after: float | None) -> None:
    script = CallScript(time_scale=SCALE, sounds={"/s/long.wav": 3.0})

    def logic(app: App) -> None:
        app.handshake()
        playback = c.execute("playback", "/s/long.wav", event_uuid=str(uuid.uuid4()))
        if break_after is None:
            app.send(playback + _break_app())  # mod_dptools break, unlike uuid_break, waits in the queue
        else:
            app.send(playback)
            gevent.sleep(break_after * SCALE)
            app.send(_break_app())
        app.until(lambda f: isinstance(f, EslEvent) and f.name == "CHANNEL_EXECUTE_COMPLETE" and f.get("Application") == "playback")
        app.finish()

    record, _ = serve(logic, script)
    playback, brk = record.applications
    assert (brk.name, brk.arg, brk.depth) == ("break", "all", 1)  # ran inside the playback, which polls the queue
    assert playback.ended is not None and playback.response == "FILE PLAYED"
    assert playback.ended - playback.started < (break_after or 0.0) + 0.5  # not the 3 s it lasts


def test_a_break_app_that_found_nothing_playing_leaves_the_next_playback_alone() -> None:
    script = CallScript(time_scale=SCALE, sounds={"/s/p.wav": 1.0})

    def logic(app: App) -> None:
        app.handshake()
        app.execute("break", "all")  # in the park loop: the flag it sets is cleared by the next app's start
        app.execute("playback", "/s/p.wav")
        app.finish()

    record, _ = serve(logic, script)
    brk, playback = record.applications
    assert brk.depth == 0 and playback.ended is not None and playback.ended - playback.started >= 0.95


def test_missing_file_and_unknown_application() -> None:
    script = CallScript(time_scale=SCALE, missing_sounds=frozenset({"/s/nope.wav"}))

    def logic(app: App) -> None:
        app.handshake()
        assert app.execute("playback", "/s/nope.wav").get("Application-Response") == "FILE NOT FOUND"
        app.send(c.execute("no_such_app", "x", event_uuid=str(uuid.uuid4())))
        app.until(lambda f: isinstance(f, DisconnectNotice))
        app.finish()

    record, app = serve(logic, script)
    assert record.hangup_cause == "DESTINATION_OUT_OF_ORDER"
    assert [e.get("Application") for e in app.events("CHANNEL_EXECUTE")] == ["playback"]


@pytest.mark.parametrize(
    ("outcome", "continue_on_fail", "cause", "bridged"),
    [
        (BridgeOutcome("answer", ring_seconds=0.5, talk_seconds=1.0), False, "NORMAL_CLEARING", "sofia/gw/100"),
        # NO_ANSWER leaves the A leg up; the call ends only when the socket exits.
        (BridgeOutcome("no_answer", ring_seconds=0.5), False, "NORMAL_CLEARING", None),
        (BridgeOutcome("busy", ring_seconds=0.5), False, "USER_BUSY", None),
        (BridgeOutcome("busy", ring_seconds=0.5), True, "NORMAL_CLEARING", None),
    ],
)
def test_bridge_outcomes(outcome: BridgeOutcome, continue_on_fail: bool, cause: str, bridged: str | None) -> None:
    script = CallScript(
        time_scale=SCALE,
        bridge_outcomes={"sofia/gw/100": outcome},
        default_bridge_outcome=BridgeOutcome("no_answer", ring_seconds=0.7),
    )

    def logic(app: App) -> None:
        app.handshake()
        if continue_on_fail:
            app.execute("set", c.set_arg("continue_on_fail", "true"))
        done = app.execute("bridge", c.bridge_arg("sofia/gw/{number}", ["100", "200"]))
        assert done.get("Application-Response") == "_none_"
        expected_status = {"answer": "SUCCESS", "no_answer": "NOANSWER", "busy": "BUSY"}[outcome.result]
        assert done.get("variable_DIALSTATUS") == expected_status
        app.finish()

    record, app = serve(logic, script)
    assert record.bridged_to == bridged
    assert record.hangup_cause == cause
    assert len(app.events("CHANNEL_BRIDGE")) == len(app.events("CHANNEL_UNBRIDGE")) == (1 if bridged else 0)


@pytest.mark.parametrize(
    ("outcomes", "causes"),
    [
        # One answers: it is still up (NONE); one failed before by itself; the other lost the race.
        ((BridgeOutcome("answer", 0.5, 0.1), BridgeOutcome("busy", 0.2), BridgeOutcome("no_answer", 0.7)), ["NONE", "USER_BUSY", "LOSE_RACE"]),
        # Nobody answers before originate_timeout (1 s): what still rings then is NO_ANSWER.
        ((BridgeOutcome("answer", 3.0), BridgeOutcome("rejected", 0.2), BridgeOutcome("no_answer", 2.0)), ["NO_ANSWER", "CALL_REJECTED", "NO_ANSWER"]),
    ],
)
def test_a_bridge_pushes_each_legs_cause_onto_originate_causes(outcomes: tuple[BridgeOutcome, ...], causes: list[str]) -> None:
    legs = [str(uuid.uuid4()) for _ in outcomes]
    script = CallScript(time_scale=SCALE, bridge_outcomes={f"sofia/gw/{n}": o for n, o in zip(("100", "200", "300"), outcomes)})
    seen: list[str] = []

    def logic(app: App) -> None:
        app.handshake()
        app.execute("set", c.set_arg("continue_on_fail", "true"))
        arg = c.bridge_arg("sofia/gw/{number}", ["100", "200", "300"], variables={"originate_timeout": "1"}, leg_uuids=legs)
        for _ in range(2):  # a second bridge's entries come after the first's
            seen.append(app.execute("bridge", arg).get("variable_originate_causes") or "")
        app.finish()

    serve(logic, script)
    entries = [f"{leg};{cause}" for leg, cause in zip(legs, causes)]
    assert seen == ["ARRAY::" + "|:".join(entries), "ARRAY::" + "|:".join(entries * 2)]


def test_transfer_keeps_the_socket_and_later_commands_run_on_the_new_extension() -> None:
    script = CallScript(time_scale=SCALE, transfer_extensions={"200": [("answer", ""), ("park", "")]})

    def logic(app: App) -> None:
        app.handshake()
        app.execute("transfer", c.transfer_arg("200", "default"))
        app.until(lambda f: isinstance(f, EslEvent) and f.get("Application") == "socket")
        app.until(lambda f: isinstance(f, EslEvent) and f.name == "CHANNEL_PARK")
        assert app.execute("playback", "/s/after.wav").get("Caller-Destination-Number") == "200"
        app.finish()

    record, _ = serve(logic, script)
    assert record.transferred_to == "200"
    assert record.app_names() == ["transfer", "answer", "park", "playback"]
    # Closing the socket clears CF_CONTROLLED, which knocks the target's park
    # out: the channel falls off the end of the dialplan (signalwire/freeswitch#580).
    assert record.hangup_cause == "NORMAL_CLEARING"


def test_without_full_the_full_only_commands_are_refused() -> None:
    script = CallScript(time_scale=SCALE, full=False)

    def logic(app: App) -> None:
        data = app.handshake(linger=False)
        assert data.headers["Control"] == "single-channel"
        for command in (c.linger(), c.uuid_break(data.unique_id), b"event plain DTMF\n\n"):
            app.send(command)
            assert app.until(lambda f: isinstance(f, Reply)) == Reply("-ERR command not found", {"Content-Type": "command/reply"})
        app.finish()

    serve(logic, script)


def test_caller_hangup_without_linger_closes_the_socket() -> None:
    script = CallScript(time_scale=SCALE, caller_hangup=(1.0, "USER_BUSY"))

    def logic(app: App) -> None:
        app.handshake(linger=False)
        app.until(lambda f: f is None)

    record, app = serve(logic, script)
    assert record.closed_by == "emulator"
    assert record.hangup_cause == "USER_BUSY"
    assert isinstance(app.seen[-1], DisconnectNotice) and app.seen[-1].disposition == "disconnect"


def test_no_command_at_all_times_out_with_a_goodbye() -> None:
    script = CallScript(time_scale=SCALE, first_command_timeout=25.0)

    def logic(app: App) -> None:
        app.until(lambda f: f is None)

    record, app = serve(logic, script)
    assert record.closed_by == "emulator"
    assert record.protocol_errors
    assert isinstance(app.seen[0], DisconnectNotice)


def test_faults() -> None:
    hostile = "x%0AEvent-Name: FORGED%0A: ü"
    script = CallScript(
        time_scale=SCALE,
        faults=Faults(
            fail_commands={"linger": "-ERR not today"},
            close_mid_frame_after=6,
            hostile_variable=("ivr_hostile", hostile),
        ),
    )

    def logic(app: App) -> None:
        app.send(c.connect())
        data = app.until(lambda f: True)
        assert isinstance(data, ChannelData)
        assert data.headers["variable_ivr_hostile"] == "x\nEvent-Name: FORGED\n: ü"
        app.send(c.myevents())
        app.until(lambda f: True)
        app.send(c.linger())
        assert app.until(lambda f: isinstance(f, Reply)) == Reply("-ERR not today", {"Content-Type": "command/reply"})
        app.send(c.execute("answer", event_uuid=str(uuid.uuid4())))
        app.until(lambda f: f is None)

    record, app = serve(logic, script)
    assert record.closed_by == "emulator"
    assert isinstance(app.seen[-1], MalformedFrame)
    assert all(f.name != "FORGED" for f in app.seen if isinstance(f, EslEvent))


def _many(count: int) -> Iterator[CallScript]:
    for _ in range(count):
        # 500 connections set up at once in a process that has run the whole suite: give the
        # application side 10 s of real time to say connect, not the default 0.25 s at this scale.
        yield CallScript(
            time_scale=SCALE, sounds={"/s/p.wav": 2.0}, keys=[Key(0.5, "1")], first_command_timeout=1000.0
        )


def test_five_hundred_concurrent_calls() -> None:
    def handle(sock: object, _addr: object) -> None:
        app = App(sock)
        try:
            app.handshake()
            app.execute("answer")
            app.execute("playback", c.playback_arg("/s/p.wav", terminators="none"))
            app.send(c.hangup())
            app.until(lambda f: isinstance(f, DisconnectNotice))
            app.finish()
        finally:
            sock.close()  # type: ignore[attr-defined]

    server = StreamServer(("127.0.0.1", 0), handle, backlog=1024)
    server.start()
    started = time.monotonic()
    try:
        calls = [start_call(("127.0.0.1", server.server_port), s) for s in _many(500)]
        gevent.joinall(calls, timeout=60, raise_error=True)
    finally:
        server.stop(timeout=1)
    records = [call.get() for call in calls]
    assert all(r.final_state == "hangup:NORMAL_CLEARING" and r.closed_by == "exit" for r in records)
    assert all([d for _, d in r.dtmf] == ["1"] for r in records)
    assert time.monotonic() - started < 30
