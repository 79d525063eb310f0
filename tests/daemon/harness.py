"""`ivrflow serve` as a real process: its ports, its logs, its HTTP listener, signals."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
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

    def wait_log(self, pattern: str, timeout: float = 10.0, count: int = 1) -> str:
        """The `count`-th log line matching `pattern`, waiting for it if need be."""
        with gevent.Timeout(timeout, AssertionError(f"no {count} log line(s) matching {pattern!r} in:\n" + "\n".join(self.lines))):
            seen, found = 0, 0
            while True:
                for line in self.lines[seen:]:
                    if re.search(pattern, line):
                        found += 1
                        if found == count:
                            return line
                seen = len(self.lines)
                self._changed.wait()

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Until `condition()` holds (state in files or metrics, which no log line announces)."""
        with gevent.Timeout(timeout, AssertionError(f"not reached in {timeout} s: {what}")):
            while not condition():
                gevent.sleep(0.02)

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def get(self, path: str) -> tuple[int, str]:
        """HTTP GET over a gevent socket, so emulated calls in this process keep running meanwhile."""
        return self.request(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")

    def post(self, path: str, headers: dict[str, str] | None = None, body: str = "{}") -> tuple[int, str]:
        head = {"Host": "127.0.0.1", "Content-Type": "application/json", **(headers or {})}
        lines = "".join(f"{k}: {v}\r\n" for k, v in head.items() if v)
        return self.request(f"POST {path} HTTP/1.0\r\n{lines}Content-Length: {len(body)}\r\n\r\n{body}")

    def request(self, text: str, timeout: float = 30) -> tuple[int, str]:
        assert self.http is not None
        with gsocket.create_connection(self.http, timeout=timeout) as sock:
            sock.sendall(text.encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body.decode()

    def metric(self, name: str, **labels: str) -> float:
        found = self.sample(name, **labels)
        return 0.0 if found is None else found

    def sample(self, name: str, **labels: str) -> float | None:
        """The sample's value, or None if /metrics does not show it."""
        from prometheus_client.parser import text_string_to_metric_families

        _, text = self.get("/metrics")
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    return float(s.value)
        return None

    def records(self) -> list[dict[str, Any]]:
        if not self.records_path.exists():
            return []
        return [json.loads(line) for line in self.records_path.read_text().splitlines() if line]


@contextmanager
def daemon(
    tmp: Path, *extra: str, env: dict[str, str] | None = None, menu: str | None = None, prelude: str = ""
) -> Iterator[Daemon]:
    """`ivrflow serve` with ports chosen by the system; `prelude` is Python run in the process first."""
    menu_file = tmp / "menu.yaml"
    if menu is not None or not menu_file.exists():
        menu_file.write_text(menu or menu_text())
    records = tmp / "calls.jsonl"
    entry = ["-c", f"{prelude}\nimport sys\nfrom ivrflow.cli import main\nsys.exit(main(sys.argv[1:]))"] if prelude else ["-m", "ivrflow"]
    command = [
        sys.executable, *entry, "serve",
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
