"""Jumps and loops (README "How a call walks a menu", 10) and the record every call leaves."""

from __future__ import annotations

import pytest

from ivrflow.menu import MenuError
from ivrflow.engine import CallFinished, Hangup, Play, Step, TimerKind

from .helpers import Driver, bg, brief, briefs, context, fg, jump, menu, menu_yaml, one_context, set_var, switch, transfer

# --- loops ----------------------------------------------------------------------


def test_timeout_jumping_back_to_start_loops_with_prompts_until_lifetime() -> None:
    looping = menu(context({"start": [bg(1)], "timeout": [jump(1)]}, timeout=5000), lifetime=30)
    sw = switch(looping)  # bg.wav lasts 3 s: a round is 3 s of prompt + 5 s of timeout
    sw.start()
    rec = sw.run_to_end()
    assert [when for when, o in sw.log if isinstance(o, Play)] == [0.0, 8.0, 16.0, 24.0]
    assert rec.outcome == "lifetime"
    assert rec.ended_at == 30.0
    assert rec.path == (Step(1, "start"), Step(1, "timeout")) * 3 + (Step(1, "start"),)
    assert sw.outputs(Hangup) == [Hangup("NORMAL_CLEARING")]


SILENT_LOOPS = {
    "two starts": menu(context({"start": [jump(2)]}, id=1), context({"start": [jump(1)]}, id=2)),
    "start to itself": menu(context({"start": [set_var("n", "1"), jump(1)]})),
    "option to itself": menu(context({"start": [], "1": [jump(1, "1")]})),
    "through timeout options": menu(
        context({"start": [jump(2, "timeout")]}, id=1), context({"timeout": [jump(1)]}, id=2)
    ),
}


@pytest.mark.parametrize("name", list(SILENT_LOOPS))
def test_a_silent_jump_loop_ends_with_an_error_not_a_hang(name: str) -> None:
    d = Driver(SILENT_LOOPS[name])
    d.start()
    d.press("1")
    assert briefs(d.log)[-2:] == [("hangup", "NORMAL_TEMPORARY_FAILURE"), ("finished", "error")]
    assert d.record.outcome == "error"
    assert "1000" in d.record.reason
    assert d.record.errors == (d.record.reason,)
    assert d.live_timers() == set()


def test_a_zero_timeout_loop_is_stopped_like_a_silent_jump_loop() -> None:
    """`timeout: 0` and a timeout option jumping back to an empty start: validate accepts it
    (it waits, for 0 ms), yet the call spins forever without time passing; with
    lifetime 0 nothing ever ends it, and VirtualSwitch.run_to_end never returns."""
    zero = menu(context({"start": [], "timeout": [jump(1)]}, timeout=0))
    d = Driver(zero)
    d.start()
    for _ in range(1100):  # more rounds than the 1,000 rules the engine allows without waiting
        if d.call.record is not None:
            break
        assert brief(d.log[-1]) == ("timer", "first_digit", 0.0)
        d.fire(TimerKind.FIRST_DIGIT)
    assert d.call.record is not None and d.record.outcome == "error"


def test_validate_refuses_the_silent_loop_the_engine_guards_against() -> None:
    with pytest.raises(MenuError, match="loop"):
        menu_yaml(
            """
ivrs:
  - extension: "100"
    entry_context: 1
    contexts:
      - id: 1
        options:
          start: [{action: jump_to_context, context: 2}]
      - id: 2
        options:
          start: [{action: jump_to_context, context: 1}]
"""
        )


def test_a_loop_through_a_prompt_is_no_error() -> None:
    d = Driver(menu(context({"start": [jump(2)]}, id=1), context({"start": [bg(1), jump(1)]}, id=2)))
    d.start()
    for _ in range(5):
        assert briefs(d.played())[-2:] == [("play", "bg.wav", "bg"), ("done", "play_sound", "ok")]
    assert d.call.record is None
    assert len(d.plays) == 6


# --- the record -----------------------------------------------------------------


TWO_LEVELS = menu(
    context({"start": [bg(1)], "1": [set_var("lang", "en"), jump(2)], "timeout": [transfer("555")]}, id=1),
    context({"start": [], "42": [transfer("4242")], "invalid": [transfer("999")]}, id=2, digit_len=2),
)


def test_the_record_of_a_walk_through_two_contexts() -> None:
    d = Driver(TWO_LEVELS)
    d.at(100.0).start()
    d.at(101.0).press("1")  # interrupts bg.wav: option 1, then context 2 waits
    d.at(103.0).press("4")
    d.at(104.5).press("2")
    out = d.at(105.0).transfer_result(ok=True)
    assert out == [CallFinished(d.record)]
    rec = d.record
    assert rec.ivr == "100"
    assert (rec.outcome, rec.reason) == ("transfer", "transferred")
    assert (rec.started_at, rec.ended_at, rec.duration) == (100.0, 105.0, 5.0)
    assert rec.path == (Step(1, "start"), Step(1, "1"), Step(2, "start"), Step(2, "42"))
    assert rec.entries == ("1", "42")
    assert rec.variables == (("lang", "en"),)
    assert rec.transfer_destinations == ("4242",)
    assert rec.first_digit_at == 101.0
    assert (rec.notices, rec.errors) == ((), ())


def test_the_record_of_a_timeout() -> None:
    d = Driver(TWO_LEVELS)
    d.at(10.0).start()
    d.at(13.0).played()
    d.at(18.0).fire(TimerKind.FIRST_DIGIT)
    d.at(18.5).transfer_result(ok=True)
    rec = d.record
    assert rec.path == (Step(1, "start"), Step(1, "timeout"))
    assert rec.entries == ()
    assert rec.first_digit_at is None
    assert rec.transfer_destinations == ("555",)
    assert rec.duration == 8.5


def test_the_record_of_an_invalid_entry_and_a_direct_dial() -> None:
    d = Driver(
        menu(context({"start": [], "1": [transfer("111")], "invalid": [jump(1)]}, digit_len=3, allow_any_dial=True))
    )
    d.start()
    d.at(2.0).press("77#")  # too short for a direct dial: invalid, back to start
    d.at(4.0).press("205")  # direct dial
    d.at(4.5).transfer_result(ok=True)
    rec = d.record
    assert rec.entries == ("77", "205")
    assert rec.path == (Step(1, "start"), Step(1, "invalid"), Step(1, "start"))  # a direct dial runs no option
    assert rec.transfer_destinations == ("205",)
    assert rec.first_digit_at == 2.0
    assert rec.reason == "direct dial"


def test_first_digit_at_ignores_discarded_digits() -> None:
    d = Driver(menu(context({"start": [fg(2)], "1": [transfer("111")]}), sleep_time=1000))
    d.at(0.0).start()
    d.at(0.5).press("1")  # during sleep_time
    d.at(1.0).fire(TimerKind.SLEEP)
    d.at(2.0).press("1")  # during the foreground prompt
    d.at(5.0).played()
    d.at(6.0).press("1")
    d.transfer_result(ok=True)
    assert d.record.first_digit_at == 6.0
    assert d.record.entries == ("1",)


def test_notices_and_errors_are_recorded_in_order() -> None:
    d = Driver(one_context({"start": [{"action": "transfer_from_variable", "transfer_variable": "first"}, bg(1), {"action": "transfer_from_variable", "transfer_variable": "nope"}, transfer("200")]}))
    d.start()
    d.played(error="cannot open bg.wav")
    d.transfer_result(ok=True)
    rec = d.record
    assert len(rec.notices) == 2
    assert "first" in rec.notices[0] and "nope" in rec.notices[1]
    assert len(rec.errors) == 1 and "cannot open bg.wav" in rec.errors[0]


def test_the_record_is_the_last_output_and_comes_once() -> None:
    d = Driver(TWO_LEVELS)
    d.start()
    d.press("1")
    d.press("42")
    d.transfer_result(ok=True)
    finished = [o for o in d.log if isinstance(o, CallFinished)]
    assert finished == [CallFinished(d.record)]
    assert d.log[-1] is finished[0]
