"""quality_rate in the engine: the sound, one key 1..max_rate, one retry, the rating in the record."""

from __future__ import annotations

import pytest

from ivrflow.engine import Rating, RatingGiven, State, TimerKind

from .helpers import Driver, briefs, commands, one_context, quality_rate, transfer

IVR = {"id": 7, "client_id": 42}


def rating_call(**rule: int) -> Driver:
    d = Driver(one_context({"start": [quality_rate(**rule), transfer("200")]}, ivr=IVR))
    d.start()
    return d


def test_a_key_after_the_sound_is_the_rating_and_the_next_rule_runs() -> None:
    d = rating_call()
    assert commands(d.log)[-1] == ("play", "rec.wav", "bg")
    assert commands(d.at(1.5).played()) == [("timer", "first_digit", 5.0)]
    out = d.at(3.0).press("4")
    assert briefs(out) == [("cancel", "first_digit"), ("rated", 4, 5), ("done", "quality_rate", "ok"),
                           ("transfer", "200"), ("done", "transfer", "ok")]
    d.transfer_result(ok=True)
    assert d.record.ratings == (Rating(4, 5, 3.0, 42, 7),)


def test_a_key_during_the_sound_stops_it_and_counts() -> None:
    d = rating_call()
    out = d.at(0.5).press("5")
    assert briefs(out)[:3] == [("stop",), ("rated", 5, 5), ("done", "quality_rate", "ok")]
    d.transfer_result(ok=True)
    assert [r.rate for r in d.record.ratings] == [5]
    assert d.record.first_digit_at == 0.5


@pytest.mark.parametrize("wrong", ["0", "6", "*", "#"])
def test_a_key_out_of_range_asks_once_more(wrong: str) -> None:
    d = rating_call()
    d.played()
    out = d.press(wrong)
    assert commands(out) == [("cancel", "first_digit"), ("play", "rec.wav", "bg")]
    d.played()
    out = d.at(9.0).press("2")
    assert ("rated", 2, 5) in briefs(out)
    d.transfer_result(ok=True)
    assert [r.rate for r in d.record.ratings] == [2]


def test_no_key_twice_records_no_rating_and_goes_on() -> None:
    d = rating_call()
    d.played()
    assert commands(d.fire(TimerKind.FIRST_DIGIT)) == [("play", "rec.wav", "bg")]
    d.played()
    out = d.fire(TimerKind.FIRST_DIGIT)
    assert briefs(out) == [("notice",), ("done", "quality_rate", "not_rated"), ("transfer", "200"), ("done", "transfer", "ok")]
    assert not any(isinstance(o, RatingGiven) for o in d.log)
    d.transfer_result(ok=True)
    assert d.record.ratings == ()
    assert "no rating (no digit, asked twice)" in d.record.notices[0]


def test_a_wrong_key_then_silence_records_nothing() -> None:
    d = rating_call(max_rate=3)
    d.played()
    d.press("4")
    d.played()
    out = d.fire(TimerKind.FIRST_DIGIT)
    assert ("done", "quality_rate", "not_rated") in briefs(out)


def test_max_rate_one_takes_only_one() -> None:
    d = rating_call(max_rate=1)
    d.press("2")
    out = d.press("1")
    assert ("rated", 1, 1) in briefs(out)


def test_a_sound_that_cannot_play_still_waits_for_the_key() -> None:
    d = rating_call()
    assert commands(d.played(error="FILE NOT FOUND")) == [("timer", "first_digit", 5.0)]
    d.press("3")
    d.transfer_result(ok=True)
    assert [r.rate for r in d.record.ratings] == [3]
    assert any("quality_rate sound" in e for e in d.record.errors)


def test_a_caller_hanging_up_while_asked_ends_the_call_without_a_rating() -> None:
    d = rating_call()
    d.played()
    out = d.hang_up()
    assert commands(out) == [("cancel", "first_digit"), ("finished", "caller_hangup")]
    assert d.record.ratings == ()
    assert d.call.state is State.ENDED


def test_keys_after_the_rating_reach_the_next_rule() -> None:
    d = Driver(one_context({"start": [quality_rate()], "1": [transfer("201")]}))
    d.start()
    d.played()
    d.press("5")
    assert d.call.state is State.COLLECTING  # start's rules ran out: the menu waits for input
    d.press("1")
    d.transfer_result(ok=True)
    assert d.record.transfer_destinations == ("201",) and [r.rate for r in d.record.ratings] == [5]


def test_two_ratings_in_one_call_are_both_recorded() -> None:
    d = Driver(one_context({"start": [quality_rate(), quality_rate(max_rate=9), transfer("200")]}))
    d.start()
    d.press("3")
    d.press("9")
    d.transfer_result(ok=True)
    assert [(r.rate, r.max_rate) for r in d.record.ratings] == [(3, 5), (9, 9)]
    assert d.record.ratings[0].client_id is None  # a menu file names no client
