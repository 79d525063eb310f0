"""quality_rate end to end: the example menu's option 3 asks for a rating, through the FreeSWITCH emulator."""

from __future__ import annotations

from typing import Any

from ivrflow.menu.model import QualityRate, TransferRule

from .harness import Ivrflow, call, example_with_option, ivrflow

HELLO = 51  # hello.wav: 3 s of call time
PRESS_3 = (10.0, "3")  # during the greeting; option 3 runs at 12.0, after the inter-digit timeout


def menu_rating(max_rate: int = 5) -> Any:
    """The example menu with option 3: rate the call 1..max_rate, then transfer to 003."""
    rate = QualityRate(action="quality_rate", sound=HELLO, max_rate=max_rate)
    return example_with_option("3", (rate, TransferRule(action="transfer", transfer_dst="003")))


def questions(switch: Any) -> list[tuple[float, float | None]]:
    """(start, end) in call time of each hello.wav after the greeting: the rating's question."""
    runs = [run for run in switch.applications if run.name == "playback" and run.arg.endswith("/hello.wav")]
    return [(run.started, run.ended) for run in runs[1:]]


def rated(it: Ivrflow, max_rate: str = "5") -> float:
    return it.metric("ivr_quality_rate_count", ivr="071", max_rate=max_rate)


def test_a_key_during_the_question_is_the_rating_in_the_record_and_the_histogram() -> None:
    with ivrflow(menu_rating()) as it:
        switch, record = call(it, keys=[PRESS_3, (13.0, "4")])
        assert switch.transferred_to == "003"
        ((asked, stopped),) = questions(switch)
        assert stopped is not None and asked < 13.0 <= stopped < asked + 3.0  # the key stopped it
        (rating,) = record["ratings"]
        assert {k: rating[k] for k in ("call_uuid", "client_id", "extension_id", "ivr", "rate", "max_rate")} == {
            "call_uuid": switch.unique_id, "client_id": 12, "extension_id": 204, "ivr": "071", "rate": 4, "max_rate": 5}
        assert rating["id"] == f"{switch.unique_id}-1" and rating["datetime"].endswith("Z")
        assert rated(it) == 1 and it.metric("ivr_quality_rate_sum", ivr="071", max_rate="5") == 4
        assert it.metric("ivr_actions_total", ivr="071", action="quality_rate", result="ok") == 1


def test_a_wrong_key_asks_again_and_the_second_answer_counts() -> None:
    with ivrflow(menu_rating(max_rate=3)) as it:
        # 12.0 the question; 12.5 "7" is out of range: asked again from 12.5, "2" after it ended (15.5).
        switch, record = call(it, keys=[PRESS_3, (12.5, "7"), (16.0, "2")])
        assert switch.transferred_to == "003"
        assert len(questions(switch)) == 2
        assert [r["rate"] for r in record["ratings"]] == [2]
        assert rated(it, "3") == 1


def test_silence_twice_gives_no_rating_and_the_menu_goes_on() -> None:
    with ivrflow(menu_rating()) as it:
        switch, record = call(it, keys=[PRESS_3])
        assert switch.transferred_to == "003"
        assert record["ratings"] == [] and any("no rating" in n for n in record["notices"])
        assert rated(it) == 0
        assert it.metric("ivr_actions_total", ivr="071", action="quality_rate", result="not_rated") == 1


def test_a_caller_hanging_up_while_asked_leaves_one_record_without_a_rating() -> None:
    with ivrflow(menu_rating()) as it:
        switch, record = call(it, keys=[PRESS_3], caller_hangup=(13.0, "NORMAL_CLEARING"))
        assert record["outcome"] == "caller_hangup" and record["ratings"] == []
        assert rated(it) == 0
