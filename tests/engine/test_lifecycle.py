"""How a call ends: lifetime, the caller hanging up, transfer verdicts, switch failures
(README "How a call walks a menu", 8 and 9, and the one record of every call)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ivrflow.engine import (
    CallerHungUp,
    CallFinished,
    CallStarted,
    CancelTimer,
    ShutdownRequested,
    DtmfReceived,
    Event,
    Hangup,
    PlaybackFinished,
    State,
    StopPlayback,
    SwitchFailed,
    Timer,
    TimerFired,
    TimerKind,
    Transfer,
    TransferFinished,
)

from .helpers import Driver, bg, briefs, context, fg, menu, record, switch, switch_commands, transfer

# One chain of steps walks a call through every live state, in this order.
CHAIN_MENU = menu(
    context(
        {"start": [fg(2), bg(1), record("r", 3, sound=3)], "123": [transfer("200")]},
        digit_len=3,
    ),
    sleep_time=1000,
    lifetime=60,
)

Step = Callable[[Driver], object]
STATES: list[tuple[str, State, list[Step]]] = [
    ("sleeping", State.SLEEPING, [lambda d: d.start()]),
    ("playing foreground", State.PLAYING, [lambda d: d.fire(TimerKind.SLEEP)]),
    ("playing background", State.PLAYING, [lambda d: d.played()]),
    ("recording, its prompt", State.RECORDING, [lambda d: d.played()]),
    ("recording, its digits", State.RECORDING, [lambda d: d.press("1")]),
    ("collecting, first digit", State.COLLECTING, [lambda d: d.press("23")]),
    ("collecting, between digits", State.COLLECTING, [lambda d: d.press("1")]),
    ("transferring", State.TRANSFERRING, [lambda d: d.press("23")]),
]


def reach(name: str) -> Driver:
    d = Driver(CHAIN_MENU)
    for state_name, state, steps in STATES:
        for step in steps:
            step(d)
        assert d.call.state is state, state_name
        if state_name == name:
            return d
    raise AssertionError(name)


def after_the_end(d: Driver) -> list[Event]:
    """Every kind of event, including each timer the engine ever started."""
    return [
        DtmfReceived(99.0, "1"),
        DtmfReceived(99.0, "#"),
        *(PlaybackFinished(99.0, pid) for pid in d.plays),
        *(TimerFired(99.0, t) for t in d.all_timers),
        TransferFinished(99.0, ok=True),
        TransferFinished(99.0, ok=False, cause="NO_ANSWER"),
        CallerHungUp(99.0),
        SwitchFailed(99.0, "socket closed"),
        CallStarted(99.0),
    ]


@pytest.mark.parametrize("name", [name for name, _, _ in STATES])
def test_caller_hangup_in_every_live_state(name: str) -> None:
    d = reach(name)
    live = d.live_timers()
    d.at(42.0)
    out = d.hang_up("ORIGINATOR_CANCEL")
    # nothing more for the switch: no StopPlayback, Hangup, Play or Transfer; only the adapter's timers go
    assert all(isinstance(o, (CancelTimer, CallFinished)) for o in out), briefs(out)
    assert {o.timer for o in out if isinstance(o, CancelTimer)} == live
    if name != "transferring":  # a transfer already cancelled every timer
        assert TimerKind.LIFETIME in {t.kind for t in live}
    assert isinstance(out[-1], CallFinished)
    assert sum(isinstance(o, CallFinished) for o in d.log) == 1
    assert d.record.outcome == "caller_hangup"
    assert "ORIGINATOR_CANCEL" in d.record.reason
    assert d.record.ended_at == 42.0
    assert d.call.state is State.ENDED
    for event in after_the_end(d):
        assert d.feed(event) == [], event


def test_caller_hangup_during_a_transfer_says_so() -> None:
    d = reach("transferring")
    d.hang_up()
    assert "during transfer" in d.record.reason
    assert d.record.transfer_destinations == ("200",)


def test_events_before_the_call_started_change_nothing() -> None:
    d = Driver(CHAIN_MENU)
    for event in [DtmfReceived(0.0, "1"), PlaybackFinished(0.0, 1), TimerFired(0.0, Timer(TimerKind.SLEEP, 1)), TransferFinished(0.0, ok=True)]:
        assert d.feed(event) == []
    assert d.call.state is State.NEW
    assert briefs(d.start()) == [("answer",), ("timer", "lifetime", 60.0), ("timer", "sleep", 1.0)]


def test_a_second_call_started_is_ignored() -> None:
    d = reach("collecting, first digit")
    assert d.feed(CallStarted(30.0, {"x": "1"})) == []
    assert d.call.state is State.COLLECTING


def test_caller_hangup_before_the_call_started_sends_nothing_and_lasts_no_time() -> None:
    """NEW is not live: a caller gone before CallStarted still leaves one record, of no duration."""
    d = Driver(CHAIN_MENU)
    out = d.at(1234.5).hang_up()
    assert [type(o) for o in out] == [CallFinished]
    assert d.record.outcome == "caller_hangup"
    assert d.record.path == ()
    assert d.record.ended_at == 1234.5
    assert d.record.duration == 0.0  # started_at is 0.0, not the moment the call was seen


# --- lifetime -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sleeping", [("cancel", "sleep"), ("hangup", "NORMAL_CLEARING"), ("finished", "lifetime")]),
        ("playing foreground", [("stop",), ("hangup", "NORMAL_CLEARING"), ("finished", "lifetime")]),
        ("playing background", [("stop",), ("hangup", "NORMAL_CLEARING"), ("finished", "lifetime")]),
        ("recording, its prompt", [("stop",), ("hangup", "NORMAL_CLEARING"), ("finished", "lifetime")]),
        ("recording, its digits", [("cancel", "inter_digit"), ("hangup", "NORMAL_CLEARING"), ("finished", "lifetime")]),
        ("collecting, first digit", [("cancel", "first_digit"), ("hangup", "NORMAL_CLEARING"), ("finished", "lifetime")]),
        ("collecting, between digits", [("cancel", "inter_digit"), ("hangup", "NORMAL_CLEARING"), ("finished", "lifetime")]),
    ],
)
def test_lifetime_ends_the_call_in_every_state(name: str, expected: list[tuple[Any, ...]]) -> None:
    d = reach(name)
    playing = d.plays[-1] if d.plays else None
    out = d.at(60.0).fire(TimerKind.LIFETIME)
    assert briefs(out) == expected
    if ("stop",) in expected:
        assert out[0] == StopPlayback(playing)  # type: ignore[arg-type]
    assert d.live_timers() == set()
    assert d.record.outcome == "lifetime"
    assert "60" in d.record.reason
    for event in after_the_end(d):
        assert d.feed(event) == []


def test_lifetime_timer_is_cancelled_by_a_transfer() -> None:
    d = reach("transferring")
    assert TimerKind.LIFETIME in {t.kind for t in d.cancelled}
    assert d.fire(TimerKind.LIFETIME) == []  # stale; the switch has the call now
    assert briefs(d.transfer_result(ok=True)) == [("finished", "transfer")]


LIFETIME_TRANSFER = menu(
    context({"start": [bg(1)], "1": [transfer("111")]}, digit_len=3),
    lifetime=30,
    lifetime_exp_action="transfer",
    lifetime_exp_transfer_dst="777",
)


def test_lifetime_with_a_transfer_mid_play() -> None:
    d = Driver(LIFETIME_TRANSFER)
    d.start()
    prompt = d.plays[-1]
    out = d.at(30.0).fire(TimerKind.LIFETIME)
    assert out == [StopPlayback(prompt), Transfer(("777",), "transfer")]
    assert d.played(prompt) == []
    assert briefs(d.transfer_result(ok=True)) == [("finished", "lifetime")]
    assert d.record.transfer_destinations == ("777",)
    assert "lifetime" in d.record.reason


def test_lifetime_with_a_transfer_mid_input() -> None:
    d = Driver(LIFETIME_TRANSFER)
    d.start()
    d.played()
    d.press("9")  # no option begins with 9: waits for more digits
    out = d.at(30.0).fire(TimerKind.LIFETIME)
    assert briefs(out) == [("cancel", "inter_digit"), ("transfer", "777")]
    assert d.live_timers() == set()
    out = d.transfer_result(ok=False, cause="USER_BUSY")
    assert switch_commands(out) == [("hangup", "NORMAL_CLEARING")]
    assert d.record.outcome == "lifetime"
    assert "USER_BUSY" in d.record.reason


@pytest.mark.parametrize("lifetime", [0, 1800])
def test_lifetime_timer_only_when_set(lifetime: int) -> None:
    d = Driver(menu(context({"start": []}), lifetime=lifetime))
    lifetimes = [b for b in briefs(d.start()) if b[:2] == ("timer", "lifetime")]
    assert lifetimes == ([("timer", "lifetime", 1800.0)] if lifetime else [])


def test_lifetime_zero_never_ends_a_looping_call() -> None:
    looping = menu(context({"start": [bg(1)], "timeout": [{"action": "jump_to_context", "context": 1}]}), lifetime=0)
    sw = switch(looping)
    sw.start()
    sw.advance(2000.0)  # 250 rounds of 3 s prompt + 5 s timeout
    assert not sw.ended
    assert len(sw.outputs(Transfer)) == 0 and len(sw.outputs(Hangup)) == 0


# --- the switch's verdicts ----------------------------------------------------


def test_transfer_ok_ends_the_call() -> None:
    d = reach("transferring")
    assert briefs(d.transfer_result(ok=True)) == [("finished", "transfer")]
    assert d.record.reason == "transferred"


@pytest.mark.parametrize("cause", ["USER_BUSY", "NO_ANSWER", "UNALLOCATED_NUMBER"])
def test_transfer_failed_hangs_up_and_says_why(cause: str) -> None:
    d = reach("transferring")
    out = d.transfer_result(ok=False, cause=cause)
    assert briefs(out) == [("done", "transfer", "failed"), ("hangup", "NORMAL_CLEARING"), ("finished", d.record.outcome)]
    assert cause in d.record.reason
    assert any(cause in e and "200" in e for e in d.record.errors)
    assert d.record.outcome == "hangup"  # the call did not leave through the transfer


def test_a_failed_direct_dial_hangs_up() -> None:
    d = Driver(menu(context({"start": []}, digit_len=3, allow_any_dial=True)))
    d.start()
    d.press("205")
    out = d.transfer_result(ok=False, cause="UNALLOCATED_NUMBER")
    assert switch_commands(out) == [("hangup", "NORMAL_CLEARING")]
    assert ("done", "direct_dial", "failed") in briefs(out)  # named for what asked for it, not "transfer"
    assert d.record.outcome == "hangup"
    assert d.record.transfer_destinations == ("205",)


def test_a_failed_transfer_is_recorded_as_a_hangup() -> None:
    d = reach("transferring")
    d.transfer_result(ok=False, cause="USER_BUSY")
    assert d.record.outcome == "hangup"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sleeping", [("cancel", "lifetime"), ("cancel", "sleep"), ("hangup", "NORMAL_TEMPORARY_FAILURE")]),
        ("playing background", [("stop",), ("cancel", "lifetime"), ("hangup", "NORMAL_TEMPORARY_FAILURE")]),
        ("recording, its digits", [("cancel", "lifetime"), ("cancel", "inter_digit"), ("hangup", "NORMAL_TEMPORARY_FAILURE")]),
        ("collecting, between digits", [("cancel", "lifetime"), ("cancel", "inter_digit"), ("hangup", "NORMAL_TEMPORARY_FAILURE")]),
        ("transferring", [("hangup", "NORMAL_TEMPORARY_FAILURE")]),
    ],
)
def test_switch_failed_ends_the_call_with_an_error(name: str, expected: list[tuple[Any, ...]]) -> None:
    d = reach(name)
    out = d.switch_failed("uuid_broadcast: -ERR no such channel")
    assert sorted(briefs(out)[:-1]) == sorted(expected)
    assert briefs(out)[-1] == ("finished", "error")
    assert d.live_timers() == set()
    assert d.record.outcome == "error"
    assert any("no such channel" in e for e in d.record.errors)
    assert "no such channel" in d.record.reason


# --- the runtime stopping -----------------------------------------------------


@pytest.mark.parametrize("name", [name for name, _, _ in STATES])
def test_shutdown_hangs_up_in_every_live_state(name: str) -> None:
    d = reach(name)
    playing = d.call.state in (State.PLAYING, State.RECORDING) and name != "recording, its digits"
    prompt = d.plays[-1] if d.plays else None
    out = d.feed(ShutdownRequested(50.0, "SIGTERM drain"))
    assert switch_commands(out) == ([("stop",)] if playing else []) + [("hangup", "NORMAL_CLEARING")]
    if playing:
        assert StopPlayback(prompt) in out  # type: ignore[arg-type]
    assert isinstance(out[-1], CallFinished)
    assert d.live_timers() == set()
    assert d.record.outcome == "hangup"
    assert "SIGTERM drain" in d.record.reason
    for event in after_the_end(d):
        assert d.feed(event) == []
