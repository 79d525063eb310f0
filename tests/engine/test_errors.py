"""A handler that raises: the call enters ERROR, refuses every later event, and
`abort` ends it with one record of outcome `error` (h11's model).

Faults are injected by deliberately failing hooks: a rule action replaced in
the engine's action table, or a wrapped engine method.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ivrflow.engine import (
    CallFinished,
    CallStarted,
    CancelTimer,
    DtmfReceived,
    EngineError,
    Hangup,
    State,
    TimerKind,
)
from ivrflow.engine import call as call_module
from ivrflow.engine.call import Call
from ivrflow.menu.model import SetVariable as SetVariableRule

from .helpers import Driver, bg, briefs, context, menu, set_var, transfer


class Fault(RuntimeError):
    pass


def boom(*args: Any) -> Any:
    raise Fault("hook failed")


@pytest.fixture
def failing_set_variable(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(call_module._ACTIONS, SetVariableRule, boom)
    yield


# start waits for two digits; "12" runs a set_variable, which fails under the fixture.
TWO_DIGITS = menu(
    context({"start": [], "12": [set_var("a", "1"), transfer("200")], "1": [bg(1)]}, digit_len=2),
    lifetime=60,
)


def collecting() -> Driver:
    d = Driver(TWO_DIGITS)
    d.at(1.0).start()
    d.at(2.0).press("1")
    assert d.call.state is State.COLLECTING
    return d


def test_a_failing_handler_puts_the_call_in_error_and_raises_the_engine_error(failing_set_variable: None) -> None:
    d = collecting()
    with pytest.raises(EngineError, match="Fault while handling DtmfReceived in state collecting: hook failed") as info:
        d.at(3.0).press("2")
    assert isinstance(info.value.__cause__, Fault)
    assert d.call.state is State.ERROR
    assert d.call.record is None  # no record yet: abort makes it


def test_a_call_in_error_refuses_every_event_without_changing(failing_set_variable: None) -> None:
    d = collecting()
    with pytest.raises(EngineError):
        d.at(3.0).press("2")
    for event in [DtmfReceived(4.0, "1"), CallStarted(4.0)]:
        with pytest.raises(EngineError, match="only abort"):
            d.call.handle(event)
        assert d.call.state is State.ERROR
    with pytest.raises(EngineError):
        d.fire(TimerKind.LIFETIME)


def test_abort_cancels_the_live_timers_hangs_up_and_records_the_error(failing_set_variable: None) -> None:
    d = collecting()
    inter_digit, lifetime = d.timers[TimerKind.INTER_DIGIT], d.timers[TimerKind.LIFETIME]
    with pytest.raises(EngineError):
        d.at(3.0).press("2")  # its CancelTimer(inter_digit) never reached the driver
    out = d.call.abort(3.5, "engine error: hook failed")
    assert out[:-1] == [CancelTimer(lifetime), CancelTimer(inter_digit), Hangup("NORMAL_TEMPORARY_FAILURE")]
    assert out[-1] == CallFinished(d.record)
    rec = d.record
    assert (rec.outcome, rec.reason, rec.started_at, rec.ended_at) == ("error", "engine error: hook failed", 1.0, 3.5)
    assert rec.errors == ("engine error: hook failed",)
    assert rec.path[-1] == call_module.Step(1, "12")  # where it failed
    assert d.call.state is State.ERROR


def test_after_abort_handle_and_abort_raise(failing_set_variable: None) -> None:
    d = collecting()
    with pytest.raises(EngineError):
        d.at(3.0).press("2")
    record = d.call.abort(3.5, "x")[-1]
    with pytest.raises(EngineError, match="aborted"):
        d.at(4.0).press("1")
    with pytest.raises(EngineError, match="already finished"):
        d.call.abort(4.0, "again")
    assert d.call.record is record.record  # type: ignore[union-attr]


def test_timers_started_by_the_failed_event_are_not_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The failed event's StartTimer never reached the driver; its CancelTimer of the old one neither."""
    original = Call._start_timer

    def start_then_fail(self: Call, kind: TimerKind, milliseconds: int) -> None:
        original(self, kind, milliseconds)
        if kind is TimerKind.INTER_DIGIT:
            raise Fault("after the timer")

    d = Driver(TWO_DIGITS)
    d.at(1.0).start()
    first_digit, lifetime = d.timers[TimerKind.FIRST_DIGIT], d.timers[TimerKind.LIFETIME]
    monkeypatch.setattr(Call, "_start_timer", start_then_fail)
    with pytest.raises(EngineError):
        d.at(2.0).press("1")
    out = d.call.abort(2.0, "x")
    assert out[:-1] == [CancelTimer(lifetime), CancelTimer(first_digit), Hangup("NORMAL_TEMPORARY_FAILURE")]


def test_a_record_made_by_the_failed_event_is_dropped_for_the_error_record(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Call._end

    def end_then_fail(self: Call, outcome: Any, reason: str) -> None:
        original(self, outcome, reason)
        raise Fault("after the record")

    d = collecting()
    d.at(3.0).press("2")
    assert d.call.state is State.TRANSFERRING
    monkeypatch.setattr(Call, "_end", end_then_fail)
    with pytest.raises(EngineError):
        d.at(4.0).transfer_result(ok=False, cause="USER_BUSY")  # made a hangup record, then failed
    assert d.call.record is None
    monkeypatch.setattr(Call, "_end", original)
    out = d.call.abort(4.0, "x")
    assert briefs(out) == [("hangup", "NORMAL_TEMPORARY_FAILURE"), ("finished", "error")]
    assert sum(isinstance(o, CallFinished) for o in d.log + out) == 1


def test_no_hangup_when_the_failed_event_was_the_caller_hanging_up(monkeypatch: pytest.MonkeyPatch) -> None:
    d = collecting()
    monkeypatch.setattr(Call, "_on_caller_hangup", boom)
    with pytest.raises(EngineError):
        d.at(3.0).hang_up()
    out = d.call.abort(3.0, "x")
    assert briefs(out) == [("cancel", "lifetime"), ("cancel", "inter_digit"), ("finished", "error")]


@pytest.mark.parametrize(("ok", "hangs_up"), [(True, False), (False, True)])
def test_after_a_failed_transfer_verdict_hangs_up_only_if_the_call_is_still_here(
    monkeypatch: pytest.MonkeyPatch, ok: bool, hangs_up: bool
) -> None:
    d = collecting()
    d.at(3.0).press("2")
    monkeypatch.setitem(call_module._TRANSITIONS[State.TRANSFERRING], call_module.TransferFinished, boom)
    with pytest.raises(EngineError):
        d.at(4.0).transfer_result(ok=ok)
    out = d.call.abort(4.0, "x")
    assert briefs(out) == [("hangup", "NORMAL_TEMPORARY_FAILURE")] * hangs_up + [("finished", "error")]


def test_abort_of_a_live_call_without_a_fault() -> None:
    d = collecting()
    lifetime, inter_digit = d.timers[TimerKind.LIFETIME], d.timers[TimerKind.INTER_DIGIT]
    out = d.call.abort(2.5, "unsafe argument")
    assert out[:-1] == [CancelTimer(lifetime), CancelTimer(inter_digit), Hangup("NORMAL_TEMPORARY_FAILURE")]
    assert d.record.outcome == "error"
    with pytest.raises(EngineError):
        d.press("2")


def test_abort_before_the_call_started_hangs_up_and_lasts_no_time() -> None:
    d = Driver(TWO_DIGITS)
    out = d.call.abort(7.0, "no menu")
    assert briefs(out) == [("hangup", "NORMAL_TEMPORARY_FAILURE"), ("finished", "error")]
    assert (d.record.started_at, d.record.ended_at, d.record.path) == (7.0, 7.0, ())


def test_abort_of_a_finished_call_raises_and_changes_nothing() -> None:
    d = collecting()
    d.at(3.0).hang_up()
    record = d.record
    with pytest.raises(EngineError, match="already finished"):
        d.call.abort(4.0, "late")
    assert d.call.record is record and d.call.state is State.ENDED
    assert d.feed(DtmfReceived(5.0, "1")) == []  # a call that ended normally still ignores events


@pytest.mark.parametrize(("at", "reason", "error"), [(float("nan"), "x", ValueError), (-1.0, "x", ValueError), (1.0, 3, TypeError), (1.0, "x" * 1001, ValueError)])
def test_abort_checks_its_arguments_before_touching_the_call(at: float, reason: Any, error: type[Exception]) -> None:
    d = collecting()
    with pytest.raises(error):
        d.call.abort(at, reason)
    assert d.call.state is State.COLLECTING and d.call.record is None


def test_an_interrupt_inside_a_handler_leaves_error_and_propagates_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(*args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setitem(call_module._ACTIONS, SetVariableRule, interrupt)
    d = collecting()
    with pytest.raises(KeyboardInterrupt):
        d.at(3.0).press("2")
    assert d.call.state is State.ERROR
    with pytest.raises(EngineError):
        d.press("1")
