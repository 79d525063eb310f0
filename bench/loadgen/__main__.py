"""`python -m bench.loadgen`: play FreeSWITCH towards an outbound-socket server.

Modes:

* ``rate``: start calls at ``--rate`` calls/s for ``--duration`` s, cycling
  through ``--mix`` (the example menu's callers), then wait for every call to
  end (bounded) and print one JSON object of measurements.
* ``hold``: open ``--calls`` calls that stay in the background prompt (waiting
  for input), print ``{"event": "held", ...}`` once they all are (or after
  ``--hold-timeout``), wait for a line on stdin (bounded), hang them all up,
  wait for them to end and print the JSON result.

Every loop is bounded in count and time; the generator's own CPU time is in
the result (``loadgen_cpu_s``).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.lock  # noqa: E402
import gevent.pool  # noqa: E402

from . import frames  # noqa: E402
from .report import cpu as _cpu, result as _result  # noqa: E402
from .switch import SCENARIOS, FakeCall, Stats  # noqa: E402

CALL_SECONDS_MAX = 10.0  # wall time any bench call may take beyond its start


def run_rate(address: tuple[str, int], rate: float, duration: float, mix: list[str], release_timeout: float) -> dict:
    templates = frames.render()
    stats = Stats()
    total = max(1, int(rate * duration))
    group = gevent.pool.Group()
    cpu0 = _cpu()
    t0 = time.monotonic()
    spawned = 0
    while spawned < total:
        due = min(total, int((time.monotonic() - t0) * rate) + 1)
        while spawned < due:
            call = FakeCall(SCENARIOS[mix[spawned % len(mix)]], templates, stats, release_timeout)
            group.spawn(call.run, address)
            spawned += 1
        gevent.sleep(min(0.005, max(0.0, t0 + spawned / rate - time.monotonic())))
    spawn_seconds = time.monotonic() - t0
    group.join(timeout=CALL_SECONDS_MAX + release_timeout + 5)
    unfinished = len(group)
    if unfinished:
        stats.left_open += unfinished
        stats.problem(f"{unfinished} call(s) still running at the deadline")
        group.kill(block=True, timeout=5)
    wall = time.monotonic() - t0
    return _result(
        stats,
        mode="rate",
        target_rate=rate,
        achieved_rate=round(total / spawn_seconds, 2) if spawn_seconds > 0 else 0.0,
        duration_s=round(wall, 3),
        loadgen_cpu_s_run=round(_cpu() - cpu0, 3),
    )


RELEASE_RATE = 500.0  # held callers hanging up per second


def run_hold(
    address: tuple[str, int], calls: int, rate: float, hold_timeout: float, release_wait: float, pending: int
) -> dict:
    templates = frames.render()
    stats = Stats()
    group = gevent.pool.Group()
    live: list[FakeCall] = []
    t0 = time.monotonic()
    # Closed-loop ramp: at most `pending` calls wait for their first command at once, so the
    # ramp follows the server's own setup rate instead of overflowing its listen backlog.
    gate = gevent.lock.BoundedSemaphore(pending)
    for i in range(calls):
        call = FakeCall(SCENARIOS["hold"], templates, stats, release_timeout=10.0, start_timeout=60.0)
        if not gate.acquire(timeout=60):
            stats.problem("setup gate timeout")
            break
        call.on_setup = gate
        live.append(call)
        group.spawn(call.run, address)
        gevent.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
    deadline = time.monotonic() + hold_timeout
    while stats.held + stats.finished < calls and time.monotonic() < deadline:
        gevent.sleep(0.05)
    held = stats.held
    print(json.dumps({"event": "held", "held": held, "seconds": round(time.monotonic() - t0, 2)}), flush=True)
    # Wait (bounded) for the parent to take its measurements.
    with gevent.Timeout(release_wait, False):
        sys.stdin.readline()
    # Callers hang up at a steady rate: 10,000 hangups in one instant would measure a burst
    # no switch sends, and leave most calls past their release_timeout.
    t1 = time.monotonic()
    for i, call in enumerate(live):
        call.release()
        gevent.sleep(max(0.0, t1 + (i + 1) / RELEASE_RATE - time.monotonic()))
    group.join(timeout=30)
    unfinished = len(group)
    if unfinished:
        stats.left_open += unfinished
        stats.problem(f"{unfinished} held call(s) still running at the deadline")
        group.kill(block=True, timeout=5)
    return _result(stats, mode="hold", calls=calls, held=held, duration_s=round(time.monotonic() - t0, 3))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__.splitlines()[0])
    p.add_argument("--address", required=True, help="HOST:PORT of the outbound-socket server")
    p.add_argument("--mode", choices=("rate", "hold"), default="rate")
    p.add_argument("--rate", type=float, default=50.0, help="calls started per second")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of starting calls (rate mode)")
    p.add_argument("--mix", default="nokey,two,direct,hangup", help="scenarios, cycled: " + ",".join(SCENARIOS))
    p.add_argument("--calls", type=int, default=1000, help="calls to hold (hold mode)")
    p.add_argument("--hold-timeout", type=float, default=120.0)
    p.add_argument("--release-wait", type=float, default=120.0, help="max seconds to wait for the release line")
    p.add_argument("--release-timeout", type=float, default=5.0, help="s the server has to exit once the channel is gone")
    p.add_argument("--pending", type=int, default=200, help="max calls in setup at once (hold mode)")
    a = p.parse_args(argv)
    host, _, port = a.address.rpartition(":")
    address = (host, int(port))
    if a.mode == "rate":
        mix = [m for m in a.mix.split(",") if m]
        unknown = [m for m in mix if m not in SCENARIOS]
        if unknown:
            p.error(f"unknown scenario(s): {unknown}")
        result = run_rate(address, a.rate, a.duration, mix, a.release_timeout)
    else:
        result = run_hold(address, a.calls, a.rate, a.hold_timeout, a.release_wait, a.pending)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
