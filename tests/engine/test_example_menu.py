"""The documented example menu "071" (config/example.yaml) on the virtual clock.

sleep 5 s, advertising.wav (foreground, 4 s here), hello.wav (background, 3 s
here), then timeout 5 s; inter-digit 2 s; digit_len 3 with allow_any_dial;
options 1 -> +79876543210, 2 -> 002, timeout -> 050, invalid without rules.
So hello.wav plays from 9 s to 12 s and the timeout would fire at 17 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ivrflow.menu import Menu
from ivrflow.menu.files import load_menu_file
from ivrflow.engine import Call, CallRecord, Play, Step, StopPlayback, Transfer
from ivrflow.tools.virtual_switch import VirtualSwitch

from .helpers import OUTCOMES, timed

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"
DURATIONS = {"advertising.wav": 4.0, "hello.wav": 3.0}


def record(sw: VirtualSwitch) -> CallRecord:
    assert sw.record is not None, "the call has not ended"
    return sw.record


@pytest.fixture(scope="module")
def example_menu() -> Menu:
    return load_menu_file(EXAMPLE).menu


def walk(example_menu, script: list[tuple[float, str]]) -> VirtualSwitch:
    """Run 071: at each virtual time press the keys; then let the call end on its own."""
    sw = VirtualSwitch(Call(example_menu, example_menu.ivr_for("071")), DURATIONS)
    sw.start()
    for when, keys in script:
        sw.advance(when - sw.now)
        sw.press(keys)
    sw.run_to_end()
    assert record(sw).outcome in OUTCOMES
    return sw


def test_the_prompts(example_menu: Menu) -> None:
    sw = walk(example_menu, [])
    plays = [(when, o) for when, o in sw.log if isinstance(o, Play)]
    assert [(when, o.filename, o.interruptible) for when, o in plays] == [
        (5.0, "advertising.wav", False),
        (9.0, "hello.wav", True),
    ]


def test_no_key_transfers_to_050_after_both_sounds_and_the_timeout(example_menu: Menu) -> None:
    sw = walk(example_menu, [])
    assert timed(sw, (Transfer,)) == [(17.0, ("transfer", "050"))]
    assert record(sw).path == (Step(1, "start"), Step(1, "timeout"))
    assert record(sw).ended_at == 17.0


def test_2_during_hello_stops_it_at_once_and_transfers_to_002_after_the_inter_digit_wait(example_menu: Menu) -> None:
    sw = walk(example_menu, [(10.0, "2")])
    assert timed(sw) == [
        (5.0, ("play", "advertising.wav", "fg")),
        (9.0, ("play", "hello.wav", "bg")),
        (10.0, ("stop",)),
        (12.0, ("transfer", "002")),  # "2xx" could have been a direct dial
    ]
    hello = next(o for o in sw.outputs(Play) if isinstance(o, Play) and o.filename == "hello.wav")
    assert sw.outputs(StopPlayback) == [StopPlayback(hello.play_id)]
    assert record(sw).entries == ("2",) and record(sw).first_digit_at == 10.0


@pytest.mark.parametrize("start", [9.5, 13.0], ids=["during hello", "after the prompts"])
def test_105_is_a_direct_dial_at_the_third_digit(example_menu: Menu, start: float) -> None:
    sw = walk(example_menu, [(start, "1"), (start + 1.0, "0"), (start + 1.5, "5")])
    assert timed(sw, (Transfer,)) == [(start + 1.5, ("transfer", "105"))]
    assert record(sw).outcome == "transfer" and record(sw).reason == "direct dial"
    assert record(sw).entries == ("105",)


def test_keys_during_advertising_are_ignored(example_menu: Menu) -> None:
    sw = walk(example_menu, [(2.0, "1"), (6.0, "2"), (7.0, "105")])  # in sleep_time, then in advertising.wav
    assert timed(sw) == [
        (5.0, ("play", "advertising.wav", "fg")),
        (9.0, ("play", "hello.wav", "bg")),
        (17.0, ("transfer", "050")),
    ]
    assert record(sw).entries == () and record(sw).first_digit_at is None


def test_9_then_silence_hangs_up(example_menu: Menu) -> None:
    sw = walk(example_menu, [(13.0, "9")])
    assert timed(sw) == [
        (5.0, ("play", "advertising.wav", "fg")),
        (9.0, ("play", "hello.wav", "bg")),
        (15.0, ("hangup", "NORMAL_CLEARING")),
    ]
    assert record(sw).outcome == "hangup"
    assert record(sw).path == (Step(1, "start"), Step(1, "invalid"))


def test_1_transfers_to_the_mobile(example_menu: Menu) -> None:
    sw = walk(example_menu, [(13.0, "1")])
    assert timed(sw, (Transfer,)) == [(15.0, ("transfer", "+79876543210"))]
    assert sw.outputs(Transfer) == [Transfer(("+79876543210",), "transfer")]


def test_1_then_hash_transfers_without_waiting(example_menu: Menu) -> None:
    sw = walk(example_menu, [(13.0, "1#")])
    assert timed(sw, (Transfer,)) == [(13.0, ("transfer", "+79876543210"))]


def test_caller_hanging_up_during_advertising(example_menu: Menu) -> None:
    sw = VirtualSwitch(Call(example_menu, example_menu.ivr_for("071")), DURATIONS)
    sw.start()
    sw.advance(6.0)
    sw.hang_up_caller()
    assert record(sw).outcome == "caller_hangup"
    assert timed(sw) == [(5.0, ("play", "advertising.wav", "fg"))]
    assert sw.next_due_in() is None  # nothing left to happen
