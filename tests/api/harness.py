"""`ivrflow api` as a real process on a database URL, and a client for it over real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
SOUNDS = ROOT / "config" / "sounds"


def ivrflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ivrflow", *args], capture_output=True, text=True, timeout=120)


def add_client(db: str) -> dict[str, Any]:
    """Migrate the database (a no-op when it is current) and add a client to it."""
    migrated = ivrflow("api", "migrate", "--db", db)
    assert migrated.returncode == 0, migrated.stderr
    done = ivrflow("api", "add-client", "--db", db)
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


@dataclass
class Api:
    process: subprocess.Popen[str]
    base: str
    db: str
    lines: list[str] = field(default_factory=list)

    def token(self, client: dict[str, Any]) -> str:
        reply = requests.post(f"{self.base}/oauth/token", data={
            "client_id": client["client_id"], "client_secret": client["client_secret"], "grant_type": "client_credentials",
        }, timeout=10)
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["access_token"]
        return token

    def session(self, client: dict[str, Any]) -> Client:
        return Client(self.base, self.token(client))


@dataclass
class Client:
    base: str
    token: str

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        reply = requests.request(method, self.base + path, headers={"Authorization": f"Bearer {self.token}"},
                                 timeout=30, **kwargs)
        assert reply.status_code == expect, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json() if reply.headers.get("content-type", "").startswith("application/json") else reply.content

    def upload(self, path: Path, title: str) -> dict[str, Any]:
        with path.open("rb") as f:
            out: dict[str, Any] = self.call("POST", "/client/@me/sound/", files={"file": (path.name, f, "audio/wav")},
                                            data={"title": title})
        return out


@contextmanager
def api_server(db: str, *extra: str) -> Iterator[Api]:
    process = subprocess.Popen(
        [sys.executable, "-m", "ivrflow", "api", "--db", db, "--listen", "127.0.0.1:0", *extra],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stderr is not None
    lines: list[str] = []
    base = None
    for line in process.stderr:
        lines.append(line)
        if m := re.search(r"API listening on (http://\S+)", line):
            base = m.group(1)
            break
    assert base is not None, "".join(lines)
    it = Api(process, base, db, lines)
    drain = threading.Thread(target=lambda: lines.extend(process.stderr or ()), daemon=True)
    drain.start()
    try:
        yield it
    finally:
        process.terminate()
        process.wait(timeout=15)
        drain.join(timeout=5)
        process.stderr.close()
