"""Calls that go wrong: hangups at every stage, lifetime, a refusing switch, broken sockets."""

from __future__ import annotations

import gc
import re
import time
import socket

import gevent
import pytest

from ivrflow.engine import ShutdownRequested
from ivrflow.menu.files import load_menu_text
from ivrflow.freeswitch.session import CallSession
from ivrflow.testing import BridgeOutcome, EmulatedCall, Faults, start_call

from .harness import SOUNDS, call, ivrflow, scaled, script, wait_until

HELLO = str(SOUNDS / "hello.wav")


def ring_together_menu():
    """A menu that at once transfers to two destinations ringing together."""
    return load_menu_text(
        """
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        options:
          start:
            - action: transfer
              transfer_dst: "101,102"
""",
        "m.yaml",
    ).menu


@pytest.mark.parametrize(
    ("at", "stage"),
    [(2.0, "sleep"), (6.0, "advertising (foreground)"), (10.5, "hello (background)"), (14.0, "input"), (13.0, "between digits")],
)
def test_caller_hangup_ends_the_call_cleanly_and_it_is_counted(at: float, stage: str) -> None:
    keys = [(12.5, "1")] if stage == "between digits" else []
    with ivrflow() as it:
        switch, record = call(it, keys=keys, caller_hangup=(at, "NORMAL_CLEARING"))
        commands_after = [c.line for t, c in switch.received if t > at + 0.5 and c.name not in ("exit",)]
        assert it.metric("ivr_calls_total", ivr="071", outcome="caller_hangup") == 1
        assert it.metric("ivr_calls_active") == 0
    assert record["outcome"] == "caller_hangup"
    assert switch.transferred_to is None
    assert commands_after == []  # nothing but exit after the hangup


def test_caller_hangup_while_a_multi_destination_transfer_rings() -> None:
    menu = ring_together_menu()
    with ivrflow(menu) as it:
        switch, record = call(
            it,
            caller_hangup=(1.0, "NORMAL_CLEARING"),
            default_bridge_outcome=BridgeOutcome("no_answer", ring_seconds=5.0),
        )
    assert "bridge" in switch.app_names()
    assert record["outcome"] == "caller_hangup"
    assert "during transfer" in record["reason"]


@pytest.mark.parametrize(
    ("outcome", "want_outcome", "want_hangup", "each"),
    [(BridgeOutcome("answer", ring_seconds=0.5, talk_seconds=1.0), "transfer", None,
      [("answered", ""), ("no_answer", "LOSE_RACE")]),
     (BridgeOutcome("busy", ring_seconds=0.5), "hangup", "NORMAL_CLEARING", [("busy", "USER_BUSY")] * 2)],
)
def test_multi_destination_transfer_rings_together_and_learns_the_result(outcome, want_outcome, want_hangup, each) -> None:
    menu = ring_together_menu()
    with ivrflow(menu, bridge_template="user/{number}") as it:
        switch, record = call(it, default_bridge_outcome=outcome)
    bridge = next(run for run in switch.applications if run.name == "bridge")
    assert re.fullmatch(r"\[origination_uuid=[0-9a-f-]{36}\]user/101,\[origination_uuid=[0-9a-f-]{36}\]user/102", bridge.arg)
    assert record["outcome"] == want_outcome
    assert [(o["destination"], o["outcome"], o["cause"]) for o in record["destination_outcomes"]] == [
        (destination, *got) for destination, got in zip(("101", "102"), each)
    ]
    if want_hangup:
        assert "transfer failed" in record["reason"]


def lifetime_menu(timeout_ms: int = 5000):
    """hello.wav, then a wait for input, in an ivr whose calls may stay 1 s."""
    return load_menu_text(
        f"""
sounds: [{{id: 1, filename: hello.wav}}]
ivrs:
  - extension: "071"
    entry_context: 1
    lifetime: 1
    contexts:
      - id: 1
        timeout: {timeout_ms}
        options:
          start:
            - action: play_sound
              sound: 1
""",
        "m.yaml",
    ).menu


def test_lifetime_ends_a_call_that_waits_too_long() -> None:
    with ivrflow(lifetime_menu(timeout_ms=60000)) as it:
        switch, record = call(it, time_scale=1.0, sounds={HELLO: 0.3})
    assert record["outcome"] == "lifetime"
    assert switch.hangup_cause == "NORMAL_CLEARING"
    assert 0.9 <= record["duration_s"] <= 2.0


def test_lifetime_mid_prompt_stops_it_and_hangs_up() -> None:
    with ivrflow(lifetime_menu()) as it:
        switch, record = call(it, time_scale=1.0, sounds={HELLO: 30.0})
    hello = next(run for run in switch.applications if run.name == "playback")
    assert hello.ended is not None and hello.ended < 3.0
    assert record["outcome"] == "lifetime"


def test_a_switch_that_answers_err_ends_the_call_as_an_error() -> None:
    with ivrflow() as it:
        switch, record = call(it, faults=Faults(fail_commands={"sendmsg": "-ERR command not found"}))
        assert it.metric("ivr_errors_total", kind="switch_refused") >= 1
    assert record["outcome"] == "error"
    assert "refused" in record["reason"]


def test_a_socket_closed_mid_frame_is_survived_and_recorded() -> None:
    with ivrflow() as it:
        switch, record = call(it, faults=Faults(close_mid_frame_after=8))
        assert it.metric("ivr_calls_active") == 0
    assert record["outcome"] == "caller_hangup"
    assert "connection" in record["reason"]


def test_header_values_with_encoded_newlines_colons_and_non_ascii_do_not_break_parsing() -> None:
    hostile = ("ivr_note", "line1\nInjected-Header: evil\r\nü€ 100% : x")
    with ivrflow() as it:
        switch, record = call(it, keys=[(10.0, "2")], faults=Faults(hostile_variable=hostile))
        assert it.metric("ivr_errors_total", kind="malformed_frame") == 0
    assert switch.transferred_to == "002"
    assert record["outcome"] == "transfer"


def test_a_socket_without_async_full_is_handed_back_to_the_dialplan() -> None:
    with ivrflow() as it:
        switch = start_call(it.address, script(full=False)).get(timeout=30)
        it.wait_idle()
        assert it.metric("ivr_esl_connections_rejected_total", reason="not_async_full") == 1
        assert it.records == []
    # The handshake goes out in one write; nothing is executed, then the call goes back.
    assert [c.name for _, c in switch.received] == ["connect", "myevents", "nixevent", "linger", "exit"]
    assert not switch.answered


def test_an_unknown_extension_is_handed_back() -> None:
    with ivrflow() as it:
        switch = start_call(it.address, script(destination_number="999")).get(timeout=30)
        it.wait_idle()
        assert it.metric("ivr_esl_connections_rejected_total", reason="no_ivr") == 1
    assert [c.name for _, c in switch.received][-1] == "exit"
    assert not switch.answered


def test_killing_the_switch_mid_call_leaves_no_greenlet_or_socket() -> None:
    with ivrflow() as it:
        peer = socket.create_connection(it.address)
        peer.sendall(b"")  # FreeSWITCH connected; it dies before saying anything more
        wait_until(lambda: it.server.registry.open == 1)
        emulated = EmulatedCall(script(keys=[(10.0, "2")]))
        greenlet = gevent.spawn(emulated.run, it.address)
        # Mid-call: playing advertising.wav.
        wait_until(lambda: any("advertising" in run.arg for run in emulated.record.applications))
        greenlet.kill()  # the emulator dies without closing its socket cleanly
        peer.close()
        it.wait_idle()
        assert it.server.registry.open == 0
    gc.collect()
    live = [o for o in gc.get_objects() if isinstance(o, CallSession)]
    assert all(s.conn.closed_reason is not None for s in live)
    assert all(s.conn.sock.fileno() == -1 for s in live)


def test_500_calls_at_once_none_lost_none_left_open() -> None:
    menu = scaled(load_menu_text(
        """
sounds: [{id: 1, filename: hello.wav}]
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        digit_len: 1
        options:
          start:
            - action: play_sound
              sound: 1
          "2":
            - action: transfer
              transfer_dst: "002"
""",
        "m.yaml",
    ).menu)
    with ivrflow(menu) as it:
        # Setting up 500 calls takes a while: the key comes 3 s (wall) in, while hello.wav still plays.
        calls = [start_call(it.address, script(keys=[(60.0, "2")], sounds={HELLO: 100.0})) for _ in range(500)]
        switches = [g.get(timeout=120) for g in calls]
        it.wait_idle(60)
        assert it.metric("ivr_calls_total", ivr="071", outcome="transfer") == 500
        assert it.metric("ivr_calls_active") == 0
    assert all(s.transferred_to == "002" for s in switches)
    assert len({r["call_uuid"] for r in it.records}) == 500


def test_a_value_that_slipped_past_validation_is_never_sent() -> None:
    from ivrflow.menu.model import SetVariable

    menu = load_menu_text(
        """
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        options:
          start:
            - {action: set_variable, set_variable_name: note, set_variable_value: safe}
""",
        "m.yaml",
    ).menu
    # Build the rule without validation, as a bug elsewhere might.
    evil = SetVariable.model_construct(action="set_variable", set_variable_name="note", set_variable_value="x\nhangup")
    context = menu.ivrs[0].contexts[0].model_copy(update={"options": {"start": (evil,)}})
    menu = menu.model_copy(update={"ivrs": (menu.ivrs[0].model_copy(update={"contexts": (context,)}),)})
    with ivrflow(menu) as it:
        switch, record = call(it)
        assert it.metric("ivr_errors_total", kind="unsafe_argument") == 1
    assert b"x\nhangup" not in b"".join(c.raw for _, c in switch.received)
    assert record["outcome"] == "error"


def test_a_finished_call_leaves_nothing_for_the_cyclic_collector() -> None:
    """Per-call objects must be freed by reference counting: cycles pile up for the
    collector, whose full passes then stall every call for tens of milliseconds."""
    import gc

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        with ivrflow() as it:
            call(it, keys=[(10.0, "2")])
            call(it, caller_hangup=(6.0, "NORMAL_CLEARING"))
        gc.collect()
        ours = [o for o in gc.garbage if type(o).__module__.startswith(("ivrflow.freeswitch", "ivrflow.engine"))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []


def test_an_empty_caller_name_is_recorded_empty_not_as_the_switchs_undef() -> None:
    with ivrflow() as it:
        _, record = call(it, caller_id_name="", keys=[(6.0, "2")])
    assert record["caller"]["name"] == ""


def test_an_event_from_outside_the_call_reaches_it_through_the_inbox() -> None:
    """The door for work done elsewhere (a webhook's reply, an ARI event): another greenlet posts to the driver."""
    with ivrflow() as it:
        emulated = EmulatedCall(script())
        greenlet = gevent.spawn(emulated.run, it.address)
        wait_until(lambda: any("hello" in run.arg for run in emulated.record.applications))
        [hello] = [run for run in emulated.record.applications if "hello" in run.arg]
        wait_until(lambda: emulated.now() > hello.started + 1.0)  # a second into the 3 s greeting, all quiet
        [session] = it.server.registry.active_calls()
        assert isinstance(session, CallSession) and session.driver is not None
        gevent.spawn(session.driver.post, ShutdownRequested(time.monotonic(), "from outside")).join()
        switch = greenlet.get(timeout=10)
        record = it.record_for(switch)
    assert record["outcome"] == "hangup" and record["reason"] == "ivrflow stopping: from outside"
    # Woken at once, not when the switch next spoke: the greeting (3 s) was cut short.
    assert hello.ended is not None and hello.ended - hello.started < 2.5
