"""What an entry resolves to, through the whole Call (README "How a call walks a menu", 5)."""

from __future__ import annotations

from typing import Any

import pytest

from ivrflow.engine import InputResolved, State, TimerKind, Transfer

from .helpers import Driver, briefs, commands, context, hangup, jump, menu, one_context, set_var, transfer

OPTIONS: dict[str, list[dict[str, Any]]] = {
    "start": [],
    "1": [transfer("111")],
    "105": [transfer("+15550105")],  # shadows internal number 105
    "invalid": [transfer("999")],
    "timeout": [transfer("555")],
}


@pytest.mark.parametrize(
    ("keys", "resolved", "destination", "entry"),
    [
        ("1", ("option", "1"), "111", "1"),  # waits: "1xx" could be dialled; the '#' ends it
        ("105", ("option", "105"), "+15550105", "105"),  # options win over direct dial
        ("205", ("direct_dial", None), "205", "205"),  # transferred to the entry
        ("20", ("invalid", "invalid"), "999", "20"),  # too short for a direct dial
        ("", ("invalid", "invalid"), "999", ""),  # '#' alone
        ("*05", ("direct_dial", None), "*05", "*05"),
    ],
)
def test_resolution_with_direct_dial(keys: str, resolved: tuple[str, str | None], destination: str, entry: str) -> None:
    d = Driver(one_context(OPTIONS, digit_len=3, allow_any_dial=True))
    d.start()
    d.press(keys if len(keys) == 3 else keys + "#")
    assert InputResolved(1, *resolved) in d.log
    assert [o.destinations for o in d.log if isinstance(o, Transfer)] == [(destination,)]
    d.transfer_result(ok=True)
    assert d.record.entries == (entry,)
    assert d.record.outcome == "transfer"
    assert d.record.transfer_destinations == (destination,)


def test_direct_dial_records_its_reason() -> None:
    d = Driver(one_context(OPTIONS, digit_len=3, allow_any_dial=True))
    d.start()
    assert briefs(d.press("205"))[-2:] == [("resolved", "direct_dial", None), ("transfer", "205")]
    d.transfer_result(ok=True)
    assert "direct dial" in d.record.reason


def test_without_allow_any_dial_a_full_entry_that_is_no_option_is_invalid() -> None:
    d = Driver(one_context(OPTIONS, digit_len=3))
    d.start()
    assert briefs(d.press("205"))[-3:] == [("resolved", "invalid", "invalid"), ("transfer", "999"), ("done", "transfer", "ok")]


def test_invalid_without_rules_hangs_up() -> None:
    d = Driver(one_context({"start": [], "1": [transfer("111")]}))
    d.start()
    assert briefs(d.press("7")) == [
        ("cancel", "first_digit"),
        ("resolved", "invalid", "invalid"),
        ("hangup", "NORMAL_CLEARING"),
        ("finished", "hangup"),
    ]
    assert d.record.entries == ("7",)


def test_invalid_rules_may_send_the_caller_back_to_start() -> None:
    d = Driver(one_context({"start": [set_var("round", "x")], "1": [transfer("111")], "invalid": [jump(1)]}))
    d.start()
    out = d.press("7")
    assert briefs(out)[1:] == [
        ("resolved", "invalid", "invalid"),
        ("done", "jump_to_context", "ok"),
        ("enter", 1, "start"),
        ("set", "round", "x"),
        ("done", "set_variable", "ok"),
        ("timer", "first_digit", 5.0),
    ]
    d.press("1")
    d.transfer_result(ok=True)
    assert d.record.entries == ("7", "1")
    assert d.record.transfer_destinations == ("111",)


@pytest.mark.parametrize(
    ("timeout_rules", "expected"),
    [
        ([transfer("555")], [("transfer", "555")]),
        ([], [("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]),  # no timeout rules: hang up
        ([hangup()], [("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]),
        (None, [("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]),  # no timeout option at all
    ],
)
def test_no_digit_within_timeout_runs_timeout(timeout_rules: list[dict[str, Any]] | None, expected: list[tuple[Any, ...]]) -> None:
    options: dict[str, list[dict[str, Any]]] = {"start": [], "1": [transfer("111")]}
    if timeout_rules is not None:
        options["timeout"] = timeout_rules
    d = Driver(one_context(options))
    d.start()
    out = d.fire(TimerKind.FIRST_DIGIT)
    assert briefs(out)[0] == ("resolved", "timeout", "timeout")
    assert commands(out) == expected
    assert d.call.state is (State.TRANSFERRING if ("transfer", "555") in expected else State.ENDED)


def test_entries_resolve_in_the_current_context_after_a_jump() -> None:
    d = Driver(
        menu(
            context({"start": [], "1": [jump(2)]}, id=1),
            context({"start": [], "1": [transfer("211")]}, id=2, digit_len=2, allow_any_dial=True),
        )
    )
    d.start()
    d.press("1")
    assert briefs(d.press("42"))[-3:] == [("cancel", "inter_digit"), ("resolved", "direct_dial", None), ("transfer", "42")]
