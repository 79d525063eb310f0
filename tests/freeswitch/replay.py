"""Replay a captured transcript's APP->FS side against the emulator and compare the answers.

A tiny gevent server plays the application: it sends exactly the captured
APP->FS chunks, each one once the emulator has sent as many frames as the real
FreeSWITCH had sent before it *and* once its call time (scaled) has come.  The
emulator is seeded from the transcript itself: the channel data of the
``connect`` reply, the caller's actions from the inbound capture (DTMF,
``uuid_kill``), and the scenario's sound durations.

Frames are compared one by one after normalisation.  What is ignored, and why:

* ``Event-Date-Local``, ``Event-Date-GMT``, ``Event-Date-Timestamp``: wall clock.
* ``Event-Sequence``: the switch-wide event counter.
* Every UUID anywhere (``Unique-ID``, ``Application-UUID``, ``Job-UUID``, the
  uuid inside ``Caller-Transfer-Source``...): replaced by ``<uuid-N>`` in order
  of first appearance in each stream, so *which* uuid goes where is compared.
* Numbers of 10 digits or more (epoch seconds and microsecond timestamps such
  as ``Caller-Channel-Answered-Time``): replaced by ``<time>``; ``0`` stays ``0``.
* ``variable_*`` headers: only the variables in ``COMPARED_VARIABLES`` are
  compared (presence and value), plus whether the event carries variables at
  all.  The rest of the channel's variable set (billing stamps on
  CHANNEL_HANGUP_COMPLETE, loopback and codec bookkeeping, read-ahead overshoot
  of ``playback_ms``...) is not modelled.
* The *order* of header names is compared for everything but the variables.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Iterable

import gevent
from gevent.event import Event as GEvent
from gevent.server import StreamServer

from ivrflow.freeswitch import (
    ApiResponse,
    ChannelData,
    DisconnectNotice,
    EslEvent,
    FrameReader,
    MalformedFrame,
    OtherFrame,
    Reply,
)
from ivrflow.freeswitch.frames import Frame
from ivrflow.testing import ChannelHistory, CallScript, HostIdentity, Key, start_call

from .transcripts import Chunk, Note, load

SOUNDS = "/srv/freeswitch/sounds/"
SOUND_SECONDS = {
    SOUNDS + "hello.wav": 4.209,
    SOUNDS + "advertising.wav": 1.858,
    SOUNDS + "long10s.wav": 10.0,
    SOUNDS + "beep.wav": 1.0,
    "tone_stream://%(500,500,440);loops=20": 20.0,
}
# 16: beep.wav ended 20 ms before the digit came. With a beep of 0.9 s, the emulator's longer frame
# (below) and TIME_SCALE that left 15-25 ms of wall time, which a loaded machine's scheduling ate
# once; with the beep halved and the capture run at SLOWER's speed it is 200 ms or more.
SOUNDS_FOR = {"16": {SOUNDS + "beep.wav": 0.5}}
MISSING = frozenset({SOUNDS + "does-not-exist.wav"})
# The dialplan the captures transferred to: sets a marker, answers, plays a tone.
TRANSFER_EXTENSION = (
    ("set", "transfer_landed={destination}"),
    ("answer", ""),
    ("playback", "tone_stream://%(500,500,440);loops=20"),
)

COMPARED_VARIABLES = frozenset(
    {
        "variable_current_application",
        "variable_current_application_data",
        "variable_current_application_response",
        "variable_playback_terminator_used",
        "variable_playback_terminators",
        "variable_endpoint_disposition",
        "variable_transfer_landed",
        "variable_ivr_note",
        "variable_ivr_exported",
        "variable_ivr_long",
        "variable_ivr_pct",
        "variable_ivr_x",
        "variable_current_loop",
        "variable_total_loops",
    }
)
IGNORED_VALUES = frozenset({"Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Sequence"})

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LONG_NUMBER = re.compile(r"\d{10,}")

TIME_SCALE = 0.2
# Captures whose caller acts within milliseconds of the application's commands
# run slower, so that scheduling jitter cannot reorder the two.
SLOWER = {"16": 0.5, "17": 0.5, "23": 0.5}
# FreeSWITCH's media frame is 20 ms; a longer one keeps commands the capture
# sent back to back inside one park-loop frame despite scheduling jitter.
FRAME_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Step:
    """One APP->FS chunk: its bytes, its call time and how many frames preceded it."""

    t: float
    data: bytes
    after_frames: int


@dataclass(slots=True)
class Scenario:
    name: str
    steps: list[Step]
    expected: list[Frame]
    script: CallScript


def _frames(data: Iterable[bytes]) -> list[Frame]:
    reader = FrameReader()
    return [frame for chunk in data for frame in reader.feed(chunk)]


def build(name: str) -> Scenario:
    items = load(name)
    accepted = next(i.t for i in items if isinstance(i, Note) and i.text.startswith("accepted"))
    reader = FrameReader()
    expected: list[Frame] = []
    steps: list[Step] = []
    for item in items:
        if not isinstance(item, Chunk):
            continue
        if item.sent:
            steps.append(Step(item.t - accepted, item.data, len(expected)))
        else:
            expected.extend(reader.feed(item.data))
    return Scenario(name, steps, expected, _script(name, accepted, expected, steps))


def _script(name: str, accepted: float, expected: list[Frame], steps: list[Step]) -> CallScript:
    data = expected[0]
    assert isinstance(data, ChannelData)
    headers = data.headers
    profile = [(k[len("Caller-") :], v) for k, v in headers.items() if k.startswith("Caller-")]
    variables = [(k[len("variable_") :], v) for k, v in headers.items() if k.startswith("variable_")]
    a_leg = headers.get("variable_other_loopback_leg_uuid", "")
    keys, hangup = _caller_actions(name, accepted, data.unique_id, a_leg)
    return CallScript(
        unique_id=data.unique_id,
        channel_name=headers["Channel-Name"],
        destination_number=headers["Caller-Destination-Number"],
        profile_override=profile,
        variables_override=variables,
        host=HostIdentity(
            core_uuid=headers["Core-UUID"],
            hostname=headers["FreeSWITCH-Hostname"],
            switchname=headers["FreeSWITCH-Switchname"],
            ipv4=headers["FreeSWITCH-IPv4"],
            ipv6=headers["FreeSWITCH-IPv6"],
        ),
        socket_mode="async" if headers["Socket-Mode"] == "async" else "static",
        full=headers["Control"] == "full",
        socket_app_data=headers["variable_current_application_data"],
        sounds={**SOUND_SECONDS, **SOUNDS_FOR.get(name, {})},
        missing_sounds=MISSING,
        keys=keys,
        caller_hangup=hangup,
        transfer_extensions={"002": TRANSFER_EXTENSION, "+79990001122": TRANSFER_EXTENSION, "0123456789": TRANSFER_EXTENSION},
        unrouted=frozenset({"None"}),  # 06e: greenswitch's unset transfer_on_fail
        park_after_commands=_park_after(expected, steps),
        # The capture says after how many commands the park showed; time must not preempt it.
        park_after_seconds=5.0,
        linger_notice_early=_linger_notice_early(expected),
        time_scale=SLOWER.get(name, TIME_SCALE),
        frame_seconds=FRAME_SECONDS,
    )


def _park_after(expected: list[Frame], steps: list[Step]) -> int:
    """How many commands were answered when CHANNEL_PARK went out (1: it was never seen)."""
    for index, frame in enumerate(expected):
        if isinstance(frame, EslEvent) and frame.name == "CHANNEL_PARK":
            replies = sum(1 for f in expected[:index] if isinstance(f, (Reply, ChannelData, ApiResponse)))
            return replies
    return 1


def _linger_notice_early(expected: list[Frame]) -> bool:
    names = [f.name if isinstance(f, EslEvent) else type(f).__name__ for f in expected]
    if "DisconnectNotice" not in names or "CHANNEL_HANGUP_COMPLETE" not in names:
        return False
    return names.index("DisconnectNotice") < names.index("CHANNEL_HANGUP_COMPLETE")


_DTMF_MEDIA_DELAY = 0.02


def _caller_actions(
    name: str, accepted: float, b_leg: str, a_leg: str
) -> tuple[list[Key], tuple[float, str] | None]:
    """DTMF and caller hangups the inbound connection caused on the socket's channel."""
    keys: list[Key] = []
    hangup: tuple[float, str] | None = None
    for item in load(name, inbound=True):
        if not isinstance(item, Chunk) or not item.sent or not item.data.startswith(b"api "):
            continue
        words = item.data.decode().split()
        t = item.t - accepted + _DTMF_MEDIA_DELAY
        if words[1] == "uuid_recv_dtmf" and words[2] == b_leg:
            digits, _, ms = words[3].partition("@")
            keys.append(Key(t, digits, "APP", int(ms) * 8 if ms else 2000))
        elif words[1] == "uuid_send_dtmf" and words[2] == a_leg:
            keys.append(Key(t, words[3], "UNKNOWN"))
        elif words[1] == "uuid_kill" and words[2] == a_leg and hangup is None:
            hangup = (t, words[3] if len(words) > 3 else "NORMAL_CLEARING")
    return keys, hangup


# Running ------------------------------------------------------------------------------


@dataclass(slots=True)
class Replay:
    frames: list[Frame]
    record: ChannelHistory


def run(scenario: Scenario, *, frame_wait: float = 3.0) -> Replay:
    """Play the scenario's APP side against a fresh emulator; return what it sent back."""
    received: list[bytes] = []
    arrived = GEvent()
    done = GEvent()
    count = [0]

    def handle(sock: object, _addr: object) -> None:
        reader = FrameReader()
        t0 = time.monotonic()

        def pump() -> None:
            while True:
                data = sock.recv(65536)  # type: ignore[attr-defined]
                if not data:
                    done.set()
                    arrived.set()
                    return
                received.append(data)
                count[0] += len(reader.feed(data))
                arrived.set()

        pumper = gevent.spawn(pump)
        for step in scenario.steps:
            deadline = time.monotonic() + frame_wait
            while count[0] < step.after_frames and not done.is_set():
                arrived.clear()
                if not arrived.wait(max(deadline - time.monotonic(), 0)):
                    break
            delay = t0 + step.t * scenario.script.time_scale - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            if done.is_set():
                break
            sock.sendall(step.data)  # type: ignore[attr-defined]
        done.wait(10)
        pumper.kill()
        sock.close()  # type: ignore[attr-defined]

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    try:
        record = start_call(("127.0.0.1", server.server_port), scenario.script).get(timeout=30)
        done.wait(10)
    finally:
        server.stop(timeout=1)
    return Replay(_frames(received), record)


# Normalising ----------------------------------------------------------------------------


class Normaliser:
    """Replaces run-varying values; one instance per stream so uuids are numbered per stream."""

    def __init__(self) -> None:
        self._uuids: dict[str, str] = {}

    def value(self, text: str) -> str:
        text = _UUID.sub(self._uuid, text)
        return _LONG_NUMBER.sub("<time>", text)

    def _uuid(self, match: re.Match[str]) -> str:
        return self._uuids.setdefault(match.group(0).lower(), f"<uuid-{len(self._uuids) + 1}>")

    def headers(self, headers: dict[str, str] | object) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        variables: list[tuple[str, str]] = []
        has_variables = False
        for name, value in headers.items():  # type: ignore[attr-defined]
            if name.startswith("variable_"):
                has_variables = True
                if name in COMPARED_VARIABLES:
                    variables.append((name, self.value(value)))
                continue
            out.append((name, "<ignored>" if name in IGNORED_VALUES else self.value(value)))
        out.append(("<has variables>", str(has_variables)))
        # Variable order depends on FreeSWITCH's full variable history; values do not.
        out.extend(sorted(variables))
        return out

    def frame(self, frame: Frame) -> tuple[object, ...]:
        if isinstance(frame, Reply):
            return ("reply", self.value(frame.text), self.headers(dict(frame.headers)))
        if isinstance(frame, ApiResponse):
            return ("api", self.value(frame.body))
        if isinstance(frame, DisconnectNotice):
            return ("notice", frame.disposition, frame.linger_time, self.headers(dict(frame.headers)), frame.body)
        if isinstance(frame, ChannelData):
            return ("channel-data", self.headers(dict(frame.headers)))
        if isinstance(frame, EslEvent):
            return ("event", frame.name, self.headers(dict(frame.headers)), frame.body)
        if isinstance(frame, (OtherFrame, MalformedFrame)):
            return ("other", repr(frame))
        raise TypeError(frame)


def summary(frame: Frame) -> str:
    return _UUID.sub("<uuid>", _summary(frame))


def _summary(frame: Frame) -> str:
    if isinstance(frame, EslEvent):
        extra = [frame.headers.get(h) for h in ("Application", "Application-Response", "DTMF-Digit", "Hangup-Cause")]
        return f"{frame.name} {' '.join(x for x in extra if x)}"
    if isinstance(frame, Reply):
        return f"reply {frame.text}"
    if isinstance(frame, ApiResponse):
        return f"api {frame.body!r}"
    if isinstance(frame, DisconnectNotice):
        return f"notice {frame.disposition}"
    return type(frame).__name__


def differences(expected: list[Frame], actual: list[Frame]) -> list[str]:
    """Human-readable differences between two frame streams (empty when they match)."""
    left, right = Normaliser(), Normaliser()
    problems: list[str] = []
    exp_sum = [summary(f) for f in expected]
    act_sum = [summary(f) for f in actual]
    if exp_sum != act_sum:
        problems.append("frame sequence differs:\n  expected: " + "\n            ".join(exp_sum) + "\n  actual:   " + "\n            ".join(act_sum))
        return problems
    for index, (e, a) in enumerate(zip(expected, actual)):
        ne, na = left.frame(e), right.frame(a)
        if ne != na:
            problems.append(f"frame {index} ({exp_sum[index]}): " + _field_diff(ne, na))
    return problems


def _field_diff(expected: tuple[object, ...], actual: tuple[object, ...]) -> str:
    def fields(t: tuple[object, ...]) -> list[tuple[str, str]]:
        return next((x for x in t if isinstance(x, list)), [])

    fe, fa = fields(expected), fields(actual)
    names_e, names_a = [n for n, _ in fe], [n for n, _ in fa]
    if names_e != names_a:
        at = next((i for i, (x, y) in enumerate(zip(names_e, names_a)) if x != y), min(len(names_e), len(names_a)))
        return f"headers differ from #{at}:\n    expected {names_e[at:at + 8]}\n    actual   {names_a[at:at + 8]}"
    diffs = [f"{n}: {ve!r} != {va!r}" for (n, ve), (_, va) in zip(fe, fa) if ve != va]
    return "; ".join(diffs) or f"{expected!r} != {actual!r}"
