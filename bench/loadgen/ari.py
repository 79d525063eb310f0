"""`python -m bench.loadgen.ari`: play Asterisk towards ivrflow's ARI side, run after run.

Unlike the ESL generator, this one is the server (ivrflow connects its events
WebSocket and sends REST), so it lives across runs: a fresh process per run
would drop the WebSocket and make ivrflow reconnect. It prints
``{"event": "listening", "url": ...}`` and then reads one command per line on
stdin, the ESL generator's options (``--mode rate --rate 50 --duration 3
--mix nokey,two``, ``--mode hold --calls 1000 --rate 2000``, or ``--mode
ready``, which waits for the WebSocket) and prints one JSON line per run; in
hold mode first ``{"event": "held", ...}``, then it waits for a line
(``release``). The result has the ESL generator's fields, with
``accept_to_first_cmd_ms`` from StasisStart written to the first REST request
(the answer), plus ``first_key_to_stop_ms`` (the key that must stop the
greeting: Asterisk has no barge-in) and the REST request count.

Every wait is bounded in time; the generator's own CPU is in the result.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.fileobject  # noqa: E402
import gevent.lock  # noqa: E402

from .ari_switch import AriCall, AriStats, AriSwitch  # noqa: E402
from .report import cpu, result, summary  # noqa: E402
from .switch import SCENARIOS  # noqa: E402

CALL_SECONDS_MAX = 10.0  # wall time any bench call may take beyond its start
RELEASE_RATE = 500.0  # held callers hanging up per second, as in the ESL generator
_ids = itertools.count(1)
# Read cooperatively: a blocking read would stop the hub, and with it the WebSocket's pongs.
STDIN = gevent.fileobject.FileObjectPosix(sys.stdin.fileno(), "r")


def _channel_id() -> str:
    return f"{int(time.time())}.{next(_ids)}"  # Asterisk's uniqueid shape


def _finish(sw: AriSwitch, calls: list[AriCall], timeout: float) -> None:
    """Wait (bounded) for every call's StasisEnd; one still in Stasis then is counted left open."""
    deadline = time.monotonic() + timeout
    for call in calls:
        call.ended.wait(max(0.0, deadline - time.monotonic()))
    for call in calls:
        call.end()


def _report(sw: AriSwitch, **extra: object) -> dict[str, object]:
    st = sw.stats
    return result(st, first_key_to_stop_ms=summary(st.first_key_ms), rest_requests=st.requests,
                  requests_after_stasis_end=st.late_requests, **extra)


def run_rate(sw: AriSwitch, rate: float, duration: float, mix: list[str]) -> dict[str, object]:
    sw.stats = AriStats()
    total = max(1, int(rate * duration))
    calls: list[AriCall] = []
    cpu0 = cpu()
    t0 = time.monotonic()
    while len(calls) < total:
        due = min(total, int((time.monotonic() - t0) * rate) + 1)
        while len(calls) < due:
            calls.append(sw.place(_channel_id(), SCENARIOS[mix[len(calls) % len(mix)]]))
        gevent.sleep(min(0.005, max(0.0, t0 + len(calls) / rate - time.monotonic())))
    spawn_seconds = time.monotonic() - t0
    _finish(sw, calls, CALL_SECONDS_MAX + 5)
    return _report(
        sw, mode="rate", target_rate=rate, achieved_rate=round(total / spawn_seconds, 2) if spawn_seconds > 0 else 0.0,
        duration_s=round(time.monotonic() - t0, 3), loadgen_cpu_s_run=round(cpu() - cpu0, 3),
    )


def run_hold(sw: AriSwitch, calls: int, rate: float, hold_timeout: float, release_wait: float, pending: int) -> dict[str, object]:
    sw.stats = st = AriStats()
    live: list[AriCall] = []
    t0 = time.monotonic()
    # Closed-loop ramp, as in the ESL generator: at most `pending` calls wait for their answer at once.
    sw.on_setup = gate = gevent.lock.BoundedSemaphore(pending)
    try:
        for i in range(calls):
            if not gate.acquire(timeout=60):
                st.problem("setup gate timeout")
                break
            live.append(sw.place(_channel_id(), SCENARIOS["hold"]))
            gevent.sleep(max(0.0, t0 + (i + 1) / rate - time.monotonic()))
        deadline = time.monotonic() + hold_timeout
        while st.held + st.finished < calls and time.monotonic() < deadline:
            gevent.sleep(0.05)
    finally:
        sw.on_setup = None
    held = st.held
    print(json.dumps({"event": "held", "held": held, "seconds": round(time.monotonic() - t0, 2)}), flush=True)
    with gevent.Timeout(release_wait, False):
        STDIN.readline()
    t1 = time.monotonic()
    for i, call in enumerate(live):
        call.release()
        gevent.sleep(max(0.0, t1 + (i + 1) / RELEASE_RATE - time.monotonic()))
    _finish(sw, live, 30)
    return _report(sw, mode="hold", calls=calls, held=held, duration_s=round(time.monotonic() - t0, 3))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench.loadgen.ari command", exit_on_error=False, add_help=False)
    p.add_argument("--mode", choices=("rate", "hold", "ready"), default="rate")
    p.add_argument("--rate", type=float, default=50.0)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--mix", default="nokey,two,direct,hangup")
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--hold-timeout", type=float, default=120.0)
    p.add_argument("--release-wait", type=float, default=120.0)
    p.add_argument("--pending", type=int, default=200)
    p.add_argument("--timeout", type=float, default=20.0, help="ready: seconds to wait for the WebSocket")
    return p


def command(sw: AriSwitch, line: str) -> dict[str, object]:
    try:
        a = _parser().parse_args(shlex.split(line))
    except (argparse.ArgumentError, SystemExit) as exc:
        return {"event": "error", "message": f"bad command {line!r}: {exc}"}
    if a.mode == "ready" or not sw.connected.is_set():
        connected = sw.connected.wait(a.timeout)
        if a.mode == "ready" or not connected:
            return {"event": "ready", "connected": bool(connected)}
    if a.mode == "hold":
        return run_hold(sw, a.calls, a.rate, a.hold_timeout, a.release_wait, a.pending)
    mix = [m for m in a.mix.split(",") if m]
    unknown = [m for m in mix if m not in SCENARIOS]
    if unknown:
        return {"event": "error", "message": f"unknown scenario(s): {unknown}"}
    return run_rate(sw, a.rate, a.duration, mix)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen.ari", description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT of the emulated ARI (port 0: any free port)")
    p.add_argument("--app", default="ivrflow", help="the Stasis app ivrflow connects as")
    a = p.parse_args(argv)
    host, _, port = a.listen.rpartition(":")
    sw = AriSwitch(a.app, host, int(port)).start()
    print(json.dumps({"event": "listening", "url": f"http://{host}:{sw.port}"}), flush=True)
    for line in STDIN:
        if line.strip():
            print(json.dumps(command(sw, line)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
