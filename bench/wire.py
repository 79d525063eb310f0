"""What the switch does per call, counted by the emulated FreeSWITCH: `python -m bench.wire`.

    python -m bench.wire [--calls 10] [--out FILE] [--src DIR]

Starts `ivrflow serve` on `bench/menu.yaml` with `sleep_time` 0 (the sleep is
ivrflow's own timer and puts nothing on the wire; without it the first prompt
follows the answer, which the accept → first playback figure is about), then
runs `--calls` emulated calls per path of the example menu, all at once, and
prints per call: bytes and frames FreeSWITCH wrote to ivrflow (its serialising
and URL-encoding work), the commands it read (its parsing work), and when the
first playback was sent and started. The transfer target answers, plays a
0.1 s file and hangs up (`BRIEF_CALL_AT_TARGET`), with ivrflow's default
settings (the socket is held until the transferred call ends). Numbers are
the emulator's, which writes what FreeSWITCH 1.10.12 writes (the transcripts
in shared/freeswitch); timings are on the emulator's 20 ms media frame.
`--src` runs the ivrflow of another checkout's `src` (say, a worktree of main)
against this emulator, for a before/after in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import gevent

from bench.listening import wait_listening
from ivrflow.testing import BRIEF_CALL_AT_TARGET, CallScript, ChannelHistory, start_call

ROOT = Path(__file__).resolve().parents[1]
SOUNDS = ROOT / "config" / "sounds"
AD, HELLO = str(SOUNDS / "advertising.wav"), str(SOUNDS / "hello.wav")
# Call time with sleep_time 0: advertising.wav ~0.05-0.45 s, hello.wav ~0.45-0.75 s, timeout 0.5 s.
PATHS: dict[str, dict[str, object]] = {
    "nokey": {},
    "two": {"keys": [(0.6, "2")]},
    "direct": {"keys": [(0.55, "1"), (0.6, "0"), (0.65, "5")]},
    "hangup": {"caller_hangup": (0.2, "NORMAL_CLEARING")},
}
EXPECTED = {"nokey": "050", "two": "002", "direct": "105", "hangup": None}


@dataclass(frozen=True, slots=True)
class PathResult:
    bytes_per_call: float
    bytes_in_menu_per_call: float  # until the socket app ends (the transfer or the hangup)
    frames_per_call: float
    commands_per_call: float
    accept_to_first_playback_ms: tuple[float, float]  # p50, max
    answer_to_playback_start_ms: tuple[float, float]  # on the switch: answer runs -> first playback runs

    def row(self, name: str) -> str:
        return (
            f"| {name} | {self.bytes_per_call:,.0f} | {self.bytes_in_menu_per_call:,.0f} | {self.frames_per_call:.1f} "
            f"| {self.commands_per_call:.1f} | {self.accept_to_first_playback_ms[0]:.1f} / "
            f"{self.accept_to_first_playback_ms[1]:.1f} | {self.answer_to_playback_start_ms[0]:.1f} / "
            f"{self.answer_to_playback_start_ms[1]:.1f} |"
        )


HEADER = (
    "| path | bytes from the switch | of which in the menu | frames | commands | accept → first playback "
    "sent, p50 / max ms | answer → first playback runs, p50 / max ms |\n|---|---|---|---|---|---|---|"
)


def _in_menu_bytes(record: ChannelHistory) -> int:
    total = 0
    for _, data in record.sent:
        total += len(data)
        if b"Event-Name: CHANNEL_EXECUTE_COMPLETE" in data and b"\nApplication: socket\n" in data:
            break
    return total


def _first_playback(record: ChannelHistory) -> tuple[float, float]:
    sent = next(t for t, c in record.received if c.headers.get("execute-app-name") == "playback")
    answer = next(run for run in record.applications if run.name == "answer")
    playback = next(run for run in record.applications if run.name == "playback")
    return sent * 1000, (playback.started - answer.started) * 1000


def measure(address: tuple[str, int], name: str, calls: int) -> PathResult:
    scripts = [
        CallScript(
            destination_number="071", sounds={AD: 0.4, HELLO: 0.3}, default_sound_seconds=0.1,
            default_transfer_extension=BRIEF_CALL_AT_TARGET, **PATHS[name],  # type: ignore[arg-type]
        )
        for _ in range(calls)
    ]
    records: list[ChannelHistory] = [g.get(timeout=60) for g in [start_call(address, s) for s in scripts]]
    for record in records:
        if record.transferred_to != EXPECTED[name] or record.protocol_errors:
            raise SystemExit(f"{name}: ended as {record.final_state}, errors {record.protocol_errors}")
    firsts = [_first_playback(r) for r in records]
    sent, started = [f[0] for f in firsts], [f[1] for f in firsts]
    return PathResult(
        bytes_per_call=statistics.fmean(r.bytes_sent for r in records),
        bytes_in_menu_per_call=statistics.fmean(_in_menu_bytes(r) for r in records),
        frames_per_call=statistics.fmean(r.frames_sent for r in records),
        commands_per_call=statistics.fmean(len(r.received) for r in records),
        accept_to_first_playback_ms=(statistics.median(sent), max(sent)),
        answer_to_playback_start_ms=(statistics.median(started), max(started)),
    )


def _serve(menu: Path, port: int, src: Path, exit_after_transfer: bool) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ivrflow", "serve", "--menu", str(menu), "--sounds", str(SOUNDS),
         "--listen", f"127.0.0.1:{port}", "--metrics-listen", "off", "--call-records", os.devnull,
         "--log-level", "warning", *(["--exit-after-transfer", "true"] if exit_after_transfer else [])],
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_listening(proc, port, "ivrflow", 20)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10, help="calls per path, run at once")
    parser.add_argument("--out", type=Path, help="also write the results as JSON")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the ivrflow source tree to run")
    parser.add_argument("--exit-after-transfer", action="store_true",
                        help="let go of the socket right after a transfer, instead of the release rule's wait")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        menu = Path(tmp) / "menu.yaml"
        menu.write_text((ROOT / "bench" / "menu.yaml").read_text().replace("sleep_time: 500", "sleep_time: 0"))
        proc = _serve(menu, port, args.src.resolve(), args.exit_after_transfer)
        try:
            gevent.sleep(0)
            results = {name: measure(("127.0.0.1", port), name, args.calls) for name in PATHS}
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(HEADER)
    for name, result in results.items():
        print(result.row(name))
    if args.out is not None:
        args.out.write_text(json.dumps({name: asdict(r) for name, r in results.items()}, indent=2))


if __name__ == "__main__":
    main()
