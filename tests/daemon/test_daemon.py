"""The daemon as operators run it: metrics over HTTP, reload, drain, systemd notify."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import gevent
import pytest
from gevent import socket as gsocket

from ivrflow.testing import BRIEF_CALL_AT_TARGET, CallScript, start_call

from .harness import SOUNDS, daemon, menu_text

SCALE = 0.05
SOUND_SECONDS = {str((SOUNDS / "advertising.wav").resolve()): 4.0, str((SOUNDS / "hello.wav").resolve()): 3.0}


def script(**overrides) -> CallScript:
    defaults = {
        "destination_number": "071",
        "time_scale": SCALE,
        "sounds": SOUND_SECONDS,
        "default_transfer_extension": BRIEF_CALL_AT_TARGET,
    }
    return CallScript(**{**defaults, **overrides})


def test_calls_are_counted_in_metrics_read_over_http(tmp_path: Path) -> None:
    with daemon(tmp_path) as d:
        assert d.get("/healthz")[0] == 200
        assert d.get("/readyz")[0] == 200
        calls = [start_call(d.esl, script()) for _ in range(3)]
        calls += [start_call(d.esl, script(keys=[(10.0, "2")])) for _ in range(2)]
        calls += [start_call(d.esl, script(caller_hangup=(6.0, "NORMAL_CLEARING")))]
        results = [c.get(timeout=30) for c in calls]
        d.wait_for("a record for each call", lambda: len(d.records()) == 6)  # written after the switch lets go
        assert d.metric("ivr_calls_total", ivr="071", outcome="transfer") == 5
        assert d.metric("ivr_calls_total", ivr="071", outcome="caller_hangup") == 1
        assert d.metric("ivr_calls_active") == 0
        assert d.metric("ivr_call_duration_seconds_count", ivr="071") == 6
        assert d.metric("ivr_transfers_total", ivr="071", kind="transfer") == 5
        assert d.metric("ivr_input_total", ivr="071", context="1", result="timeout") == 3
        assert d.metric("ivr_input_total", ivr="071", context="1", result="option") == 2
        assert d.metric("ivr_option_selected_total", ivr="071", context="1", option="2") == 2
        assert d.metric("ivr_context_entries_total", ivr="071", context="1") == 6
        assert d.metric("ivr_actions_total", ivr="071", action="play_sound", result="ok") >= 11
        assert d.metric("ivr_dtmf_to_action_seconds_count") >= 2
        assert d.metric("ivr_esl_command_seconds_count", command="answer") == 6
        assert d.metric("ivr_build_info", version="0.1.0") == 1
        # 0.5 s is a generous bound for a duration histogram: 5 transfers took ~0.85 s, 1 ~0.3 s.
        assert d.metric("ivr_call_duration_seconds_sum", ivr="071") > 0.5
        records = d.records()
    assert sorted(r["outcome"] for r in records) == ["caller_hangup"] + ["transfer"] * 5
    assert {r["call_uuid"] for r in records} == {s.unique_id for s in results}
    assert all(r["caller"]["number"] == "79991234567" and r["ivr"] == "071" for r in records)


def test_sighup_swaps_the_menu_for_new_calls_and_refuses_a_broken_one(tmp_path: Path) -> None:
    with daemon(tmp_path) as d:
        old_call = start_call(d.esl, script())  # will reach the timeout rule after ~0.6 s
        d.wait_log(r"call started")  # it has taken the menu of its start
        (tmp_path / "menu.yaml").write_text(menu_text(timeout_dst="060"))
        d.signal(signal.SIGHUP)
        d.wait_log(r"menu reloaded")
        new_call = start_call(d.esl, script())
        assert old_call.get(timeout=30).transferred_to == "050"  # the menu it started with
        assert new_call.get(timeout=30).transferred_to == "060"

        (tmp_path / "menu.yaml").write_text(menu_text(timeout_dst="06 0"))
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload rejected")
        assert d.metric("ivr_config_reloads_total", result="failure") == 1
        assert d.metric("ivr_config_reloads_total", result="success") == 2
        assert start_call(d.esl, script()).get(timeout=30).transferred_to == "060"  # the old menu serves


def test_sigterm_stops_accepting_at_once_and_lets_calls_finish(tmp_path: Path) -> None:
    with daemon(tmp_path, "--drain-timeout", "20") as d:
        running = start_call(d.esl, script(keys=[(10.0, "2")]))
        d.wait_log(r"call started")
        d.signal(signal.SIGTERM)
        d.wait_log(r"draining")
        with pytest.raises(ConnectionRefusedError):
            gsocket.create_connection(d.esl, timeout=2).close()
        status, body = d.get("/readyz")
        assert status == 503 and "draining" in body
        started = time.monotonic()
        assert running.get(timeout=30).transferred_to == "002"
        assert d.process.wait(timeout=20) == 0
        assert time.monotonic() - started < 20
        d.wait_log(r"stopped after draining: 0 call\(s\) left in a menu")
    assert [r["outcome"] for r in d.records()] == ["transfer"]


def test_a_call_that_outlives_the_drain_timeout_is_hung_up_with_a_reason(tmp_path: Path) -> None:
    with daemon(tmp_path, "--drain-timeout", "0.5") as d:
        long_call = start_call(d.esl, script(time_scale=1.0))  # 17 s of menu at real speed
        d.wait_log(r"call started")
        d.signal(signal.SIGTERM)
        switch = long_call.get(timeout=30)
        assert d.process.wait(timeout=10) == 0
        d.wait_log(r"hanging up 1 call\(s\): drain timeout of 0.5 s ran out")
    assert switch.hangup_cause == "NORMAL_CLEARING"
    [record] = d.records()
    assert record["outcome"] == "hangup"
    assert record["reason"] == "ivrflow stopping: drain timeout of 0.5 s ran out"


def test_a_second_sigterm_hangs_up_at_once_and_every_call_gets_its_record(tmp_path: Path) -> None:
    with daemon(tmp_path, "--drain-timeout", "60") as d:
        long_calls = [start_call(d.esl, script(time_scale=1.0)) for _ in range(3)]
        d.wait_log(r"call started", count=3)
        d.signal(signal.SIGTERM)
        d.wait_log(r"draining")
        d.signal(signal.SIGTERM)
        assert d.process.wait(timeout=10) == 0
        d.wait_log(r"second stop signal")
        d.wait_log(r"stopped after draining")
        switches = [c.get(timeout=10) for c in long_calls]
    # Every call still in a menu was hung up with its reason, and has its record.
    assert {s.hangup_cause for s in switches} == {"NORMAL_CLEARING"}
    records = d.records()
    assert sorted(r["call_uuid"] for r in records) == sorted(s.unique_id for s in switches)
    assert {(r["outcome"], r["reason"]) for r in records} == {("hangup", "ivrflow stopping: second stop signal")}


def test_systemd_notify_messages_on_a_real_socket(tmp_path: Path) -> None:
    notify = gsocket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "400000"}
    messages: list[str] = []

    def receive(until: str, timeout: float = 10.0) -> str:
        with gevent.Timeout(timeout, AssertionError(f"no {until!r} in {messages}")):
            while True:
                message = notify.recv(4096).decode()
                messages.append(message)
                if until in message:
                    return message

    with daemon(tmp_path, env=env) as d:
        ready = receive("READY=1")
        assert f"listening on {d.esl[0]}:{d.esl[1]}" in ready
        assert "STATUS=0 active call(s)" in ready
        receive("WATCHDOG=1")
        pings_before = sum("WATCHDOG=1" in m for m in messages)
        receive("WATCHDOG=1")
        assert sum("WATCHDOG=1" in m for m in messages) > pings_before
        d.signal(signal.SIGHUP)
        receive("RELOADING=1")
        receive("READY=1")
        d.signal(signal.SIGTERM)
        stopping = receive("STOPPING=1")
        assert "EXTEND_TIMEOUT_USEC=" in stopping
        assert d.process.wait(timeout=10) == 0
    notify.close()
