"""Prompts, timers and digits together (README "How a call walks a menu", 1, 3 and 4).

Exact outputs come from feeding a bare Call by hand; timings from the
VirtualSwitch, whose durations are helpers.DURATIONS (bg.wav 3 s, fg.wav 4 s,
rec.wav 1.5 s, other.wav 2.5 s).
"""

from __future__ import annotations

from typing import Any

import pytest

from ivrflow.engine import (
    CallFinished,
    DtmfReceived,
    PlaybackFinished,
    State,
    StopPlayback,
    Timer,
    TimerFired,
    TimerKind,
    Transfer,
)

from .helpers import (
    Driver,
    bg,
    briefs,
    context,
    fg,
    first_time,
    hangup,
    menu,
    one_context,
    say,
    silence,
    switch,
    transfer,
)

PROMPTS = {
    "background sound": (bg(1), ("play", "bg.wav", "bg"), "play_sound", True),
    "play_silence": (silence(1000), ("silence", 1000, "bg"), "play_silence", True),
    "play_digits": (say("42"), ("say", "42", "iterated", "bg"), "play_digits", True),
    "foreground sound": (fg(2), ("play", "fg.wav", "fg"), "play_sound", False),
}


@pytest.mark.parametrize("name", list(PROMPTS))
def test_digit_during_a_prompt(name: str) -> None:
    rule, played, action, listens = PROMPTS[name]
    d = Driver(one_context({"start": [rule, fg(4), transfer("999")], "1": [transfer("111")]}))
    assert briefs(d.start()) == [("answer",), ("enter", 1, "start"), played, ("done", action, "ok")]
    prompt = d.plays[-1]
    out = d.press("1")
    if listens:
        # stopped at once, the rest of start (fg(4), transfer 999) dropped, the entry resolves
        assert briefs(out) == [
            ("stop",),
            ("resolved", "option", "1"),
            ("transfer", "111"),
            ("done", "transfer", "ok"),
        ]
        assert out[0] == StopPlayback(prompt)
        assert d.played(prompt) == []  # the switch confirms the stop: stale, ignored
        assert d.call.state is State.TRANSFERRING
    else:
        assert out == []  # discarded; the prompt plays out
        assert briefs(d.played()) == [("play", "other.wav", "fg"), ("done", "play_sound", "ok")]
        assert briefs(d.played()) == [("transfer", "999"), ("done", "transfer", "ok")]
        d.transfer_result(ok=True)
        assert d.record.entries == () and d.record.first_digit_at is None


def test_digit_during_a_background_prompt_of_another_option_begins_an_entry_there() -> None:
    d = Driver(one_context({"start": [], "1": [bg(1), hangup()], "2": [transfer("222")]}))
    d.start()
    assert briefs(d.press("1")) == [
        ("cancel", "first_digit"),
        ("resolved", "option", "1"),
        ("play", "bg.wav", "bg"),
        ("done", "play_sound", "ok"),
    ]
    # the hangup rule after the prompt is dropped; "2" is an entry of the same context
    assert briefs(d.press("2")) == [("stop",), ("resolved", "option", "2"), ("transfer", "222"), ("done", "transfer", "ok")]


def test_digits_during_sleep_time_are_discarded() -> None:
    d = Driver(menu(context({"start": [], "1": [transfer("111")], "timeout": [transfer("555")]}), sleep_time=2000))
    assert briefs(d.start()) == [("answer",), ("timer", "sleep", 2.0)]
    assert d.call.state is State.SLEEPING
    assert d.press("1#") == []
    assert briefs(d.fire(TimerKind.SLEEP)) == [("enter", 1, "start"), ("timer", "first_digit", 5.0)]
    assert briefs(d.fire(TimerKind.FIRST_DIGIT)) == [
        ("resolved", "timeout", "timeout"),
        ("transfer", "555"),
        ("done", "transfer", "ok"),
    ]


def test_digit_after_the_prompts_before_the_timeout() -> None:
    d = Driver(one_context({"start": [bg(1)], "1": [transfer("111")], "timeout": [transfer("555")]}))
    d.start()
    assert briefs(d.played()) == [("timer", "first_digit", 5.0)]
    first_digit = d.timers[TimerKind.FIRST_DIGIT]
    out = d.press("1")
    assert briefs(out) == [("cancel", "first_digit"), ("resolved", "option", "1"), ("transfer", "111"), ("done", "transfer", "ok")]
    assert out[0].timer == first_digit  # type: ignore[union-attr]
    assert d.feed(TimerFired(9.0, first_digit)) == []  # cancelled: stale


def test_each_digit_restarts_the_inter_digit_timer() -> None:
    d = Driver(one_context({"start": [], "123": [transfer("123")]}, digit_len=3, inter_digit_timeout=1500))
    d.start()
    assert briefs(d.press("1")) == [("cancel", "first_digit"), ("timer", "inter_digit", 1.5)]
    first_gap = d.timers[TimerKind.INTER_DIGIT]
    assert briefs(d.press("2")) == [("cancel", "inter_digit"), ("timer", "inter_digit", 1.5)]
    second_gap = d.timers[TimerKind.INTER_DIGIT]
    assert second_gap != first_gap
    assert d.feed(TimerFired(1.5, first_gap)) == []  # the replaced timer is stale
    assert d.call.state is State.COLLECTING
    assert briefs(d.press("3")) == [("cancel", "inter_digit"), ("resolved", "option", "123"), ("transfer", "123"), ("done", "transfer", "ok")]


def test_inter_digit_timeout_ends_the_entry() -> None:
    d = Driver(one_context({"start": [], "1": [transfer("111")], "12": [transfer("112")]}, digit_len=3))
    d.start()
    d.press("1")
    assert d.call.state is State.COLLECTING  # "12" could follow
    assert briefs(d.fire(TimerKind.INTER_DIGIT)) == [("resolved", "option", "1"), ("transfer", "111"), ("done", "transfer", "ok")]


@pytest.mark.parametrize(
    ("options", "keys", "resolved", "entry", "destination"),
    [
        ({"1": "111", "12": "112"}, "1#", ("option", "1"), "1", "111"),  # '#' ends it and is not part of it
        ({"1": "111", "12": "112"}, "12", ("option", "12"), "12", "112"),  # digit_len 2 reached
        ({"1#": "100", "2": "222"}, "1#", ("option", "1#"), "1#", "100"),  # an option holds '#': a digit here
        ({"#": "100", "2": "222"}, "#", ("option", "#"), "#", "100"),
        ({"1": "111", "2": "222"}, "#", ("invalid", "invalid"), "", "999"),  # '#' alone: empty entry
        ({"1": "111", "12": "112"}, "98", ("invalid", "invalid"), "98", "999"),  # digit_len reached, no option
    ],
)
def test_hash_and_digit_len_end_an_entry(
    options: dict[str, str], keys: str, resolved: tuple[str, str], entry: str, destination: str
) -> None:
    opts: dict[str, list[dict[str, Any]]] = {key: [transfer(dst)] for key, dst in options.items()}
    d = Driver(one_context({"start": [], "invalid": [transfer("999")], **opts}, digit_len=2))
    d.start()
    *_, last = keys
    d.press(keys[:-1])
    out = d.press(last)  # the entry resolves at its last key, without waiting
    assert briefs(out)[1:] == [("resolved", *resolved), ("transfer", destination), ("done", "transfer", "ok")]
    d.transfer_result(ok=True)
    assert d.record.entries == (entry,)


def test_entry_of_exactly_digit_len_acts_at_the_last_digit_without_waiting() -> None:
    d = Driver(one_context({"start": [], "invalid": [transfer("999")], "12": [transfer("112")]}, digit_len=3))
    d.start()
    d.press("98")
    assert d.call.state is State.COLLECTING
    assert briefs(d.press("7")) == [("cancel", "inter_digit"), ("resolved", "invalid", "invalid"), ("transfer", "999"), ("done", "transfer", "ok")]


# --- early match vs waiting: when the transfer happens after the key ------------


@pytest.mark.parametrize(
    ("settings", "options", "key", "delay", "destination"),
    [
        ({"digit_len": 1}, {"1": "111", "2": "222"}, "2", 0.0, "222"),
        ({"digit_len": 3}, {"1": "111", "2": "222"}, "2", 0.0, "222"),  # unambiguous: no inter-digit wait
        ({"digit_len": 3}, {"1": "111", "12": "112"}, "1", 2.0, "111"),  # "12" could follow
        ({"digit_len": 3}, {"1": "111", "12": "112"}, "12", 0.0, "112"),
        ({"digit_len": 3, "allow_any_dial": True}, {"1": "111", "2": "222"}, "2", 2.0, "222"),  # "2xx" could follow
        ({"digit_len": 3, "allow_any_dial": True}, {"1": "111"}, "205", 0.0, "205"),  # direct dial at the 3rd digit
        ({"digit_len": 1, "allow_any_dial": True}, {"1": "111"}, "7", 0.0, "7"),  # direct dial of one digit
        ({"digit_len": 3}, {"1": "111"}, "9", 2.0, "999"),  # not an option: waits, then invalid
    ],
)
def test_early_match_or_wait(settings: dict[str, Any], options: dict[str, str], key: str, delay: float, destination: str) -> None:
    opts = {k: [transfer(v)] for k, v in options.items()}
    sw = switch(one_context({"start": [bg(1)], "invalid": [transfer("999")], **opts}, **settings))
    sw.start()
    sw.advance(1.0)  # during bg.wav
    sw.press(key)
    sw.advance(10.0)
    assert first_time(sw, Transfer) == pytest.approx(1.0 + delay)
    assert sw.outputs(Transfer)[0].destinations == (destination,)  # type: ignore[union-attr]
    assert first_time(sw, StopPlayback) == pytest.approx(1.0)  # the prompt stopped at the first key


# --- the timeout counts from the end of the start rules -------------------------


@pytest.mark.parametrize(
    ("sleep_time", "start", "prompts_end"),
    [
        (0, [], 0.0),
        (0, [bg(1)], 3.0),
        (0, [fg(2), bg(1)], 7.0),
        (1000, [fg(2), bg(1)], 8.0),
        (0, [silence(1500), say("12")], 1.5 + 1.2),
        (2500, [], 2.5),
    ],
)
def test_timeout_runs_only_after_the_start_rules(sleep_time: int, start: list[dict[str, Any]], prompts_end: float) -> None:
    sw = switch(menu(context({"start": start, "timeout": [transfer("555")]}, timeout=5000), sleep_time=sleep_time))
    sw.start()
    sw.run_to_end()
    assert first_time(sw, Transfer) == pytest.approx(prompts_end + 5.0)
    assert sw.record is not None and sw.record.outcome == "transfer"


def test_digit_before_the_timeout_stops_it_and_an_incomplete_entry_then_waits_inter_digit() -> None:
    sw = switch(one_context({"start": [bg(1)], "12": [transfer("112")], "invalid": [transfer("999")], "timeout": [transfer("555")]}, digit_len=2, timeout=5000, inter_digit_timeout=2000))
    sw.start()
    sw.advance(3.0 + 4.5)  # prompt over, 0.5 s before the timeout
    sw.press("1")
    sw.run_to_end()
    assert [t.destinations for t in sw.outputs(Transfer)] == [("999",)]  # type: ignore[union-attr]
    assert first_time(sw, Transfer) == pytest.approx(7.5 + 2.0)


# --- stale events ---------------------------------------------------------------


def test_stale_playback_finished_of_a_stopped_prompt_does_not_end_the_next_one() -> None:
    d = Driver(one_context({"start": [bg(1)], "1": [bg(4), transfer("111")]}))
    d.start()
    old = d.plays[-1]
    assert briefs(d.press("1")) == [("stop",), ("resolved", "option", "1"), ("play", "other.wav", "bg"), ("done", "play_sound", "ok")]
    new = d.plays[-1]
    assert new != old
    assert d.played(old) == []  # the stopped prompt's end: not the current prompt
    assert d.call.state is State.PLAYING
    assert briefs(d.played(new)) == [("transfer", "111"), ("done", "transfer", "ok")]


@pytest.mark.parametrize("kind", list(TimerKind))
def test_a_timer_the_engine_never_started_is_ignored(kind: TimerKind) -> None:
    d = Driver(one_context({"start": [], "timeout": [transfer("555")]}))
    d.start()
    assert d.feed(TimerFired(1.0, Timer(kind, 999))) == []
    assert d.call.state is State.COLLECTING
    assert briefs(d.fire(TimerKind.FIRST_DIGIT))[0] == ("resolved", "timeout", "timeout")


def test_a_timer_fires_once() -> None:
    d = Driver(one_context({"start": [], "timeout": [bg(1), hangup()]}))
    d.start()
    assert briefs(d.fire(TimerKind.FIRST_DIGIT))[0] == ("resolved", "timeout", "timeout")
    assert d.fire(TimerKind.FIRST_DIGIT) == []  # delivered twice: the second is stale
    assert d.call.state is State.PLAYING


def test_playback_finished_with_an_unknown_id_while_waiting_for_input() -> None:
    d = Driver(one_context({"start": [bg(1)], "1": [transfer("111")]}))
    d.start()
    d.played()
    assert d.feed(PlaybackFinished(4.0, 77)) == []
    assert d.call.state is State.COLLECTING


def test_playback_error_is_noted_and_the_rules_go_on() -> None:
    d = Driver(one_context({"start": [bg(1), transfer("200")]}))
    d.start()
    out = d.played(error="file not found")
    assert briefs(out) == [("notice",), ("transfer", "200"), ("done", "transfer", "ok")]
    d.transfer_result(ok=True)
    assert any("file not found" in e for e in d.record.errors)


def test_digits_after_the_call_ended_produce_nothing() -> None:
    d = Driver(one_context({"start": [hangup()]}))
    d.start()
    assert isinstance(d.log[-1], CallFinished)
    assert d.feed(DtmfReceived(1.0, "1")) == []
