"""A pool of two real `ivrflow serve` processes behind a real HAProxy running the shipped
config/haproxy/haproxy.cfg: calls are spread, a draining instance is taken out of the pool by
its /readyz while its call in progress finishes.

`haproxy` comes with Debian's `haproxy` package.
"""

from __future__ import annotations

import csv
import re
import shutil
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent import socket as gsocket
from gevent import subprocess

from daemon.harness import SOUNDS, Daemon, daemon
from ivrflow.testing import BRIEF_CALL_AT_TARGET, ChannelHistory, CallScript, start_call

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "config" / "haproxy" / "haproxy.cfg"
BACKEND = "ivrflow"
SCALE = 0.05
SOUND_SECONDS = {str((SOUNDS / "advertising.wav").resolve()): 4.0, str((SOUNDS / "hello.wav").resolve()): 3.0}
# The test config checks every 100 ms and the shipped one marks a server down after `fall 2`
# failed checks: 0.1-0.2 s (seen: 0.15-0.19 s; `fall 8` took 0.74 s). The bound leaves room
# for a loaded CI machine yet fails a `fall` of 7 or more, or a check that never sees the
# drain (/healthz).
MARK_DOWN_WITHIN = 0.6


def haproxy_binary() -> str:
    path = shutil.which("haproxy")
    assert path, "haproxy is not installed: apt-get install haproxy (Debian package `haproxy`)"
    return path


def script(**overrides: Any) -> CallScript:
    # Transferred calls end at their target soon, so ivrflow lets go of their held sockets.
    defaults: dict[str, Any] = {
        "destination_number": "071",
        "time_scale": SCALE,
        "sounds": SOUND_SECONDS,
        "default_transfer_extension": BRIEF_CALL_AT_TARGET,
    }
    return CallScript(**{**defaults, **overrides})


def free_port() -> int:
    """A port nobody listens on now; HAProxy binds it a moment later."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def substitute(text: str, pattern: str, replacement: str | Callable[[re.Match[str]], str], count: int) -> str:
    """Replace ``pattern`` (per line) exactly ``count`` times, so that a change to the shipped
    file this test cannot follow fails here instead of silently testing something else."""
    result, n = re.subn(pattern, replacement, text, flags=re.MULTILINE)
    assert n == count, f"{SHIPPED.name}: expected {count} line(s) matching {pattern!r}, found {n}"
    return result


def pool_config(frontend_port: int, servers: list[tuple[tuple[str, int], tuple[str, int]]], stats: Path) -> str:
    """The shipped config with only what cannot apply to a test changed.

    Changed: the listening/server addresses and the stats socket and log target (to the
    test's own); `chroot`/`user`/`group` dropped (they need root and a haproxy user, and are
    process set-up, not proxying); the check intervals shortened so the test runs in seconds.
    Everything else -- mode, balance, timeouts, keepalive, retries, the /readyz check, `fall`,
    `rise`, the absence of `on-marked-down shutdown-sessions` -- is used as shipped.
    """
    text = SHIPPED.read_text()
    text = substitute(text, r"^(\s*bind\s+)127\.0\.0\.1:8084$", rf"\g<1>127.0.0.1:{frontend_port}", 1)
    addresses = iter(servers)

    def server(m: re.Match[str]) -> str:
        (esl_host, esl_port), (http_host, http_port) = next(addresses)
        assert esl_host == http_host == "127.0.0.1"
        return f"{m.group(1)}127.0.0.1:{esl_port} check port {http_port}"

    text = substitute(text, r"^(\s*server\s+\S+\s+)\S+:8084 check port 9464$", server, len(servers))
    text = substitute(text, r"^(\s*stats socket )/run/haproxy/admin\.sock ", rf"\g<1>{stats} ", 1)
    text = substitute(text, r"^(\s*log )/dev/log ", r"\g<1>stderr ", 1)
    text = substitute(text, r"^\s*(chroot|user|group)\s.*\n", "", 3)
    return substitute(
        text, r"\binter 2s fastinter 1s downinter 5s\b", "inter 100ms fastinter 100ms downinter 100ms", 1
    )


@dataclass
class HAProxy:
    process: subprocess.Popen
    stats: Path
    lines: list[str] = field(default_factory=list)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def log(self) -> str:
        return "haproxy said:\n" + "\n".join(self.lines)

    def servers(self) -> dict[str, dict[str, str]]:
        """`show stat` on the stats socket: the backend's servers by name, each a CSV row."""
        with gsocket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        rows = csv.DictReader(data.decode().removeprefix("# ").splitlines())
        return {r["svname"]: r for r in rows if r["pxname"] == BACKEND and r["svname"] not in ("FRONTEND", "BACKEND")}


@contextmanager
def haproxy(config: str, workdir: Path, stats: Path) -> Iterator[HAProxy]:
    config_file = workdir / "haproxy.cfg"
    config_file.write_text(config)
    # -db: foreground, no daemon; the process is ours to kill.
    process = subprocess.Popen([haproxy_binary(), "-f", str(config_file), "-db"], stderr=subprocess.PIPE)
    it = HAProxy(process, stats)
    reader = gevent.spawn(it._read_stderr)
    try:
        yield it
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        reader.join(timeout=5)


def wait_until(condition: Callable[[], bool], timeout: float, what: Callable[[], str]) -> float:
    """Poll ``condition`` until it holds; the seconds it took. Fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s: {what()}")
        gevent.sleep(0.02)
    return time.monotonic() - started


def call_ids(d: Daemon) -> set[str]:
    return {r["call_uuid"] for r in d.records()}


def addresses(d: Daemon) -> tuple[tuple[str, int], tuple[str, int]]:
    """Where a daemon takes calls, and where it answers /readyz."""
    assert d.esl is not None and d.http is not None
    return d.esl, d.http


def test_the_shipped_config_is_valid_as_is() -> None:
    check = subprocess.run([haproxy_binary(), "-c", "-f", str(SHIPPED)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Configuration file is valid" in check.stdout


def test_a_pool_behind_haproxy_spreads_calls_and_drains_one_instance(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    with ExitStack() as stack:
        pool = [stack.enter_context(daemon(tmp_path / name, "--drain-timeout", "20")) for name in ("a", "b")]
        frontend = ("127.0.0.1", free_port())
        stats = tmp_path / "stats.sock"
        config = pool_config(frontend[1], [addresses(d) for d in pool], stats)
        proxy = stack.enter_context(haproxy(config, tmp_path, stats))
        names = list(re.findall(r"^\s*server\s+(\S+)", config, flags=re.MULTILINE))
        by_name = dict(zip(names, pool, strict=True))

        def states() -> dict[str, str]:
            assert proxy.process.poll() is None, f"haproxy exited with {proxy.process.returncode}\n{proxy.log()}"
            try:
                return {name: row["status"] + "/" + row["check_status"] for name, row in proxy.servers().items()}
            except (FileNotFoundError, ConnectionRefusedError):
                return {}  # still starting

        wait_until(lambda: states() == {n: "UP/L7OK" for n in names}, 10, lambda: f"{states()}\n{proxy.log()}")

        # (a) Calls placed at once are spread over both instances, three and three.
        first = [start_call(frontend, script()) for _ in range(6)]
        first_ids = {c.get(timeout=30).unique_id for c in first}
        wait_until(lambda: sum(len(d.records()) for d in pool) == 6, 10, lambda: f"records {[d.records() for d in pool]}")
        assert set.union(*(call_ids(d) for d in pool)) == first_ids
        assert [len(call_ids(d)) for d in pool] == [3, 3], proxy.log()
        assert [d.metric("ivr_calls_total", ivr="071", outcome="transfer") for d in pool] == [3.0, 3.0]

        # (b) A call in progress at real speed: an 8 s foreground prompt, then the caller
        # presses 2 during the next one (9 s in) ...
        prompts = {**SOUND_SECONDS, str((SOUNDS / "advertising.wav").resolve()): 8.0}
        long_call = start_call(frontend, script(time_scale=1.0, sounds=prompts, keys=[(9.0, "2")]))
        wait_until(lambda: any(d.metric("ivr_calls_active") == 1 for d in pool), 10, lambda: "the long call never arrived")
        holder_name, holder = next((n, d) for n, d in by_name.items() if d.metric("ivr_calls_active") == 1)
        [(other_name, other)] = [(n, d) for n, d in by_name.items() if d is not holder]

        # ... makes leastconn send every call placed meanwhile to the other instance (round-robin
        # would alternate). Each next call waits until HAProxy has let go of the previous one.
        for _ in range(3):
            wait_until(lambda: proxy.servers()[other_name]["scur"] == "0", 10, lambda: str(proxy.servers()))
            served = start_call(frontend, script()).get(timeout=30).unique_id
            wait_until(lambda: served in call_ids(other), 10, lambda: f"{served} not in {other.records()}")

        # ... then its instance is told to stop.
        holder.signal(signal.SIGTERM)
        holder.wait_log(r"draining")
        status, body = holder.get("/readyz")
        assert status == 503 and "draining" in body

        took = wait_until(
            lambda: states().get(holder_name, "").startswith("DOWN"),
            MARK_DOWN_WITHIN,
            lambda: f"{holder_name} not marked down: {states()}\n{proxy.log()}",
        )
        assert states()[other_name] == "UP/L7OK"
        # Marked down while its call goes on: HAProxy did not cut the connection.
        assert not long_call.ready(), f"the long call ended before {holder_name} was marked down ({took:.2f} s)"

        # New calls all go to the instance that still takes calls.
        later = [start_call(frontend, script()) for _ in range(4)]
        later_ids = {c.get(timeout=30).unique_id for c in later}
        wait_until(lambda: later_ids <= call_ids(other), 10, lambda: f"{other_name} records {other.records()}")
        assert not later_ids & call_ids(holder)

        # The draining instance finishes its call through HAProxy (the key press reached it
        # after it was marked down), then exits cleanly.
        finished: ChannelHistory = long_call.get(timeout=20)
        assert finished.transferred_to == "002"
        assert holder.process.wait(timeout=20) == 0
        [record] = [r for r in holder.records() if r["call_uuid"] == finished.unique_id]
        assert record["outcome"] == "transfer"
        assert len(holder.records()) == 4 and len(other.records()) == 10


def test_a_call_refused_before_the_check_noticed_is_redispatched(tmp_path: Path) -> None:
    """The seconds between an ivrflow closing its listener (SIGTERM) and HAProxy's check marking it
    down: here server "a" refuses connections while its check (pointed at b's /readyz) says ready."""
    (tmp_path / "b").mkdir()
    with ExitStack() as stack:
        b = stack.enter_context(daemon(tmp_path / "b"))
        _, b_http = addresses(b)
        refusing = ("127.0.0.1", free_port())
        frontend = ("127.0.0.1", free_port())
        stats = tmp_path / "stats.sock"
        config = pool_config(frontend[1], [(refusing, b_http), addresses(b)], stats)
        proxy = stack.enter_context(haproxy(config, tmp_path, stats))
        a_name, _ = re.findall(r"^\s*server\s+(\S+)", config, flags=re.MULTILINE)

        def checked() -> bool:
            assert proxy.process.poll() is None, proxy.log()
            return stats.exists() and all(r["check_status"] == "L7OK" for r in proxy.servers().values())

        wait_until(checked, 10, proxy.log)
        served = {start_call(frontend, script()).get(timeout=30).unique_id for _ in range(4)}
        wait_until(lambda: served <= call_ids(b), 10, lambda: f"{served} not all in {b.records()}")
        a = proxy.servers()[a_name]
        # leastconn picked "a" for some calls; each of those was refused and redispatched to b
        # at once, instead of failing the call or retrying the refusing server.
        assert int(a["stot"]) >= 1 and a["wredis"] == a["stot"], (a, proxy.log())
