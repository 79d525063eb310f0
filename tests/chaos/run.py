"""Chaos: many emulated calls with faults at random states against a real `ivrflow serve`.

    PYTHONPATH=tests python -m chaos.run [--calls 10000] [--seed N]     (what `make chaos` runs)

Every call goes through a proxy that may reset it, leave it half-open, drop,
duplicate or delay an event, truncate a frame or stall; callers also hang up at
random moments and the switch answers some commands -ERR. The menu uses every
action; it is reloaded (SIGHUP) every few hundred calls, one reload in three
with a broken menu; the run ends with a SIGTERM drain. `Figures` holds what is
checked; `check` says what failed.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.pool

from ivrflow.testing import BRIEF_CALL_AT_TARGET, BridgeOutcome, CallScript, Faults, start_call

from daemon.harness import SOUNDS, Daemon, daemon
from .proxy import FAULTS, ChaosProxy, Plan

LIFETIME = 2  # seconds, the menu's lifetime
STALL_MAX = 2.5  # seconds, the longest stall or delay the proxy injects
COMMAND_TIMEOUT = 5.0  # seconds ivrflow waits for a command's reply (SwitchSettings' default)
# When lifetime runs out while a command waits on a switch that went silent (half-open), the
# call ends once that command times out: lifetime + the command timeout + scheduling slack.
LIFETIME_MARGIN = COMMAND_TIMEOUT + 1.5
SOUND_SECONDS = {str((SOUNDS / "advertising.wav").resolve()): 0.3, str((SOUNDS / "hello.wav").resolve()): 0.2}

MENU = (Path(__file__).with_name("menu.yaml")).read_text()
BROKEN_MENUS = (
    "ivrs: [",  # not YAML
    "sounds: " + "[" * 500 + "]" * 500,  # nested past any reader's patience
    MENU.replace("action: hangup", "action: hang_up", 1),  # an unknown action
)


@dataclass
class Figures:
    calls: int = 0
    connections: int = 0
    records: int = 0
    rejected: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)
    duplicate_records: int = 0
    unknown_records: int = 0
    longest_call_s: float = 0.0
    longest_call: str = ""
    calls_active_after: float = -1.0
    reloads_sent: dict[str, int] = field(default_factory=lambda: {"good": 0, "broken": 0})
    reloads_counted: dict[str, float] = field(default_factory=dict)
    counts_before: dict[str, int] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)
    rss_kb_at_fifth: int = 0
    rss_kb_at_end: int = 0
    exit_status: int | None = None
    drained_calls: int = 0
    emulator_failures: int = 0
    seconds: float = 0.0

    def rss_growth(self) -> float:
        return (self.rss_kb_at_end - self.rss_kb_at_fifth) / self.rss_kb_at_fifth if self.rss_kb_at_fifth else 0.0

    def problems(self) -> list[str]:
        found = []
        if self.exit_status != 0:
            found.append(f"the daemon ended with status {self.exit_status}")
        if self.duplicate_records or self.unknown_records:
            found.append(f"{self.duplicate_records} duplicate and {self.unknown_records} unknown record(s)")
        if self.records + self.rejected != self.connections:
            found.append(f"{self.records} records + {self.rejected:g} rejected != {self.connections} connections")
        if sum(self.outcomes.values()) != self.records:
            found.append(f"outcomes {self.outcomes} do not add up to {self.records} records")
        if self.calls_active_after != 0:
            found.append(f"ivr_calls_active is {self.calls_active_after} after the calls")
        if self.counts_after != self.counts_before:
            found.append(f"left behind: before {self.counts_before}, after {self.counts_after}")
        if self.longest_call_s > LIFETIME + LIFETIME_MARGIN:
            found.append(f"a call lasted {self.longest_call_s} s (lifetime {LIFETIME} s + {LIFETIME_MARGIN} s)")
        if abs(self.rss_growth()) > 0.05:
            found.append(f"RSS went from {self.rss_kb_at_fifth} to {self.rss_kb_at_end} KiB ({self.rss_growth():+.1%})")
        if self.reloads_counted.get("failure") != self.reloads_sent["broken"]:
            found.append(f"reloads: sent {self.reloads_sent}, counted {self.reloads_counted}")
        if self.reloads_counted.get("success") != self.reloads_sent["good"] + 1:
            found.append(f"reloads: sent {self.reloads_sent}, counted {self.reloads_counted}")
        if self.emulator_failures:
            found.append(f"{self.emulator_failures} emulated call(s) did not end")
        return found


def rss_kb(d: Daemon) -> int:
    for line in Path(f"/proc/{d.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def counts(d: Daemon, nth: int) -> dict[str, int]:
    d.signal(signal.SIGUSR1)
    line = d.wait_log(r"counts: open_calls=", count=nth)
    return {k: int(v) for k, v in re.findall(r"(open_calls|greenlets|watchers|fds)=(\d+)", line)}


class Counter:
    """The daemon's SIGUSR1 counts, taken once no connection is open any more (held transfers included)."""

    def __init__(self, d: Daemon) -> None:
        self.d = d
        self.asked = 0

    def when_closed(self, timeout: float = 20.0) -> dict[str, int]:
        # Half-open connections of transferred calls are held until the proxy gives up on them (10 s).
        # Two equal readings in a row: nothing transient (the scrape just before) is counted.
        deadline = time.monotonic() + timeout
        previous: dict[str, int] = {}
        while True:
            self.asked += 1
            found = counts(self.d, self.asked)
            if (found["open_calls"] == 0 and found == previous) or time.monotonic() > deadline:
                return found
            previous = found
            gevent.sleep(0.2)


def wait_idle(d: Daemon) -> None:
    d.wait_for("no call in a menu", lambda: d.metric("ivr_calls_active") == 0, timeout=LIFETIME + LIFETIME_MARGIN + 10)


def random_call(rng: random.Random, proxy: ChaosProxy, figures: Figures) -> CallScript:
    keys = [(rng.uniform(0.05, 1.8), rng.choice("123459#7")) for _ in range(rng.randint(0, 3))]
    faults = Faults()
    hangup = None
    roll = rng.random()
    if roll < 0.2:
        hangup = (rng.uniform(0.0, 2.2), "NORMAL_CLEARING")  # at any state: setup, a command, input, a transfer
        figures.faults["caller_hangup"] = figures.faults.get("caller_hangup", 0) + 1
    elif roll < 0.3:
        faults = Faults(fail_commands={rng.choice(["sendmsg", "api", "linger", "myevents"]): "-ERR chaos"})
        figures.faults["err_reply"] = figures.faults.get("err_reply", 0) + 1
    fault = "none" if roll < 0.6 else rng.choice(FAULTS[1:])
    after = 0 if fault == "reset_before_connect_reply" else rng.randint(1, 14)
    proxy.plans.append(Plan(fault, after, rng.uniform(0.2, STALL_MAX)))
    return CallScript(
        destination_number="071",
        sounds=SOUND_SECONDS,
        default_sound_seconds=0.2,
        keys=keys,
        caller_hangup=hangup,
        faults=faults,
        default_transfer_extension=BRIEF_CALL_AT_TARGET,
        default_bridge_outcome=BridgeOutcome("answer", ring_seconds=0.2, talk_seconds=0.3),
        variables={"chaos_target": "077"} if rng.random() < 0.5 else {},
        first_command_timeout=10.0,
    )


def reload(d: Daemon, menu_file: Path, rng: random.Random, figures: Figures) -> None:
    if rng.random() < 1 / 3:
        menu_file.write_text(rng.choice(BROKEN_MENUS))
        figures.reloads_sent["broken"] += 1
    else:
        menu_file.write_text(MENU.replace('"050"', f'"0{rng.randint(50, 59)}"'))
        figures.reloads_sent["good"] += 1
    d.signal(signal.SIGHUP)
    d.wait_log(r"menu reloaded|reload rejected", count=sum(figures.reloads_sent.values()))


def run(calls: int, seed: int, concurrency: int, reload_every: int) -> Figures:
    rng = random.Random(seed)
    figures = Figures()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp_name, daemon(
        Path(tmp_name), "--drain-timeout", "10", "--speech-engine", "pocketsphinx", menu=MENU
    ) as d:
        tmp = Path(tmp_name)
        assert d.esl is not None
        proxy = ChaosProxy(d.esl, rng)
        proxy.start()
        pool = gevent.pool.Pool(concurrency)
        greenlets = []
        scripts: dict[str, CallScript] = {}

        def place(n: int) -> None:
            for _ in range(n):
                script = random_call(rng, proxy, figures)
                scripts[script.unique_id] = script
                greenlets.append(pool.spawn(start_call(proxy.address, script).get, timeout=60))
                if len(scripts) % reload_every == 0:
                    reload(d, tmp / "menu.yaml", rng, figures)

        place(min(20, calls))  # warm-up: what a first call and a first reload create once
        pool.join()
        reload(d, tmp / "menu.yaml", rng, figures)
        wait_idle(d)
        counter = Counter(d)
        figures.counts_before = counter.when_closed()
        place(calls // 5 - len(scripts))
        pool.join()
        wait_idle(d)
        figures.rss_kb_at_fifth = rss_kb(d)
        place(calls - len(scripts))
        pool.join()
        wait_idle(d)
        figures.rss_kb_at_end = rss_kb(d)
        figures.counts_after = counter.when_closed()
        figures.calls_active_after = d.metric("ivr_calls_active")
        figures.reloads_counted = {r: d.metric("ivr_config_reloads_total", result=r) for r in ("success", "failure")}
        figures.rejected = sum(
            float(line.rsplit(" ", 1)[1]) for line in d.get("/metrics")[1].splitlines()
            if line.startswith("ivr_esl_connections_rejected_total{")
        )

        # The drain: calls in progress when SIGTERM comes all finish, each with its record.
        draining = [CallScript(destination_number="071", sounds=SOUND_SECONDS, default_sound_seconds=0.2,
                               default_transfer_extension=BRIEF_CALL_AT_TARGET) for _ in range(5)]
        before = sum(1 for line in d.lines if "call started" in line)
        drained = [gevent.spawn(start_call(proxy.address, s).get, timeout=60) for s in draining]
        d.wait_log(r"call started", count=before + len(draining))
        d.signal(signal.SIGTERM)
        figures.exit_status = d.process.wait(timeout=30)
        gevent.joinall(drained, timeout=30)
        scripts.update({s.unique_id: s for s in draining})
        proxy.stop()
        figures.calls = len(scripts)
        figures.connections = proxy.connections
        figures.faults.update(proxy.faults_done)
        figures.emulator_failures = sum(1 for g in greenlets + drained if not g.successful())
        records = d.records()
        _tally(records, scripts, proxy.fault_of, figures)
        figures.drained_calls = sum(1 for r in records if r["call_uuid"] in {s.unique_id for s in draining})
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def _tally(records: list[dict[str, Any]], scripts: dict[str, CallScript], fault_of: dict[str, str], figures: Figures) -> None:
    seen: set[str] = set()
    for record in records:
        uuid = record["call_uuid"]
        figures.duplicate_records += uuid in seen
        figures.unknown_records += uuid not in scripts
        seen.add(uuid)
        figures.outcomes[record["outcome"]] = figures.outcomes.get(record["outcome"], 0) + 1
        if record["duration_s"] > figures.longest_call_s:
            figures.longest_call_s = record["duration_s"]
            figures.longest_call = f"{uuid}: {record['outcome']} ({record['reason']}), fault: {fault_of.get(uuid, 'none')}"
    figures.records = len(records)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--reload-every", type=int, default=300, help="calls between SIGHUPs")
    a = p.parse_args(argv)
    figures = run(a.calls, a.seed, a.concurrency, a.reload_every)
    print(json.dumps({"seed": a.seed, **figures.__dict__, "rss_growth": round(figures.rss_growth(), 4)}, indent=1))
    problems = figures.problems()
    for problem in problems:
        print("FAIL:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
