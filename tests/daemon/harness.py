"""`ivrflow serve` as a real process: its ports, its logs, its HTTP listener, signals."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.event
from gevent import socket as gsocket
from gevent import subprocess

ROOT = Path(__file__).resolve().parents[2]
SOUNDS = ROOT / "config" / "sounds"

# The example menu's walk at 1/20 of its timing (see tests/e2e/harness.py).
MENU = """
sounds:
  - {{id: 51, filename: hello.wav}}
  - {{id: 52, filename: advertising.wav}}
ivrs:
  - extension: "071"
    entry_context: 1
    sleep_time: 250
    contexts:
      - id: 1
        timeout: 250
        inter_digit_timeout: 100
        digit_len: 3
        allow_any_dial: true
        options:
          start:
            - {{action: play_sound, sound: 52, sound_type: foreground}}
            - {{action: play_sound, sound: 51}}
          timeout:
            - {{action: transfer, transfer_dst: "{timeout_dst}"}}
          "2":
            - {{action: transfer, transfer_dst: "002"}}
"""


def menu_text(timeout_dst: str = "050") -> str:
    return MENU.format(timeout_dst=timeout_dst)


@dataclass
class Daemon:
    process: subprocess.Popen  # type: ignore[type-arg]
    records_path: Path
    lines: list[str] = field(default_factory=list)
    esl: tuple[str, int] | None = None
    http: tuple[str, int] | None = None
    _changed: gevent.event.Event = field(default_factory=gevent.event.Event)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if m := re.search(r"listening for FreeSWITCH on ([\d.]+):(\d+)", line):
                self.esl = (m.group(1), int(m.group(2)))
            if m := re.search(r"metrics and health on http://([\d.]+):(\d+)/", line):
                self.http = (m.group(1), int(m.group(2)))
            self._changed.set()
            self._changed = gevent.event.Event()

    def wait_log(self, pattern: str, timeout: float = 10.0) -> str:
        with gevent.Timeout(timeout, AssertionError(f"no log line matching {pattern!r} in:\n" + "\n".join(self.lines))):
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if re.search(pattern, line):
                        return line
                seen = len(self.lines)
                self._changed.wait()

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def get(self, path: str) -> tuple[int, str]:
        """HTTP GET over a gevent socket, so emulated calls in this process keep running meanwhile."""
        assert self.http is not None
        with gsocket.create_connection(self.http, timeout=5) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body.decode()

    def metric(self, name: str, **labels: str) -> float:
        from prometheus_client.parser import text_string_to_metric_families

        _, text = self.get("/metrics")
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return 0.0

    def records(self) -> list[dict[str, Any]]:
        if not self.records_path.exists():
            return []
        return [json.loads(line) for line in self.records_path.read_text().splitlines() if line]


@contextmanager
def daemon(tmp: Path, *extra: str, env: dict[str, str] | None = None, menu: str | None = None) -> Iterator[Daemon]:
    menu_file = tmp / "menu.yaml"
    if menu is not None or not menu_file.exists():
        menu_file.write_text(menu or menu_text())
    records = tmp / "calls.jsonl"
    command = [
        sys.executable, "-m", "ivrflow", "serve",
        "--menu", str(menu_file), "--sounds", str(SOUNDS),
        "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
        "--call-records", str(records), *extra,
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    it = Daemon(process, records)
    reader = gevent.spawn(it._read_stderr)
    try:
        it.wait_log(r"metrics and health on" if "off" not in extra else r"listening for FreeSWITCH")
        yield it
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=5)
