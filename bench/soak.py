#!/usr/bin/env python3
"""Soak: the load generator at a steady rate for a long time; latency and RSS minute by minute.

    python bench/soak.py --duration 600 [--rate 100]        (what `make soak DURATION=600` runs)

Starts `ivrflow serve` on bench/menu.yaml as bench/run does, then runs the load
generator in one-minute rounds back to back (the last round may be shorter).
After each round it prints a Markdown row: calls, lost, left open, key→command
and accept→first command percentiles, the daemon's RSS and open files. At the
end: RSS growth from the first round to the last, and one JSON line of it all.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = os.environ.get("BENCH_PYTHON") or sys.executable
ROUND_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_listening(port: int, daemon: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and daemon.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the daemon did not start listening")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=600.0, help="seconds of load in all")
    p.add_argument("--rate", type=float, default=100.0, help="calls started per second")
    a = p.parse_args()
    port = free_port()
    daemon = subprocess.Popen(
        [PY, "-m", "ivrflow", "serve", "--menu", str(ROOT / "bench" / "menu.yaml"),
         "--sounds", str(ROOT / "config" / "sounds"), "--listen", f"127.0.0.1:{port}", "--metrics-listen", "off",
         "--call-records", os.devnull, "--max-calls", "20000", "--log-level", "warning", "--exit-after-transfer", "true"],
        cwd=ROOT,
    )
    rounds = []
    try:
        wait_listening(port, daemon)
        print("| minute | calls | lost | left open | key→cmd p50 / p99 / max ms | accept→first cmd p99 ms | RSS MiB | fds |")
        print("|---|---|---|---|---|---|---|---|")
        left = a.duration
        while left > 0 and daemon.poll() is None:
            seconds = min(ROUND_SECONDS, left)
            left -= seconds
            out = subprocess.run(
                [PY, "-m", "bench.loadgen", "--address", f"127.0.0.1:{port}", "--rate", str(a.rate),
                 "--duration", str(seconds)],
                cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120,
            )
            if out.returncode != 0:
                raise SystemExit(f"loadgen failed: {out.stderr[-2000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            row = {
                "minute": len(rounds) + 1, "calls": r["started"], "lost": r["lost"], "left_open": r["left_open"],
                "key_to_cmd_ms": r["key_to_cmd_ms"], "accept_to_first_cmd_ms": r["accept_to_first_cmd_ms"],
                "rss_kb": rss_kb(daemon.pid), "fds": len(os.listdir(f"/proc/{daemon.pid}/fd")),
            }
            rounds.append(row)
            k = row["key_to_cmd_ms"]
            print(f"| {row['minute']} | {row['calls']} | {row['lost']} | {row['left_open']} | "
                  f"{k['p50']} / {k['p99']} / {k['max']} | {row['accept_to_first_cmd_ms']['p99']} | "
                  f"{row['rss_kb'] / 1024:.1f} | {row['fds']} |", flush=True)
    finally:
        alive = daemon.poll() is None
        daemon.terminate()
        daemon.wait(timeout=60)
    growth = (rounds[-1]["rss_kb"] - rounds[0]["rss_kb"]) / rounds[0]["rss_kb"] if rounds else 0.0
    print(f"\nRSS from the first minute to the last: {growth:+.1%}; daemon alive to the end: {alive}")
    print(json.dumps({"rate": a.rate, "duration_s": a.duration, "rounds": rounds, "rss_growth": round(growth, 4)}))
    return 0 if alive and all(r["lost"] == 0 for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
