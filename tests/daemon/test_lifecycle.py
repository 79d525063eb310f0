"""The daemon's life as a process: start-up mistakes, reload isolation, reload access, metrics from the start."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import gevent
from gevent import socket as gsocket

from ivrflow.testing import start_call

from .harness import SOUNDS, daemon, menu_text
from .test_daemon import script

# A menu a YAML reader recurses into: the process must survive it on reload.
DEEP_MENU = "sounds: " + "[" * 500 + "]" * 500 + "\n"


def serve(tmp: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    menu = tmp / "menu.yaml"
    menu.write_text(menu_text())
    defaults = {"--listen": "127.0.0.1:0", "--metrics-listen": "off", "--call-records": str(tmp / "calls.jsonl")}
    given = dict(zip(flags[::2], flags[1::2], strict=True))
    args = [a for pair in {**defaults, **given}.items() for a in pair]
    return subprocess.run(
        [sys.executable, "-m", "ivrflow", "serve", "--menu", str(menu), "--sounds", str(SOUNDS), *args],
        capture_output=True, text=True, timeout=30,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("ivrflow serve: ")]
    for fragment in fragments:
        assert fragment in line, line


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(tmp_path, "--listen", f"127.0.0.1:{port}")
        assert_one_line_error(result, f"127.0.0.1:{port}", "--esl-listen", "in use")
        result = serve(tmp_path, "--metrics-listen", f"127.0.0.1:{port}")
        assert_one_line_error(result, f"127.0.0.1:{port}", "--metrics-listen", "in use")


def test_an_address_not_on_this_machine_is_one_line(tmp_path: Path) -> None:
    result = serve(tmp_path, "--listen", "192.0.2.1:8084")  # TEST-NET-1: never a local address
    assert_one_line_error(result, "192.0.2.1:8084", "no network interface")


def test_call_records_that_cannot_be_written_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "calls.jsonl"
    assert_one_line_error(serve(tmp_path, "--call-records", str(missing)), str(missing), "--call-records")
    assert_one_line_error(serve(tmp_path, "--call-records", str(tmp_path)), str(tmp_path), "--call-records")


def test_a_sighup_the_instant_ready_is_sent_is_handled(tmp_path: Path) -> None:
    # The process signals itself right after its first READY=1: the handler must already be there.
    prelude = """
import os, signal
from ivrflow.service import sd_notify
_ready = sd_notify.Notifier.ready
def ready(self, status, _sent=[]):
    _ready(self, status)
    if not _sent:
        _sent.append(1)
        os.kill(os.getpid(), signal.SIGHUP)
sd_notify.Notifier.ready = ready
"""
    with daemon(tmp_path, prelude=prelude) as d:
        d.wait_log(r"menu reloaded")
        assert d.process.poll() is None
        assert d.metric("ivr_config_reloads_total", result="success") == 2


def test_a_reload_that_raises_anything_is_rejected_and_the_call_in_progress_goes_on(tmp_path: Path) -> None:
    with daemon(tmp_path) as d:
        call = start_call(d.esl, script())
        d.wait_log(r"call started")
        (tmp_path / "menu.yaml").write_text(DEEP_MENU)
        d.signal(signal.SIGHUP)
        line = d.wait_log(r"reload rejected")
        assert "RecursionError" in line or "nest" in line
        status, body = d.post("/-/reload")
        assert status == 422 and '"reloaded": false' in body
        assert d.metric("ivr_config_reloads_total", result="failure") == 2
        assert call.get(timeout=30).transferred_to == "050"
        assert start_call(d.esl, script()).get(timeout=30).transferred_to == "050"  # the old menu serves
        assert d.process.poll() is None
        d.wait_for("two records", lambda: len(d.records()) == 2)


def test_reload_over_http_needs_loopback_and_a_non_simple_content_type(tmp_path: Path) -> None:
    with daemon(tmp_path) as d:
        for headers in ({"Content-Type": "text/plain"}, {"Content-Type": ""}, {"Host": "evil.example:9464"}):
            status, body = d.post("/-/reload", headers)
            assert status == 403 and '"reloaded": false' in body, (headers, body)
        assert d.post("/-/reload", {"Content-Type": "application/json; charset=utf-8"})[0] == 200
        assert d.metric("ivr_config_reloads_total", result="success") == 2


def test_reload_over_http_with_a_token(tmp_path: Path) -> None:
    with daemon(tmp_path, env={"IVRFLOW_ADMIN_TOKEN": "s3cret"}) as d:
        assert d.post("/-/reload")[0] == 403
        assert d.post("/-/reload", {"Authorization": "Bearer wrong"})[0] == 403
        assert d.post("/-/reload", {"Authorization": "Bearer s3cret", "Content-Type": "text/plain"})[0] == 200
        assert d.metric("ivr_config_reloads_total", result="success") == 2


def test_a_flood_of_reload_requests_is_coalesced(tmp_path: Path) -> None:
    with daemon(tmp_path) as d:
        requests = [gevent.spawn(d.post, "/-/reload") for _ in range(40)]
        answers = [r.get(timeout=60) for r in requests]
        assert all(status == 200 and '"reloaded": true' in body for status, body in answers)
        loads = d.metric("ivr_config_reloads_total", result="success") - 1
        assert 1 <= loads <= 10, loads  # one load answers every request that waited for it


def test_labelled_counters_are_in_metrics_from_the_start(tmp_path: Path) -> None:
    with daemon(tmp_path) as d:
        for name, labels in [
            ("ivr_config_reloads_total", {"result": "failure"}),
            ("ivr_errors_total", {"kind": "internal"}),
            ("ivr_errors_total", {"kind": "malformed_frame"}),
            ("ivr_esl_connections_rejected_total", {"reason": "capacity"}),
            ("ivr_calls_total", {"ivr": "071", "outcome": "error"}),
            ("ivr_calls_total", {"ivr": "071", "outcome": "transfer"}),
        ]:
            assert d.sample(name, **labels) == 0.0, (name, labels)


def test_a_connection_in_its_handshake_is_an_active_call(tmp_path: Path) -> None:
    with daemon(tmp_path, "--max-calls", "1") as d:
        with gsocket.create_connection(d.esl) as silent:  # never answers ivrflow's `connect`
            silent.recv(1)  # ivrflow has accepted it and sent its handshake
            assert d.metric("ivr_calls_active") == 1
            status, body = d.get("/readyz")
            assert status == 503 and "at capacity" in body
        d.wait_for("the silent connection to leave", lambda: d.metric("ivr_calls_active") == 0)
