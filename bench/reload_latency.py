#!/usr/bin/env python3
"""Key→command latency while the daemon reloads its menu.

    python bench/reload_latency.py [--mode idle|sighup|flood] [--rate 40] [--duration 10]

Starts `ivrflow serve` on bench/menu.yaml plus 50 extra sounds (WAV files of
`--sound-seconds` each, all checked by pydub on every load), drives it with the
load generator (callers that press keys) and meanwhile:

* ``idle``: does nothing (the reference);
* ``sighup``: sends SIGHUP every ``--every`` seconds;
* ``flood``: sends ``--flood`` POST /-/reload requests
  as fast as the daemon answers them (64 concurrent clients).

Prints one JSON object: the generator's key_to_cmd_ms (p50/p99/max), calls lost,
and the daemon's reload counters.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = os.environ.get("BENCH_PYTHON") or sys.executable
EXTRA_SOUNDS = 50
FLOOD_CLIENTS = 64  # concurrent reload requests in flood mode (the listener's connection cap)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_sounds(directory: Path, seconds: float) -> str:
    """Copy the bench's prompts, add EXTRA_SOUNDS WAV files; the menu's `sounds:` lines for them."""
    for name in ("hello.wav", "advertising.wav"):
        (directory / name).write_bytes((ROOT / "config" / "sounds" / name).read_bytes())
    frames = b"\x00\x01" * int(8000 * seconds)
    lines = []
    for i in range(EXTRA_SOUNDS):
        with wave.open(str(directory / f"extra{i}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(frames)
        lines.append(f"  - {{id: {1000 + i}, filename: extra{i}.wav}}")
    return "\n".join(lines)


def menu_with_sounds(extra_lines: str) -> str:
    text = (ROOT / "bench" / "menu.yaml").read_text()
    head, sep, rest = text.partition("\nivrs:")
    return head.rstrip("\n") + "\n" + extra_lines + "\n" + sep + rest


def metric(port: int, name: str, label: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + "{") and label in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def flood(port: int, total: int, stop: threading.Event) -> dict[str, int]:
    sent = {"requests": 0, "errors": 0}
    lock = threading.Lock()

    def worker() -> None:
        while not stop.is_set():
            with lock:
                if sent["requests"] >= total:
                    return
                sent["requests"] += 1
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/-/reload", data=b"{}", method="POST",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
            except OSError:
                with lock:
                    sent["errors"] += 1

    threads = [threading.Thread(target=worker) for _ in range(FLOOD_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=("idle", "sighup", "flood"), default="sighup")
    p.add_argument("--rate", type=float, default=40.0, help="calls started per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of starting calls")
    p.add_argument("--every", type=float, default=0.5, help="seconds between SIGHUPs")
    p.add_argument("--flood", type=int, default=1500, help="reload requests in flood mode")
    p.add_argument("--sound-seconds", type=float, default=30.0, help="length of each extra sound")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sounds = Path(tmp) / "sounds"
        sounds.mkdir()
        menu = Path(tmp) / "menu.yaml"
        menu.write_text(menu_with_sounds(write_sounds(sounds, a.sound_seconds)))
        esl, http = free_port(), free_port()
        daemon = subprocess.Popen(
            [PY, "-m", "ivrflow", "serve", "--menu", str(menu), "--sounds", str(sounds),
             "--listen", f"127.0.0.1:{esl}", "--metrics-listen", f"127.0.0.1:{http}",
             "--call-records", os.devnull, "--log-level", "warning", "--exit-after-transfer", "true"],
            cwd=ROOT, stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    metric(http, "ivr_build_info", "version")
                    break
                except OSError:
                    if time.monotonic() > deadline or daemon.poll() is not None:
                        raise SystemExit("the daemon did not start") from None
                    time.sleep(0.1)
            stop = threading.Event()
            flooded: dict[str, int] = {}
            if a.mode == "sighup":
                def hup() -> None:
                    while not stop.wait(a.every):
                        daemon.send_signal(signal.SIGHUP)
                driver = threading.Thread(target=hup)
            elif a.mode == "flood":
                driver = threading.Thread(target=lambda: flooded.update(flood(http, a.flood, stop)))
            else:
                driver = threading.Thread(target=stop.wait)
            started = time.monotonic()
            driver.start()
            gen = subprocess.run(
                [PY, "-m", "bench.loadgen", "--address", f"127.0.0.1:{esl}", "--rate", str(a.rate),
                 "--duration", str(a.duration), "--mix", "two,direct"],
                cwd=ROOT, capture_output=True, text=True, timeout=a.duration + 120,
            )
            stop.set()
            driver.join()
            elapsed = time.monotonic() - started
            if gen.returncode != 0:
                raise SystemExit(f"loadgen failed: {gen.stderr[-2000:]}")
            result = json.loads(gen.stdout.strip().splitlines()[-1])
            print(json.dumps({
                "mode": a.mode,
                "rate": a.rate,
                "calls": result["started"],
                "lost": result["lost"],
                "key_to_cmd_ms": result["key_to_cmd_ms"],
                "reloads_success": metric(http, "ivr_config_reloads_total", 'result="success"'),
                "reloads_failure": metric(http, "ivr_config_reloads_total", 'result="failure"'),
                "flood": flooded,
                "seconds": round(elapsed, 1),
                "daemon_alive": daemon.poll() is None,
            }))
        finally:
            daemon.terminate()
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
