"""How soon a transferred call's socket is let go, and whether every target survives it.

    python -m bench.transfer_release [--calls 10] [--quiet 0.3] [--scale 0.25]

One process: ivrflow's ESL server on the example menu and emulated FreeSWITCH
calls, a target's calls at once, each timing out into a transfer to one of the targets of
issue 13 (FreeSWITCH 1.10.12's tests). Times are the emulator's call time, run
`scale` times faster (menu and quiet time scaled with it; a millisecond of the
process's own latency shows as 1/scale ms). For each target: how many calls
were let go before they ended, how many survived to their own end (a parked one
until the caller hangs up at 20 s), and the delay from the target's first
long-running app to `exit`.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import gevent

from ivrflow.calls.observer import QuietObserver
from ivrflow.calls.registry import CallRegistry
from ivrflow.freeswitch.dialogue import SwitchSettings
from ivrflow.freeswitch.server import EslServer
from ivrflow.menu import Menu
from ivrflow.menu.files import load_menu_file
from ivrflow.testing import BridgeOutcome, CallScript, ChannelHistory, Faults, start_call

ROOT = Path(__file__).resolve().parents[1]
SOUNDS = (ROOT / "config" / "sounds").resolve()
HANGUP_AT = 20.0
TONE = "tone.wav"


@dataclass(frozen=True)
class Target:
    name: str
    steps: tuple[tuple[str, str], ...]
    long_running: str | None  # the app whose start the release delay is measured from; None: must be held
    faults: Faults = Faults()


TARGETS = (
    Target("answer;park", (("answer", ""), ("park", "")), None),
    Target("set;answer;park", (("set", "a=1"), ("answer", ""), ("park", "")), None),
    Target("answer;tone 3 s;park", (("answer", ""), ("playback", "short.wav"), ("park", "")), "playback"),
    Target("tone 10 s", (("answer", ""), ("playback", TONE), ("hangup", "CALL_REJECTED")), "playback"),
    Target("bridge", (("bridge", "user/2000"), ("hangup", "CALL_REJECTED")), "bridge"),
    Target("second socket", (("answer", ""), ("socket", "127.0.0.1:8085 async full")), None),
    Target("sleep 300;park", (("answer", ""), ("sleep", "300"), ("park", "")), None),
    Target("sleep 500;park", (("answer", ""), ("sleep", "500"), ("park", "")), "sleep"),
    Target("sleep 100;park, events 1 s late", (("answer", ""), ("sleep", "100"), ("park", "")), None,
           Faults(late_events_after=("sleep", 1.0))),
)


def scaled_menu(scale: float) -> Menu:
    menu = load_menu_file(ROOT / "config" / "example.yaml").menu
    ivrs = []
    for ivr in menu.ivrs:
        contexts = tuple(
            c.model_copy(update={"timeout": round(c.timeout * scale), "inter_digit_timeout": round(c.inter_digit_timeout * scale)})
            for c in ivr.contexts
        )
        ivrs.append(ivr.model_copy(update={"sleep_time": round(ivr.sleep_time * scale), "contexts": contexts}))
    return menu.model_copy(update={"ivrs": tuple(ivrs)})


def script(target: Target, scale: float) -> CallScript:
    return CallScript(
        destination_number="071",
        time_scale=scale,
        sounds={str(SOUNDS / "advertising.wav"): 4.0, str(SOUNDS / "hello.wav"): 3.0, TONE: 10.0, "short.wav": 3.0},
        default_transfer_extension=target.steps,
        default_bridge_outcome=BridgeOutcome(ring_seconds=1.0, talk_seconds=10.0),
        caller_hangup=(HANGUP_AT, "NORMAL_UNSPECIFIED"),
        keep_after_close=HANGUP_AT,
        faults=target.faults,
    )


def measure(target: Target, switch: ChannelHistory) -> dict[str, object]:
    transfer_at = next(run.started for run in switch.applications if run.name == "transfer")
    exit_at = next((t for t, c in switch.received if c.name == "exit"), None)
    hangup_at = next((t for t, name in switch.events_fired if name == "CHANNEL_HANGUP"), None)
    released = exit_at is not None and (hangup_at is None or exit_at < hangup_at)
    # Survived: ended by the caller at 60 s, or by the target's own hangup, never knocked out.
    survived = switch.hangup_cause in ("NORMAL_UNSPECIFIED", "CALL_REJECTED") or switch.hangup_cause is None
    delay = None
    if released and target.long_running is not None and exit_at is not None:
        start = next(r.started for r in switch.applications if r.name == target.long_running and r.started > transfer_at)
        delay = exit_at - start
    return {"released": released, "survived": survived, "delay": delay,
            "checks": sum(1 for _, c in switch.received if c.line.startswith("api uuid_getvar"))}


def run(calls: int, quiet: float, scale: float) -> list[dict[str, object]]:
    settings = SwitchSettings(
        sound_dir=SOUNDS, transfer_context="", simple_transfer_context="ivrflow-simple-transfer",
        bridge_template="user/{number}", exit_after_transfer=False, release_quiet_time=quiet * scale,
    )
    menu = scaled_menu(scale)
    server = EslServer(("127.0.0.1", 0), lambda: menu, settings, QuietObserver(), CallRegistry(max_calls=10_000))
    server.start()
    rows = []
    try:
        for target in TARGETS:  # one target at a time: its calls at once
            greenlets = [start_call(server.address, script(target, scale)) for _ in range(calls)]
            results = [measure(target, g.get(timeout=300)) for g in greenlets]
            delays: Sequence[float] = [r["delay"] for r in results if isinstance(r["delay"], float)]
            rows.append({
                "target": target.name,
                "released": sum(1 for r in results if r["released"]),
                "survived": sum(1 for r in results if r["survived"]),
                "calls": calls,
                "checks": sum(int(str(r["checks"])) for r in results),
                "delay_p50": round(statistics.median(delays), 3) if delays else None,
                "delay_max": round(max(delays), 3) if delays else None,
            })
    finally:
        server.stop_accepting()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10, help="calls per target")
    parser.add_argument("--quiet", type=float, default=0.3, help="quiet time, seconds of call time")
    parser.add_argument("--scale", type=float, default=0.25, help="wall seconds per second of call time")
    args = parser.parse_args()
    rows = run(args.calls, args.quiet, args.scale)
    print("| target | released | survived | checks | delay p50 / max (s) |")
    print("|---|---|---|---|---|")
    for row in rows:
        delay = "—" if row["delay_p50"] is None else f"{row['delay_p50']} / {row['delay_max']}"
        print(f"| {row['target']} | {row['released']}/{row['calls']} | {row['survived']}/{row['calls']} | {row['checks']} | {delay} |")
    print(json.dumps(rows))


if __name__ == "__main__":
    gevent.get_hub()
    main()
