"""Waiting for a benchmarked process to accept connections (the bench modules run with `python -m`)."""

from __future__ import annotations

import socket
import subprocess
import time


def wait_listening(proc: subprocess.Popen[bytes], port: int, name: str, seconds: float, see: str = "") -> None:
    """Until `proc` accepts on 127.0.0.1:`port`; SystemExit naming `name` (and `see`) if it exits or `seconds` pass."""
    hint = f": see {see}" if see else ""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited at start with status {proc.returncode}{hint}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"{name} did not listen within {seconds:g} s{hint}") from None
            time.sleep(0.1)
