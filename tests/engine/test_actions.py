"""Each rule action, fed by hand (README "How a call walks a menu", 2, 6, 7 and "Actions a switch cannot run")."""

from __future__ import annotations

from typing import Any

import pytest

from ivrflow.engine import Notice, Play, SayDigits, State, StopPlayback, TimerKind, Transfer

from .helpers import (
    Driver,
    bg,
    briefs,
    call_interactive,
    caller_name,
    caller_number,
    commands,
    context,
    fg,
    hangup,
    jump,
    menu,
    one_context,
    record,
    say,
    say_var,
    set_var,
    silence,
    simple_transfer,
    switch_commands,
    transfer,
    transfer_var,
    voice_helper,
)

ANSWERED = [("answer",), ("enter", 1, "start")]


def started(
    start: list[dict[str, Any]],
    variables: dict[str, str] | None = None,
    options: dict[str, list[dict[str, Any]]] | None = None,
    **settings: Any,
) -> tuple[Driver, list[tuple[Any, ...]]]:
    """A one-context call whose start rules are `start`; returns the driver and what CallStarted caused, after Answer/enter."""
    d = Driver(one_context({"start": start, **(options or {})}, **settings))
    out = briefs(d.start(variables))
    assert out[:2] == ANSWERED
    return d, out[2:]


# --- prompts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "command", "action"),
    [
        (bg(1), Play(1, "bg.wav", True), "play_sound"),
        (fg(2), Play(1, "fg.wav", False), "play_sound"),
        ({"action": "play_sound", "sound": 4}, Play(1, "other.wav", True), "play_sound"),  # background by default
        (silence(2500), None, "play_silence"),
        (say("0123", "iterated"), SayDigits(1, "0123", "iterated"), "play_digits"),
        (say("45", "pronounced"), SayDigits(1, "45", "pronounced"), "play_digits"),
    ],
)
def test_a_prompt_waits_for_its_end_then_the_next_rule_runs(rule: dict[str, Any], command: Any, action: str) -> None:
    d = Driver(one_context({"start": [rule, transfer("200")]}))
    out = d.start()
    if command is not None:
        assert out[2] == command
    else:
        assert briefs(out)[2] == ("silence", 2500, "bg")
    assert briefs(out)[3:] == [("done", action, "ok")]
    assert d.call.state is State.PLAYING
    assert briefs(d.played()) == [("transfer", "200"), ("done", "transfer", "ok")]


# --- transfers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "command"),
    [
        (transfer("200"), Transfer(("200",), "transfer")),
        (transfer("+79876543210"), Transfer(("+79876543210",), "transfer")),
        (transfer("200,201, 202"), Transfer(("200", "201", "202"), "transfer")),  # ring together
        (simple_transfer("300"), Transfer(("300",), "simple_transfer")),
        (simple_transfer("300,301"), Transfer(("300", "301"), "simple_transfer")),
    ],
)
def test_transfer_rules_end_the_option(rule: dict[str, Any], command: Transfer) -> None:
    d, out = started([rule, hangup()])  # the hangup never runs
    assert out == [("transfer", *command.destinations) if command.kind == "transfer" else ("simple_transfer", *command.destinations), ("done", rule["action"], "ok")]
    assert d.log[2] == command
    assert d.call.state is State.TRANSFERRING
    assert briefs(d.transfer_result(ok=True)) == [("finished", "transfer")]
    assert d.record.transfer_destinations == command.destinations


@pytest.mark.parametrize(
    ("rules", "channel", "destination"),
    [
        ([set_var("dst", "300"), transfer_var("dst")], {}, "300"),
        ([transfer_var("dst")], {"dst": "301"}, "301"),  # a channel variable from CallStarted
        ([set_var("dst", "302"), transfer_var("dst")], {"dst": "301"}, "302"),  # rule variables first
        ([transfer_var("dst")], {"dst": "+74951234567"}, "+74951234567"),
    ],
)
def test_transfer_from_variable(rules: list[dict[str, Any]], channel: dict[str, str], destination: str) -> None:
    d, out = started(rules, channel)
    assert out[-2:] == [("transfer", destination), ("done", "transfer_from_variable", "ok")]
    assert d.log[-2] == Transfer((destination,), "transfer")


@pytest.mark.parametrize(
    ("rules", "channel"),
    [
        ([], {}),  # unset
        ([], {"other": "300"}),
        ([set_var("dst", "")], {}),  # set but empty
        ([set_var("dst", "sales")], {}),  # not a dialable number
        ([], {"dst": "12 34"}),
    ],
)
def test_transfer_from_an_unusable_variable_is_skipped_and_the_next_rule_runs(rules: list[dict[str, Any]], channel: dict[str, str]) -> None:
    d, out = started([*rules, transfer_var("dst"), transfer("999")], channel)
    skipped = out.index(("notice",))
    assert out[skipped:] == [("notice",), ("done", "transfer_from_variable", "skipped"), ("transfer", "999"), ("done", "transfer", "ok")]
    notice = next(o for o in d.log if isinstance(o, Notice))
    assert "dst" in notice.message
    d.transfer_result(ok=True)
    assert d.record.notices == (notice.message,)
    assert d.record.transfer_destinations == ("999",)


# --- hangup and jumps ---------------------------------------------------------


def test_hangup_rule() -> None:
    d, out = started([hangup(), transfer("200")])
    assert out == [("done", "hangup", "ok"), ("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]
    assert d.record.outcome == "hangup"
    assert d.call.state is State.ENDED


def test_jump_to_a_context_option() -> None:
    d = Driver(menu(context({"start": [jump(2, "5")]}, id=1), context({"5": [transfer("505")], "start": [hangup()]}, id=2)))
    assert briefs(d.start()) == [
        *ANSWERED,
        ("done", "jump_to_context", "ok"),
        ("enter", 2, "5"),
        ("transfer", "505"),
        ("done", "transfer", "ok"),
    ]


def test_jump_to_start_waits_for_input_with_the_target_context_settings() -> None:
    d = Driver(
        menu(
            context({"start": [jump(2)], "1": [transfer("111")]}, id=1),
            context({"start": [], "1": [transfer("211")], "12": [transfer("212")]}, id=2, timeout=7000, digit_len=2),
        )
    )
    assert briefs(d.start())[2:] == [("done", "jump_to_context", "ok"), ("enter", 2, "start"), ("timer", "first_digit", 7.0)]
    assert d.call.state is State.COLLECTING
    # context 2's options and digit_len: "1" waits because "12" may follow
    assert briefs(d.press("1")) == [("cancel", "first_digit"), ("timer", "inter_digit", 2.0)]
    assert briefs(d.fire(TimerKind.INTER_DIGIT)) == [("resolved", "option", "1"), ("transfer", "211"), ("done", "transfer", "ok")]


def test_jump_to_another_option_whose_rules_run_out_hangs_up() -> None:
    d = Driver(menu(context({"start": [jump(2, "7")]}, id=1), context({"7": [set_var("x", "1")]}, id=2)))
    out = briefs(d.start())
    assert out[-4:] == [("set", "x", "1"), ("done", "set_variable", "ok"), ("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]
    assert "'7'" in d.record.reason and "2" in d.record.reason


def test_rules_after_a_jump_in_the_jumping_option_never_run() -> None:
    d = Driver(menu(context({"start": [jump(2, "7"), transfer("111")]}, id=1), context({"7": [transfer("777")]}, id=2)))
    d.start()
    assert [o.destinations for o in d.log if isinstance(o, Transfer)] == [("777",)]


# --- digits said --------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "channel", "said"),
    [
        ([set_var("n", "4815"), say_var("n")], {}, SayDigits(1, "4815", "iterated")),
        ([say_var("n", "pronounced")], {"n": "162342"}, SayDigits(1, "162342", "pronounced")),
        ([set_var("n", "7"), say_var("n")], {"n": "8"}, SayDigits(1, "7", "iterated")),
        ([say_var("n")], {"n": "12*#"}, SayDigits(1, "12*#", "iterated")),  # what play_digits may say
    ],
)
def test_play_digits_from_variable(rules: list[dict[str, Any]], channel: dict[str, str], said: SayDigits) -> None:
    d, out = started(rules, channel)
    assert out[-2:] == [("say", said.digits, said.method, "bg"), ("done", "play_digits_from_variable", "ok")]
    assert d.log[-2] == said


@pytest.mark.parametrize(
    ("rules", "channel"),
    [
        pytest.param([], {}, id="unset"),
        pytest.param([set_var("n", "")], {}, id="empty"),
        pytest.param([set_var("n", "12a")], {}, id="letters"),
        pytest.param([], {"n": "twelve"}, id="channel-word"),
        pytest.param([], {"n": "1" * 65}, id="longer-than-play_digits-allows"),
        # str.isdigit() accepts these, but they are no DTMF digits a switch can say
        pytest.param([], {"n": "\u00b2"}, id="superscript-two"),
        pytest.param([set_var("n", "\u0661\u0662")], {}, id="arabic-indic-digits"),
    ],
)
def test_play_digits_from_an_unusable_variable_is_skipped_and_the_next_rule_runs(rules: list[dict[str, Any]], channel: dict[str, str]) -> None:
    d, out = started([*rules, say_var("n"), transfer("999")], channel)
    assert not any(isinstance(o, SayDigits) for o in d.log)
    assert out[-4:] == [("notice",), ("done", "play_digits_from_variable", "skipped"), ("transfer", "999"), ("done", "transfer", "ok")]


# --- record_digits ------------------------------------------------------------


def test_record_digits_with_a_sound_ends_at_max_and_the_next_rule_reads_the_variable() -> None:
    d, out = started([record("code", 3, sound=3), say_var("code"), transfer("200")])
    assert out == [("play", "rec.wav", "bg")]
    assert d.call.state is State.RECORDING
    prompt = d.plays[-1]
    out1 = d.press("1")
    assert briefs(out1) == [("stop",), ("timer", "inter_digit", 2.0)]  # a key stops the prompt
    assert out1[0] == StopPlayback(prompt)
    assert d.played(prompt) == []  # its end, confirmed late: stale
    assert briefs(d.press("2")) == [("cancel", "inter_digit"), ("timer", "inter_digit", 2.0)]
    assert briefs(d.press("3")) == [
        ("cancel", "inter_digit"),
        ("set", "code", "123"),
        ("done", "record_digits", "ok"),
        ("say", "123", "iterated", "bg"),
        ("done", "play_digits_from_variable", "ok"),
    ]
    d.played()
    d.transfer_result(ok=True)
    assert d.record.variables == (("code", "123"),)
    assert d.record.entries == ()  # recorded digits are no menu entry
    assert d.record.first_digit_at is not None  # but they are the caller's first key


@pytest.mark.parametrize(
    ("keys", "end", "value"),
    [
        ("12#", None, "12"),  # '#' ends, not part of the value
        ("#", None, ""),
        ("", TimerKind.FIRST_DIGIT, ""),  # nothing typed within timeout
        ("12", TimerKind.INTER_DIGIT, "12"),  # silence after some digits
        ("1234", None, "1234"),  # max reached
    ],
)
def test_record_digits_without_a_sound(keys: str, end: TimerKind | None, value: str) -> None:
    d, out = started([record("pin", 4), transfer_var("pin"), set_var("after", "yes")], timeout=3000)
    assert out == [("timer", "first_digit", 3.0)]
    if end is None:
        d.press(keys[:-1])
        last = d.press(keys[-1])
    else:
        d.press(keys)
        last = d.fire(end)
    recorded = [b for b in briefs(last) if b[0] != "cancel"]
    assert recorded[:2] == [("set", "pin", value), ("done", "record_digits", "ok")]
    # the next rule runs with what was recorded; an empty value is skipped, so the rule after it runs
    if value:
        assert recorded[2:] == [("transfer", value), ("done", "transfer_from_variable", "ok")]
        d.transfer_result(ok=True)
        assert d.record.variables == (("pin", value),)
    else:
        assert recorded[2:] == [
            ("notice",),
            ("done", "transfer_from_variable", "skipped"),
            ("set", "after", "yes"),
            ("done", "set_variable", "ok"),
            ("timer", "first_digit", 3.0),  # start's rules are done: wait for a menu entry
        ]


def test_record_digits_sound_played_out_then_the_timeout_runs() -> None:
    d, out = started([record("code", 2, sound=3)], timeout=4000)
    assert briefs(d.played()) == [("timer", "first_digit", 4.0)]
    # start's rules are done after the record: the context now waits for a menu entry
    assert briefs(d.fire(TimerKind.FIRST_DIGIT)) == [
        ("set", "code", ""),
        ("done", "record_digits", "ok"),
        ("timer", "first_digit", 4.0),
    ]
    assert d.call.state is State.COLLECTING


def test_record_digits_hash_during_its_sound_records_nothing() -> None:
    d, _ = started([record("code", 2, sound=3), hangup()])
    assert briefs(d.press("#")) == [("stop",), ("set", "code", ""), ("done", "record_digits", "ok"), ("done", "hangup", "ok"), ("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]


# --- variables, caller id ---------------------------------------------------


def test_set_variable_is_exported_and_recorded() -> None:
    d, out = started([set_var("lang", "ru"), set_var("tier", "gold"), set_var("lang", "en"), hangup()])
    assert out[:6] == [
        ("set", "lang", "ru"),
        ("done", "set_variable", "ok"),
        ("set", "tier", "gold"),
        ("done", "set_variable", "ok"),
        ("set", "lang", "en"),
        ("done", "set_variable", "ok"),
    ]
    assert dict(d.record.variables) == {"lang": "en", "tier": "gold"}


def test_caller_id_is_set_before_the_transfer() -> None:
    d, _ = started([caller_number("+74950000000"), caller_name("Shop 12"), transfer("200")])
    assert switch_commands(d.log) == [
        ("answer",),
        ("caller_id", "number", "+74950000000"),
        ("caller_id", "name", "Shop 12"),
        ("transfer", "200"),
    ]


# --- how options end ------------------------------------------------------------


@pytest.mark.parametrize(
    "rules",
    [[], [set_var("x", "1")], [transfer_var("unset")]],
    ids=["no rules", "set_variable", "skipped transfer"],
)
def test_an_option_other_than_start_whose_rules_run_out_hangs_up(rules: list[dict[str, Any]]) -> None:
    d = Driver(one_context({"start": [], "1": rules}))
    d.start()
    out = d.press("1")
    assert commands(out)[-2:] == [("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]
    assert d.record.outcome == "hangup"


def test_an_option_whose_prompt_ends_hangs_up() -> None:
    d = Driver(one_context({"start": [], "1": [fg(2)]}))
    d.start()
    d.press("1")
    assert briefs(d.played()) == [("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]


@pytest.mark.parametrize("start", [[], [set_var("x", "1")], [voice_helper()]], ids=["no rules", "set_variable", "voice_helper without speech"])
def test_start_whose_rules_run_out_waits_for_input(start: list[dict[str, Any]]) -> None:
    d, out = started(start, timeout=6000)
    assert out[-1] == ("timer", "first_digit", 6.0)
    assert d.call.state is State.COLLECTING


def test_record_digits_ends_on_hash_even_where_an_option_holds_hash() -> None:
    """The context's `1#` option makes `#` a digit of menu entries, not of a recorded value (spec: record_digits ends on `#`)."""
    d, _ = started([record("pin", 4), transfer_var("pin")], options={"1#": [transfer("100")]})
    d.press("12")
    out = briefs(d.press("#"))
    assert [b for b in out if b[0] != "cancel"][:3] == [("set", "pin", "12"), ("done", "record_digits", "ok"), ("transfer", "12")]
