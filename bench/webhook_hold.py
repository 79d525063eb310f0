"""Key→command for callers while hundreds of other calls wait on a slow webhook.

    python -m bench.webhook_hold [--waiting 500] [--callers 200] [--reply-after 2.0] [--arrival steady|burst]

Three kinds of process, as in bench/run: ivrflow as `ivrflow serve` on
bench/menu.yaml plus an option 3 that asks the webhook and then transfers to
003; the webhook (`python -m bench.slow_hook`), answering every request after
`reply_after` seconds; and the ESL load generator (`python -m bench.loadgen`)
playing FreeSWITCH. Two runs of `callers` direct-dial callers (the `direct`
scenario: 1, 0, 5, transfer to 105; started over 2.5 s): alone, then while
`waiting` calls (the `hook` scenario, from a second generator) are out on the
webhook. How those calls come:

- `steady`: at `waiting / reply_after` calls a second from `reply_after`
  seconds before the run until after it, so about `waiting` are out on the
  webhook all through the run (`in_flight_during_run` gives the least and
  the most seen), and as many replies come back each second as calls arrive.
- `burst`: all `waiting` started over 0.5 s and all in flight before the
  first caller starts (`in_flight_at_start` says how many made it); their
  replies come back within half a second during the run: four times the
  steady rate at the defaults.

Key→command is the generator's time from writing the last key's DTMF event to
reading the command it causes, in wall milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from bench.listening import wait_listening

ROOT = Path(__file__).resolve().parents[1]
PY = os.environ.get("BENCH_PYTHON") or sys.executable
P99_LIMIT_MS = 20.0
CALLERS_OVER_S = 2.5
WAITING_OVER_S = 0.5  # burst
STEADY_AFTER_RUN_S = 3.0  # steady arrivals go on this long after the last measured caller starts (its call takes ~1 s)


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def _popen(cmd: list[str], **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, cwd=ROOT, env=_env(), text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def menu_asking(url: str, folder: Path) -> Path:
    """bench/menu.yaml with option 3: call_interactive to `url`, then a transfer to 003."""
    menu = yaml.safe_load((ROOT / "bench" / "menu.yaml").read_text())
    options = menu["ivrs"][0]["contexts"][0]["options"]
    options["3"] = [{"action": "call_interactive", "call_interactive_url": url}, {"action": "transfer", "transfer_dst": "003"}]
    path = folder / "menu.yaml"
    path.write_text(yaml.safe_dump(menu))
    return path


@contextmanager
def slow_hook(reply_after: float) -> Iterator[str]:
    """The webhook's base URL while its process runs."""
    hook = _popen([PY, "-m", "bench.slow_hook", "--delay", str(reply_after)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        assert hook.stdout is not None
        port = json.loads(hook.stdout.readline() or "{}").get("port")
        if not port:
            raise SystemExit("bench.slow_hook did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        hook.terminate()
        hook.communicate(timeout=10)


def hook_stats(base: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base}/stats", timeout=5) as reply:
        stats: dict[str, int] = json.load(reply)
        return stats


def cpu_s(pid: int) -> float:
    """The process's user and system CPU seconds so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def ivrflow(menu: Path, daemon: list[str], log: Path) -> Iterator[tuple[str, int]]:
    """`ivrflow serve` (or `daemon`'s wrapper of it) on a free port; its ESL address and pid."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [*daemon, "serve", "--menu", str(menu), "--sounds", str(ROOT / "config" / "sounds"),
           "--listen", f"127.0.0.1:{port}", "--metrics-listen", "off", "--call-records", os.devnull,
           "--max-calls", "20000", "--log-level", "warning", "--exit-after-transfer", "true",
           "--webhook-deadline", "10"]
    with open(log, "w") as err:
        proc = _popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_listening(proc, port, "ivrflow", 30, see=str(log))
        yield f"127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()  # a wrapper may write its profile on the way out
        proc.wait(timeout=30)


def steal_s() -> float:
    """CPU seconds the hypervisor gave to other guests so far, all CPUs (/proc/stat's steal; 0 where absent)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def loadgen_args(address: str, scenario: str, count: int, over_s: float) -> list[str]:
    return [PY, "-m", "bench.loadgen", "--address", address, "--mix", scenario,
            "--rate", str(count / over_s), "--duration", str(over_s)]


def loadgen_result(proc: subprocess.Popen[str], timeout: float) -> dict[str, object]:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise SystemExit(f"loadgen failed ({proc.returncode}): {err[-2000:]}")
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def callers(address: str, count: int, pid: int) -> dict[str, object]:
    """The direct callers' run, with the daemon's CPU seconds, the CPU stolen from this guest and the load (1 min) at its end."""
    before, stolen = cpu_s(pid), steal_s()
    run = loadgen_result(_popen(loadgen_args(address, "direct", count, CALLERS_OVER_S), stdout=subprocess.PIPE, stderr=subprocess.PIPE), 120)
    return {**run, "daemon_cpu_s": round(cpu_s(pid) - before, 2), "steal_s": round(steal_s() - stolen, 2),
            "load": round(os.getloadavg()[0], 2)}


def until_the_requests_stop_arriving(base: str) -> int:
    """The requests in flight once no new one has come for 0.2 s."""
    peak, quiet_since, deadline = 0, time.monotonic(), time.monotonic() + 60
    while peak == 0 or time.monotonic() - quiet_since < 0.2:
        if time.monotonic() > deadline:
            raise SystemExit("no webhook request arrived")
        time.sleep(0.01)
        in_flight = hook_stats(base)["in_flight"]
        if in_flight > peak:
            peak, quiet_since = in_flight, time.monotonic()
    return hook_stats(base)["in_flight"]


def figures(run: dict[str, object]) -> dict[str, object]:
    keys = run["key_to_cmd_ms"]
    assert isinstance(keys, dict)
    return {"p50_ms": keys["p50"], "p99_ms": keys["p99"], "max_ms": keys["max"], "n": keys["n"],
            "lost": run["lost"], "left_open": run["left_open"], "daemon_cpu_s": run["daemon_cpu_s"], "steal_s": run["steal_s"],
            "load": run["load"]}


class InFlight:
    """The least and the most requests the webhook had in flight, polled every 50 ms while it runs."""

    def __init__(self, base: str) -> None:
        self._base = base
        self._stop = threading.Event()
        self._seen: list[int] = []
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> InFlight:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            self._seen.append(hook_stats(self._base)["in_flight"])

    def span(self) -> dict[str, int]:
        return {"least": min(self._seen, default=0), "most": max(self._seen, default=0)}


def until_answering(base: str) -> int:
    """The requests in flight once the webhook has answered its first one (the steady state)."""
    deadline = time.monotonic() + 60
    while hook_stats(base)["answered"] == 0:
        if time.monotonic() > deadline:
            raise SystemExit("the webhook answered nothing")
        time.sleep(0.01)
    return hook_stats(base)["in_flight"]


def start_waiting(address: str, waiting: int, reply_after: float, arrival: str, base: str) -> tuple[subprocess.Popen[str], int]:
    """The `hook` generator, once its calls are out on the webhook as `arrival` says; and how many are in flight then."""
    if arrival == "burst":
        args = loadgen_args(address, "hook", waiting, WAITING_OVER_S)
    else:
        rate = waiting / reply_after
        over = reply_after + CALLERS_OVER_S + STEADY_AFTER_RUN_S
        args = loadgen_args(address, "hook", round(rate * over), over)
    held = _popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return held, until_the_requests_stop_arriving(base) if arrival == "burst" else until_answering(base)


def run(waiting: int, count: int, reply_after: float, arrival: str, daemon: list[str], log: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder, slow_hook(reply_after) as base:
        with ivrflow(menu_asking(f"{base}/hook", Path(folder)), daemon, log) as (address, pid):
            callers(address, 10, pid)  # warm-up: imports and first allocations in the daemon
            alone = callers(address, count, pid)
            held, in_flight_at_start = start_waiting(address, waiting, reply_after, arrival, base)
            answered_before = hook_stats(base)["answered"]
            with InFlight(base) as in_flight:
                beside = callers(address, count, pid)
            answered_during = hook_stats(base)["answered"] - answered_before
            hooked = loadgen_result(held, 120)
        answered = hook_stats(base)["answered"]
    outcomes = hooked["outcomes"]
    assert isinstance(outcomes, dict)
    return {
        "waiting": waiting, "callers": count, "reply_after_s": reply_after, "arrival": arrival,
        "alone": figures(alone), "beside_waiting": figures(beside),
        "in_flight_at_start": in_flight_at_start, "in_flight_during_run": in_flight.span(),
        "answered_during_run": answered_during, "hook_calls": hooked["started"],
        "webhook_answered": answered, "waiting_transferred_to_003": outcomes.get("transfer:003", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=500, help="calls waiting on the webhook")
    parser.add_argument("--callers", type=int, default=200, help="direct-dial callers measured in each run")
    parser.add_argument("--reply-after", type=float, default=2.0, help="seconds the webhook takes to answer")
    parser.add_argument("--arrival", choices=("steady", "burst"), default="steady",
                        help="steady: about `waiting` out on the webhook all through the run; burst: all at once")
    parser.add_argument("--daemon", default=f"{shlex.quote(PY)} -m ivrflow",
                        help="command line of ivrflow's CLI, e.g. a profiling wrapper of ivrflow.cli.main")
    parser.add_argument("--log", type=Path, default=ROOT / "bench" / "results" / "logs" / "webhook_hold.stderr",
                        help="the daemon's stderr")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the children inherit it
    args.log.parent.mkdir(parents=True, exist_ok=True)
    result = run(args.waiting, args.callers, args.reply_after, args.arrival, shlex.split(args.daemon), args.log)
    print("| run | key→command p50 | p99 | max | lost | daemon CPU | load |")
    print("|---|---|---|---|---|---|---|")
    for name in ("alone", "beside_waiting"):
        row = result[name]
        assert isinstance(row, dict)
        print(f"| {name} | {row['p50_ms']} ms | {row['p99_ms']} ms | {row['max_ms']} ms | {row['lost']} / {result['callers']}"
              f" | {row['daemon_cpu_s']} s | {row['load']} |")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
