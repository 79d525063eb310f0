"""A scenario row played on either switch: ivrflow's real call layer against the FreeSWITCH or the ARI emulator.

Both sides are wired as the daemon wires them: the same `Observer` and
`Metrics` on a fresh registry, `EslServer` for FreeSWITCH and `AriService` (the
events WebSocket, reconciliation on reconnect) for Asterisk. The caller is one
FreeSWITCH `CallScript`; Asterisk gets it through `from_call_script`, so a row
cannot say one thing to one switch and another to the other.

What a run leaves (`Seen`) is read from each emulator in the same terms: where
the switch sent the call, whether ivrflow hung it up, which prompts it cut short.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import gevent
from prometheus_client import CollectorRegistry

from ivrflow.asterisk.dialogue import DialogueSettings
from ivrflow.asterisk.service import AriService
from ivrflow.calls.registry import CallRegistry
from ivrflow.menu import Menu
from ivrflow.service.metrics import Metrics
from ivrflow.service.observer import Observer
from ivrflow.service.settings import resolve_some
from ivrflow.testing import CallScript, ChannelHistory, EmulatedCall, Key
from ivrflow.testing.ari_dtmf import send_dtmf
from ivrflow.testing.ari_emulator import AriEmulator
from ivrflow.testing.ari_script import from_call_script

from asterisk.replay import CREDENTIALS
from e2e.harness import ivrflow, script as fs_base_script, wait_until

from .table import HELLO, SOUNDS, Adapter, Scenario

Sample = tuple[str, tuple[tuple[str, str], ...]]
# Samples that carry no call's shape: build and liveness gauges, wall-clock sums and bucket spreads.
_UNCOMPARED_SUFFIXES = ("_bucket", "_sum", "_created")
_UNCOMPARED = {"ivr_build_info", "ivr_calls_active"}


@dataclass
class Seen:
    record: dict[str, Any]
    transferred_to: str | None
    hung_up_by_ivrflow: bool
    stopped: tuple[str, ...]
    metrics: dict[Sample, float]
    families: dict[str, tuple[str, ...]]


def metric_samples(registry: CollectorRegistry) -> dict[Sample, float]:
    """Every non-zero counter and histogram count, by sample name and labels."""
    out: dict[Sample, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name in _UNCOMPARED or sample.name.endswith(_UNCOMPARED_SUFFIXES) or not sample.value:
                continue
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def metric_families(registry: CollectorRegistry) -> dict[str, tuple[str, ...]]:
    """Each family's type and label names: the /metrics shape a dashboard is built on."""
    shape: dict[str, tuple[str, ...]] = {}
    for family in registry.collect():
        labels = sorted({k for s in family.samples for k in s.labels if k not in ("le",)})
        shape[family.name] = (family.type, *labels)
    return shape


# --- the caller, once for both -------------------------------------------------------

BRIDGE_TEMPLATE = "user/{number}"  # the FreeSWITCH default; Asterisk's is PJSIP/{number}


def caller(scenario: Scenario) -> CallScript:
    ring = {BRIDGE_TEMPLATE.replace("{number}", number): outcome for number, outcome in scenario.ring.items()}
    return fs_base_script(
        keys=list(scenario.keys),
        caller_hangup=None if scenario.hangup_at is None else (scenario.hangup_at, "NORMAL_CLEARING"),
        sounds={str(SOUNDS / f"{name}.wav"): seconds for name, seconds in scenario.sounds.items()},
        bridge_outcomes=ring,
        default_bridge_outcome=scenario.ring_default,
    )


def _sound_name(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".wav")


# --- FreeSWITCH ------------------------------------------------------------------------


def _fs_seen(switch: ChannelHistory, scenario: Scenario, record: dict[str, Any], registry: CollectorRegistry) -> Seen:
    hung_up = any(
        c.name == "sendmsg" and "hangup" in (c.headers.get("execute-app-name"), c.headers.get("call-command"))
        for _, c in switch.received
    )
    stopped = []
    for run in switch.applications:
        name = _sound_name(run.arg.rsplit("]", 1)[-1])
        length = scenario.sounds.get(name)
        # Cut short by ivrflow: ended well before its length, and not by the channel hanging up under it.
        if run.name == "playback" and length and run.ended is not None and run.response == "FILE PLAYED":
            if run.ended - run.started < length * 0.95:
                stopped.append(name)
    bridged = switch.bridged_to.rsplit("/", 1)[-1] if switch.bridged_to else None
    return Seen(record, switch.transferred_to or bridged, hung_up, tuple(stopped), metric_samples(registry), metric_families(registry))


@contextmanager
def freeswitch(menu: Menu) -> Iterator[Any]:
    with ivrflow(menu, bridge_template=BRIDGE_TEMPLATE) as it:
        yield it


def run_freeswitch(scenario: Scenario) -> Seen:
    with freeswitch(scenario.menu()) as it:
        emulated = EmulatedCall(caller(scenario))
        greenlet = gevent.spawn(emulated.run, it.address)
        if scenario.drop_socket_during is not None:
            playing = scenario.drop_socket_during
            wait_until(lambda: any(playing in run.arg and run.ended is None for run in emulated.record.applications))
            emulated.drop_connection()
        switch = greenlet.get(timeout=30)
        record = it.record_for(switch)
    return _fs_seen(switch, scenario, record, it.registry)


# --- Asterisk --------------------------------------------------------------------------


def ari_settings() -> DialogueSettings:
    """As the daemon builds them, from the settings' own defaults; prompt ends come from the emulator."""
    s = resolve_some(("transfer_context", "simple_transfer_context", "ari_dial_template"), {}, None, {})
    return DialogueSettings(
        app="ivrflow", sound_dir=SOUNDS, transfer_context=s["transfer_context"],
        simple_transfer_context=s["simple_transfer_context"], dial_template=s["ari_dial_template"],
    )


@dataclass
class Ari:
    emu: AriEmulator
    service: AriService
    calls: CallRegistry
    registry: CollectorRegistry
    records: list[dict[str, Any]]

    def record_for(self, channel_id: str, timeout: float = 10.0) -> dict[str, Any]:
        wait_until(lambda: any(r["call_uuid"] == channel_id for r in self.records), timeout)
        wait_until(lambda: self.calls.open == 0, timeout)
        found = [r for r in self.records if r["call_uuid"] == channel_id]
        assert len(found) == 1, f"expected one record for {channel_id}, got {found}"
        return found[0]


@contextmanager
def asterisk(menu: Menu, max_calls: int = 10_000) -> Iterator[Ari]:
    emu = AriEmulator().start()
    registry = CollectorRegistry()
    records: list[dict[str, Any]] = []
    calls = CallRegistry(max_calls=max_calls)
    metrics = Metrics(registry, lambda: calls.active)
    service = AriService(
        emu.url, "ivrflow", CREDENTIALS, lambda: menu, ari_settings(), Observer(metrics, records.append), calls,
        on_reconnect=metrics.ari_reconnects.inc,
    )
    service.stream.backoff_base = 0.01  # a dropped socket comes back within the scaled call
    service.start()
    try:
        wait_until(lambda: service.connected)
        yield Ari(emu, service, calls, registry, records)
    finally:
        service.stop_accepting()
        service.stop()
        emu.stop()


def _ari_seen(ari: Ari, channel_id: str, record: dict[str, Any]) -> Seen:
    requests = [(m, p, q) for m, p, q in ari.emu.requests if channel_id in p or q.get("channel") == channel_id]
    channel = ari.emu.channel(channel_id)
    transferred_to = channel.continued[1] if channel.continued is not None else None
    for method, path, query in requests:
        if method == "POST" and path == f"/ari/bridges/{channel_id}-b/addChannel" and query["channel"] != channel_id:
            leg = ari.emu.channel(query["channel"])
            assert leg.dial is not None
            transferred_to = leg.dial["endpoint"].rsplit("/", 1)[-1]
    media = {p.rsplit("/", 1)[-1]: _sound_name(q["media"]) for m, p, q in requests if m == "POST" and "/play/" in p}
    stopped = tuple(media[p.rsplit("/", 1)[-1]] for m, p, q in requests if m == "DELETE" and p.startswith("/ari/playbacks/"))
    hung_up = ("DELETE", f"/ari/channels/{channel_id}") in [(m, p) for m, p, q in requests]
    return Seen(record, transferred_to, hung_up, stopped, metric_samples(ari.registry), metric_families(ari.registry))


def run_asterisk(scenario: Scenario) -> Seen:
    with asterisk(scenario.menu()) as ari:
        s = from_call_script(caller(scenario), bridge_template=BRIDGE_TEMPLATE)
        ari.emu.place_call(s)
        if scenario.drop_socket_during is not None:
            playing = f"sound:{SOUNDS / scenario.drop_socket_during}"
            wait_until(lambda: any(q.get("media") == playing for m, p, q in ari.emu.requests))
            ari.emu.drop_websocket()
        record = ari.record_for(s.channel_id)
        # The record can be out before the last request (a hangup) has left the call's sender.
        channel = ari.emu.channel(s.channel_id)
        wait_until(lambda: not channel.alive or channel.continued is not None)
        return _ari_seen(ari, s.channel_id, record)


def run(scenario: Scenario, adapter: Adapter) -> Seen:
    return run_freeswitch(scenario) if adapter == "freeswitch" else run_asterisk(scenario)




# --- many calls at once ------------------------------------------------------------------


@dataclass
class Crowd:
    records: list[dict[str, Any]]
    transferred_to: list[str | None]
    metrics: dict[Sample, float]
    left_open: int


def crowd(scenario: Scenario, adapter: Adapter, calls: int) -> Crowd:
    """`calls` callers of `scenario` at once; once every one hears hello, each presses the row's keys (their times aside)."""
    return crowd_freeswitch(scenario, calls) if adapter == "freeswitch" else crowd_asterisk(scenario, calls)


def crowd_freeswitch(scenario: Scenario, calls: int) -> Crowd:
    with freeswitch(scenario.menu()) as it:
        emulated = [EmulatedCall(caller(replace(scenario, keys=()))) for _ in range(calls)]
        greenlets = [gevent.spawn(e.run, it.address) for e in emulated]
        in_hello = str(SOUNDS / f"{HELLO}.wav")
        wait_until(lambda: all(any(in_hello in r.arg for r in e.record.applications) for e in emulated), 60)
        for e in emulated:
            for _, digits in scenario.keys:
                e.session.receive_digits(Key(e.now(), digits))
        switches = [g.get(timeout=60) for g in greenlets]
        it.wait_idle(60)
        left_open = it.server.registry.open
    return Crowd(it.records, [s.transferred_to for s in switches], metric_samples(it.registry), left_open)


def crowd_asterisk(scenario: Scenario, calls: int) -> Crowd:
    with asterisk(scenario.menu()) as ari:
        scripts = [from_call_script(caller(replace(scenario, keys=())), bridge_template=BRIDGE_TEMPLATE) for _ in range(calls)]
        channels = [ari.emu.place_call(s) for s in scripts]
        in_hello = f"sound:{SOUNDS / HELLO}"
        wait_until(lambda: all(c.queue and c.queue[0].media == [in_hello] for c in channels), 60)
        for c in channels:
            for _, digits in scenario.keys:
                send_dtmf(ari.emu.asterisk, c, digits, 100, 100)
        wait_until(lambda: len(ari.records) == calls and ari.calls.open == 0, 60)
        wait_until(lambda: all(not c.alive or c.continued is not None for c in channels), 10)
        return Crowd(
            ari.records, [c.continued[1] if c.continued else None for c in channels], metric_samples(ari.registry), ari.calls.open
        )
