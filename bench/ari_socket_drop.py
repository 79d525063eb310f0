"""Kill the ARI events WebSocket under N calls in flight; count how every call ended.

    python -m bench.ari_socket_drop [--calls 200]

One process: the emulated Asterisk and ivrflow's ARI side (AriService with the
example menu at 1/20 speed, real engine and driver). N calls are placed and
left in their first prompts; the socket is cut abruptly; during the gap a
quarter of the callers hang up and a quarter of the prompts end; the socket
comes back and reconciliation runs. Then every call must end either driven to
its end (a record with its outcome) or hung up with a recorded reason, and no
channel may stay in Stasis.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

import gevent

from ivrflow.asterisk.dialogue import DialogueSettings
from ivrflow.asterisk.rest import Credentials
from ivrflow.asterisk.service import AriService
from ivrflow.calls.observer import QuietObserver
from ivrflow.calls.registry import CallRegistry
from ivrflow.calls.info import CallInfo
from ivrflow.engine import CallRecord
from ivrflow.menu.files import load_menu_file
from ivrflow.testing.ari_emulator import AriEmulator
from ivrflow.testing.ari_script import AriCallScript

ROOT = Path(__file__).resolve().parents[1]
SOUNDS = (ROOT / "config" / "sounds").resolve()
SCALE = 0.05


class Records(QuietObserver):
    def __init__(self) -> None:
        self.records: dict[str, CallRecord] = {}

    def call_finished(self, info: CallInfo, record: CallRecord) -> None:
        assert info.call_id not in self.records, f"two records for {info.call_id}"
        self.records[info.call_id] = record


def wait(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.01)
    return True


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from e2e.harness import scaled  # the FreeSWITCH e2e tests' 1/20 timing

    menu = scaled(load_menu_file(ROOT / "config" / "example.yaml").menu, SCALE)
    emu = AriEmulator().start()
    observer = Records()
    registry = CallRegistry(10_000)
    settings = DialogueSettings(app="ivrflow", sound_dir=SOUNDS, sound_seconds=lambda f: 60.0, deadline_margin=5.0)
    service = AriService(emu.url, "ivrflow", Credentials("ivr", "ivrsecret"), lambda: menu, settings, observer, registry, orphan_grace=0.5)
    service.stream.backoff_base = 0.2
    service.start()
    assert wait(lambda: service.connected, 5)
    # Prompts last "for ever" until the script below ends them; the sleep before them is 0.25 s.
    media = {str(SOUNDS / "advertising"): 1e6, str(SOUNDS / "hello"): 1e6}
    scripts = [AriCallScript(channel_id=f"d{n}", exten="071", sounds=media, time_scale=SCALE) for n in range(args.calls)]
    for s in scripts:
        emu.place_call(s)
    assert wait(lambda: all(f"{s.channel_id}-p1" in emu.asterisk.playbacks for s in scripts), 30), "prompts not all started"

    started = time.monotonic()
    emu.drop_websocket()
    assert wait(lambda: not service.connected, 5)
    quarter = args.calls // 4
    for s in scripts[:quarter]:  # callers who hang up in the gap
        emu.asterisk.hang_up(emu.channel(s.channel_id), 16, by_ari=False)
    for s in scripts[quarter: 2 * quarter]:  # prompts that end in the gap
        emu.end_prompt(f"{s.channel_id}-p1")
    assert wait(lambda: service.connected, 10), "no reconnect"
    reconnected = time.monotonic() - started
    assert wait(lambda: len(observer.records) >= quarter, 20), "the gap's hangups not recorded"

    def sounds_end() -> None:  # every prompt now plays out a moment after it starts, as real sounds would
        while True:
            for pb in list(emu.asterisk.playbacks):
                emu.end_prompt(pb)
            gevent.sleep(0.1)

    ender = gevent.spawn(sounds_end)
    done = wait(lambda: len(observer.records) == args.calls, 60)
    ender.kill()
    in_stasis = [c.id for c in emu.asterisk.channels.values() if c.app == "ivrflow"]
    outcomes = collections.Counter(f"{r.outcome}: {r.reason}" if r.outcome != "transfer" else "transfer" for r in observer.records.values())
    result = {
        "calls": args.calls,
        "records": len(observer.records),
        "all_recorded": done,
        "left_in_stasis": len(in_stasis),
        "missed_events_during_gap": emu.asterisk.missed.get("ivrflow", 0),
        "reconnect_seconds": round(reconnected, 3),
        "outcomes": dict(outcomes),
    }
    print(json.dumps(result, indent=2))
    service.stop()
    emu.stop()
    return 0 if done and not in_stasis else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
