"""The ARI events WebSocket killed under many calls in flight, through the real `ivrflow serve` process.

Shared by tests/asterisk/test_serve_ari_socket_drop.py (which asserts) and
bench/ari_socket_drop.py (which prints the numbers), so both run the same
thing. The emulated Asterisk runs in this process; ivrflow is a subprocess
with a call-records file. The calls, at the moment the socket is killed:

- `hang_up`: in their first prompt; the caller hangs up during the gap;
- `prompt_ends`: in their first prompt, which ends during the gap;
- `ringing`: their transfer to 101,102 ringing (state REST cannot tell);
- `untouched`: in their first prompt, still playing after the gap.

Prompts last until this module ends them, so which state each call is in
never depends on timing. Every wait is on observable state: the emulator's
channels, playbacks and sockets, the daemon's log, /readyz and its records.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent

from daemon.harness import SOUNDS, Daemon, daemon, menu_text
from ivrflow.testing.ari_calls import send_dtmf
from ivrflow.testing.ari_emulator import AriEmulator
from ivrflow.testing.ari_script import AriCallScript

ENV = {"IVRFLOW_ARI_USER": "ivr", "IVRFLOW_ARI_PASSWORD": "ivrsecret"}
# The daemon harness's menu (example 071 at 1/20 speed) and an option 3 that rings two numbers together.
MENU = menu_text() + '          "3":\n            - {action: transfer, transfer_dst: "101,102"}\n'
FOREVER = 1e6  # call seconds: a prompt this long ends only when this module ends it
SOUND_FOREVER = {str(SOUNDS.resolve() / "advertising"): FOREVER, str(SOUNDS.resolve() / "hello"): FOREVER}
GROUPS = ("hang_up", "prompt_ends", "ringing", "untouched")
DECISION = re.compile(r"call=(\S+) msg=\"reconciled: (\w+)\"")


@dataclass
class Drop:
    """What one run saw: the calls by group, and the daemon's and the emulator's state at its end."""

    groups: dict[str, list[str]]
    records: list[dict[str, Any]]
    requests: list[tuple[str, str, dict[str, str]]]  # every REST request the emulator served, in order
    left_in_stasis: list[str]
    missed_events: int  # events Asterisk dropped while the app had no socket
    ready_while_down: list[int]  # /readyz statuses seen between the kill and the reconnect
    readyz_body_while_down: str
    reconnects_metric: float
    calls_active_metric: float
    decisions: dict[str, str]  # each channel's first decision after the kill
    log: list[str]
    seconds: dict[str, float] = field(default_factory=dict)  # from the kill: reconnect, reconciled, gap_recorded, all_recorded


def _playing(emu: AriEmulator, playback_id: str) -> bool:
    pb = emu.asterisk.playbacks.get(playback_id)
    return pb is not None and pb.state == "playing"


def _split(calls: int) -> dict[str, int]:
    quarter, ringing = calls // 4, max(1, calls // 10)
    return {"hang_up": quarter, "prompt_ends": quarter, "ringing": ringing, "untouched": calls - 2 * quarter - ringing}


def _scripts(calls: int) -> dict[str, list[AriCallScript]]:
    scripts: dict[str, list[AriCallScript]] = {}
    for group, n in _split(calls).items():
        # The ringing calls run at full speed on the emulator's side, so their legs ring the
        # daemon's 30 s dial timeout in real time: they still ring when the socket dies.
        scale = 1.0 if group == "ringing" else 0.05
        scripts[group] = [
            AriCallScript(channel_id=f"{group}-{i}", exten="071", sounds=SOUND_FOREVER, time_scale=scale) for i in range(n)
        ]
    return scripts


def _ring(d: Daemon, emu: AriEmulator, scripts: list[AriCallScript]) -> None:
    """Each caller hears hello, presses 3; waits until both its legs ring."""
    for s in scripts:
        emu.end_prompt(f"{s.channel_id}-p1")
    d.wait_for("hello playing on the ringing calls", lambda: all(_playing(emu, f"{s.channel_id}-p2") for s in scripts), 30)
    for s in scripts:
        send_dtmf(emu.asterisk, emu.channel(s.channel_id), "3", 100, 100)

    def ringing(s: AriCallScript) -> bool:
        legs = [emu.asterisk.channels.get(f"{s.channel_id}-l{n}") for n in (1, 2)]
        return all(leg is not None and leg.state == "Ringing" for leg in legs)

    d.wait_for("both legs of every ringing call ringing", lambda: all(ringing(s) for s in scripts), 30)


def _kill_and_act(emu: AriEmulator, scripts: dict[str, list[AriCallScript]], silent: bool) -> None:
    """Cut the socket and, before this process yields to serve a reconnect, do what happens in the gap."""
    emu.drop_websocket(silent=silent)
    for s in scripts["hang_up"]:
        emu.asterisk.hang_up(emu.channel(s.channel_id), 16, by_ari=False)
    for s in scripts["prompt_ends"]:
        # The first prompt, unless a loaded machine let the daemon's deadline for it pass first.
        (playing,) = [pb for pb in emu.channel(s.channel_id).queue if pb.state == "playing"]
        emu.end_prompt(playing.id)


def _play_out(emu: AriEmulator) -> None:
    """Every prompt playing now ends (sounds that play out as soon as they start)."""
    for playback_id, pb in list(emu.asterisk.playbacks.items()):
        if pb.state == "playing":
            emu.end_prompt(playback_id)


def _decisions(lines: list[str]) -> dict[str, str]:
    """Each channel's first decision in the reconciliations logged: one per reconnect (several while held down)."""
    decided: dict[str, str] = {}
    for line in lines:
        if m := DECISION.search(line):
            decided.setdefault(m.group(1), m.group(2))
    return decided


def run(tmp: Path, calls: int, *, hold_down: bool, silent: bool = False, rest_latency: float = 0.0) -> Drop:
    """`calls` calls through `ivrflow serve`; the WebSocket is killed mid-calls; every call is driven to its end.

    hold_down: the emulator accepts and at once closes every events WebSocket until
    /readyz has said 503, so the not-ready state is seen for certain (the test);
    without it the daemon reconnects at its own pace (the bench's reconnect time).
    silent: the socket goes quiet (no frames, no pongs, no FIN) instead of closing,
    so the daemon notices only by its ping timeout.
    rest_latency: seconds the emulator waits before it serves each REST request, as
    a real Asterisk's round trip takes (each connection waits on its own).
    """
    scripts = _scripts(calls)
    every = [s for group in GROUPS for s in scripts[group]]
    emu = AriEmulator().start()
    if rest_latency:
        emu.server.on_request = lambda method, path, params: gevent.sleep(rest_latency)
    try:
        with daemon(tmp, "--ari-url", emu.url, env=ENV, menu=MENU) as d:
            d.wait_for("the events WebSocket", lambda: d.get("/readyz")[0] == 200)
            for s in every:
                emu.place_call(s)
            d.wait_for("every first prompt playing", lambda: all(_playing(emu, f"{s.channel_id}-p1") for s in every), 60)
            _ring(d, emu, scripts["ringing"])
            log_before = len(d.lines)
            emu.close_websockets_on_accept = hold_down
            killed = time.monotonic()
            dropped = set(map(id, emu.event_sockets()))
            _kill_and_act(emu, scripts, silent)
            seen: list[int] = []
            body = ""

            def watch_readyz() -> None:
                nonlocal body
                while True:
                    status, text = d.get("/readyz")
                    seen.append(status)
                    if status == 503:
                        body = text
                    gevent.sleep(0.02)

            watcher = gevent.spawn(watch_readyz)
            if hold_down:
                d.wait_for("readyz to say not ready", lambda: 503 in seen)
                emu.close_websockets_on_accept = False
            d.wait_for("the WebSocket back", lambda: any(id(s) not in dropped for s in emu.event_sockets()), 30)
            reconnected = time.monotonic() - killed
            watcher.kill()
            ids = {s.channel_id for s in every}
            d.wait_for("every call decided by a reconciliation", lambda: ids <= set(_decisions(d.lines[log_before:])), 30)
            reconciled = time.monotonic() - killed
            ended_in_gap = {s.channel_id for s in scripts["hang_up"] + scripts["ringing"]}
            d.wait_for("records of the calls the gap ended", lambda: ended_in_gap <= {r["call_uuid"] for r in d.records()}, 30)
            gap_recorded = time.monotonic() - killed

            def all_recorded() -> bool:
                _play_out(emu)
                return len(d.records()) >= calls

            d.wait_for("a record for every call", all_recorded, 60)
            recorded = time.monotonic() - killed
            d.wait_for("no call active", lambda: d.metric("ivr_calls_active") == 0)
            try:  # a record can be out before the call's last request (its hangup or continue) has left
                d.wait_for("every channel out of Stasis", lambda: not any(c.app == "ivrflow" for c in emu.asterisk.channels.values()))
            except AssertionError:
                pass  # what is left is the run's finding: left_in_stasis
            return Drop(
                groups={group: [s.channel_id for s in scripts[group]] for group in GROUPS},
                records=d.records(),
                requests=list(emu.requests),
                left_in_stasis=[c.id for c in emu.asterisk.channels.values() if c.app == "ivrflow"],
                missed_events=emu.asterisk.missed.get("ivrflow", 0),
                ready_while_down=seen,
                readyz_body_while_down=body,
                reconnects_metric=d.metric("ivr_ari_reconnects_total"),
                calls_active_metric=d.metric("ivr_calls_active"),
                decisions=_decisions(d.lines[log_before:]),
                log=list(d.lines),
                seconds={"reconnect": reconnected, "reconciled": reconciled, "gap_recorded": gap_recorded, "all_recorded": recorded},
            )
    finally:
        emu.stop()
