"""The example menu 071 through `EslServer` on real sockets, FreeSWITCH emulated."""

from __future__ import annotations

import pytest

from ivrflow.menu.files import load_menu_text

from .harness import SOUNDS, call, ivrflow

HELLO = str(SOUNDS / "hello.wav")
AD = str(SOUNDS / "advertising.wav")
# Call time (emulator seconds): sleep 0-5, advertising.wav 5-9, hello.wav 9-12, timeout 12-17.


def sent_app_args(switch, app: str) -> list[str]:
    """The execute-app-arg of every sendmsg that ran `app`, as ivrflow wrote it."""
    return [
        command.headers.get("execute-app-arg", "")
        for _, command in switch.received
        if command.name == "sendmsg" and command.headers.get("execute-app-name") == app
    ]


def test_no_key_transfers_to_050_after_both_sounds_and_the_timeout() -> None:
    with ivrflow() as it:
        switch, record = call(it)
    assert switch.answered
    assert switch.transferred_to == "050"
    assert sent_app_args(switch, "playback") == [
        f"%[playback_terminators=none]{AD}",
        f"%[playback_terminators=any]{HELLO}",
    ]
    transfer = next(run for run in switch.applications if run.name == "transfer")
    assert transfer.arg == "050 XML default"
    assert 16.0 <= transfer.started <= 18.5
    assert record["outcome"] == "transfer"
    assert record["transfer_destinations"] == ["050"]
    assert [(s["context"], s["option"]) for s in record["path"]] == [(1, "start"), (1, "timeout")]
    assert switch.closed_by in ("exit", "emulator")
    assert it.metric("ivr_calls_total", ivr="071", outcome="transfer") == 1
    assert it.metric("ivr_calls_active") == 0


def test_a_call_the_dialplan_answered_gets_no_second_answer() -> None:
    with ivrflow() as it:
        switch, record = call(it, answered=True)
    assert "answer" not in switch.app_names()[:3]  # the target's own answer comes after the transfer
    assert switch.app_names()[0] == "playback"
    assert switch.transferred_to == "050" and record["outcome"] == "transfer"


def test_2_during_hello_stops_it_at_once_then_transfers_to_002() -> None:
    with ivrflow() as it:
        switch, record = call(it, keys=[(10.0, "2")])
    hello = next(run for run in switch.applications if run.name == "playback" and HELLO in run.arg)
    assert hello.ended is not None and hello.ended < 10.6  # stopped, not played to 12
    assert switch.transferred_to == "002"
    transfer = next(run for run in switch.applications if run.name == "transfer")
    assert 11.8 <= transfer.started <= 13.5  # after the 2 s inter-digit wait, not before
    assert record["entries"] == ["2"]
    assert 0.4 <= record["first_key_s"] <= 1.0  # pressed at 10 s of call time, at 1/20 speed


@pytest.mark.parametrize(
    ("keys", "destination"),
    [([(10.0, "1")], "+79876543210"), ([(10.0, "1"), (10.2, "0"), (10.4, "5")], "105")],
    ids=["option 1", "direct dial 105"],
)
def test_options_and_direct_dial(keys, destination) -> None:
    with ivrflow() as it:
        switch, record = call(it, keys=keys)
    assert switch.transferred_to == destination
    assert record["transfer_destinations"] == [destination]


def test_direct_dial_does_not_wait_for_the_inter_digit_timeout() -> None:
    with ivrflow() as it:
        switch, _ = call(it, keys=[(10.0, "1"), (10.2, "0"), (10.4, "5")])
    transfer = next(run for run in switch.applications if run.name == "transfer")
    assert transfer.started < 11.5


def test_keys_during_advertising_are_ignored() -> None:
    with ivrflow() as it:
        switch, record = call(it, keys=[(6.0, "2")])
    ad = next(run for run in switch.applications if run.name == "playback" and AD in run.arg)
    assert ad.ended is not None and ad.ended >= 8.9  # played to its end
    assert switch.transferred_to == "050"
    assert record["entries"] == []
    assert [d for _, d in switch.dtmf] == ["2"]  # the switch did deliver it


def test_invalid_key_hangs_up() -> None:
    with ivrflow() as it:
        switch, record = call(it, keys=[(13.0, "9")])
    assert switch.hangup_cause == "NORMAL_CLEARING"
    assert switch.transferred_to is None
    assert record["outcome"] == "hangup"
    assert [(s["context"], s["option"]) for s in record["path"]] == [(1, "start"), (1, "invalid")]


def test_hash_ends_an_empty_entry_as_invalid() -> None:
    with ivrflow() as it:
        switch, record = call(it, keys=[(10.0, "#")])
    assert switch.hangup_cause == "NORMAL_CLEARING"
    assert record["entries"] == [""]


def test_hash_ends_the_entry_early() -> None:
    with ivrflow() as it:
        switch, record = call(it, keys=[(13.0, "2#")])
    assert switch.transferred_to == "002"
    transfer = next(run for run in switch.applications if run.name == "transfer")
    assert transfer.started < 13.6  # no inter-digit wait after '#'


def test_a_key_while_parked_waiting_for_input_is_taken() -> None:
    with ivrflow() as it:
        switch, record = call(it, keys=[(14.0, "2")])
    assert switch.transferred_to == "002"
    assert record["entries"] == ["2"]


def test_a_key_pressed_while_parked_between_two_prompts_is_kept() -> None:
    """Between two prompts the channel is parked; FreeSWITCH dequeues (and events) a key then, and drops it."""
    menu = load_menu_text(
        """
sounds: [{id: 1, filename: advertising.wav}, {id: 2, filename: hello.wav}]
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        options:
          start:
            - {action: play_sound, sound: 1}
            # Three quick applications hold the channel parked between the prompts for ~100 ms.
            - {action: set_variable, set_variable_name: a, set_variable_value: "1"}
            - {action: set_variable, set_variable_name: b, set_variable_value: "2"}
            - {action: set_variable, set_variable_name: c, set_variable_value: "3"}
            - {action: play_sound, sound: 2}
          "1": [{action: transfer, transfer_dst: "001"}]
""",
        "m.yaml",
    ).menu
    with ivrflow(menu) as it:
        switch, record = call(it, time_scale=1.0, sounds={AD: 1.0, HELLO: 1.0}, keys=[(1.1, "1")])
    [(dequeued_at, digit)] = switch.dtmf
    playing = [(run.started, run.ended) for run in switch.applications if run.name == "playback"]
    assert not any(start <= dequeued_at <= (end or 1e9) for start, end in playing), "the key met a prompt"
    assert switch.transferred_to == "001"
    assert record["entries"] == ["1"]


def test_channel_variables_from_the_switch_reach_the_menu() -> None:
    menu = load_menu_text(
        """
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        options:
          start:
            - {action: transfer_from_variable, transfer_variable: account_manager}
            - {action: transfer, transfer_dst: "000"}
""",
        "m.yaml",
    ).menu
    with ivrflow(menu) as it:
        switch, record = call(it, variables={"account_manager": "+7 123"})  # sent URL-encoded: +7%20123
        assert record["notices"] and "account_manager" in record["notices"][0]  # not dialable: skipped
        assert switch.transferred_to == "000"
        switch, record = call(it, variables={"account_manager": "+7123"})
    assert switch.transferred_to == "+7123"
