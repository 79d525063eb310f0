"""`bench/run --smoke` keeps working: every field is there, numbers are sane, no call is lost.

This checks the bench, not speed: speed is measured only by running bench/run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTENDERS = ("ivrflow", "ivrflow-ari", "baseline", "floor")
NUMBERS = ("cps_max", "cpu_s_per_1000_calls", "rss_mb_peak", "held_calls", "rss_kb_per_held_call")


def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run"), "--smoke", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    machine = result["machine"]
    assert machine["cores"] >= 1 and machine["cpu_model"] and machine["python"] and machine["gevent"]
    assert result["loadgen_cpu_s"] >= 0
    for name in CONTENDERS:
        block = result[name]
        for field in NUMBERS:
            assert isinstance(block[field], (int, float)) and block[field] >= 0, (name, field, block[field])
        for field in ("accept_to_first_cmd_ms", "key_to_cmd_ms"):
            assert block[field]["p50"] >= 0 and block[field]["p99"] >= block[field]["p50"], (name, field)
        # Whether a step met the p99 bound is speed, which a loaded machine can spoil: not asserted here.
        assert block["runs"] and all(r["finished"] > 0 for r in block["runs"]), name
        assert block["held_calls"] > 0, name
        assert block["lost_calls"] == 0, (name, block["runs"], block["holds"])
        assert block["left_open"] == 0, (name, block["runs"], block["holds"])
    # ARI has no barge-in: the key that stops the greeting is a command of its own, measured apart.
    ari = result["ivrflow-ari"]
    assert ari["first_key_to_stop_ms"]["p99"] >= ari["first_key_to_stop_ms"]["p50"] > 0
    assert ari["rest_requests_per_call"] > 0
    assert all(r["requests_after_stasis_end"] == 0 for r in ari["runs"] + ari["holds"]), ari["runs"]
    assert "| metric |" in done.stdout


def test_webhook_hold_smoke() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.webhook_hold", "--waiting", "10", "--callers", "5", "--reply-after", "0.5"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["arrival"] == "steady" and result["hook_calls"] > 10  # 10 out at once, for the whole run
    assert result["webhook_answered"] == result["waiting_transferred_to_003"] == result["hook_calls"]
    assert result["in_flight_at_start"] > 0 and result["in_flight_during_run"]["least"] > 0
    assert result["answered_during_run"] > 0
    for run in ("alone", "beside_waiting"):
        measured = result[run]
        assert measured["n"] == 5 and measured["lost"] == measured["left_open"] == 0, (run, measured)
        assert 0 < measured["p50_ms"] <= measured["p99_ms"] <= measured["max_ms"], run


def test_ari_socket_drop_smoke() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ari_socket_drop", "--calls", "20"], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["records"] == 20 and result["duplicate_records"] == result["missing_records"] == 0
    assert result["driven_to_end"] + result["hung_up_with_reason"] == 20
    assert result["decisions"] == {"ended": 5, "resumed": 13, "lost_state": 2}
    assert 0 < result["seconds"]["reconnect"] <= result["seconds"]["reconciled"] <= result["seconds"]["all_recorded"]
