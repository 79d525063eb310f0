"""The example menu 071 through the whole ARI adapter and the call layer's driver, Asterisk emulated."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from ivrflow.asterisk.dialogue import DialogueSettings
from ivrflow.asterisk.events import EventStream
from ivrflow.asterisk.rest import AriRest
from ivrflow.asterisk.session import AriCalls
from ivrflow.calls.registry import CallRegistry
from ivrflow.service.metrics import Metrics
from ivrflow.service.observer import Observer
from ivrflow.testing.ari_emulator import AriEmulator
from ivrflow.testing.ari_script import AriCallScript, AriKey

from e2e.harness import SCALE, SOUNDS, example_menu
from .replay import CREDENTIALS, wait_until

# Call time: sleep 0-5, advertising 5-9, hello 9-12, timeout 12-17 (as in the FreeSWITCH e2e tests).
MEDIA_SECONDS = {str(SOUNDS / "advertising"): 4.0, str(SOUNDS / "hello"): 3.0}


@dataclass
class Ari:
    emu: AriEmulator
    calls: AriCalls
    registry: CollectorRegistry
    records: list[dict[str, Any]] = field(default_factory=list)

    def call(self, **script: Any) -> tuple[str, dict[str, Any]]:
        s = AriCallScript(exten="071", sounds=MEDIA_SECONDS, time_scale=SCALE, **script)
        self.emu.place_call(s)
        assert wait_until(lambda: any(r["call_uuid"] == s.channel_id for r in self.records), 10.0)
        assert wait_until(lambda: self.calls.registry.open == 0, 5.0)
        (record,) = [r for r in self.records if r["call_uuid"] == s.channel_id]
        return s.channel_id, record


@pytest.fixture
def ari() -> Iterator[Ari]:
    emu = AriEmulator().start()
    rest = AriRest(emu.url, CREDENTIALS)
    registry = CollectorRegistry()
    records: list[dict[str, Any]] = []
    calls_registry = CallRegistry(max_calls=100)
    observer = Observer(Metrics(registry, lambda: calls_registry.active), records.append)
    menu = example_menu()
    settings = DialogueSettings(app="ivrflow", sound_dir=SOUNDS, sound_seconds=lambda f: 4.0 * SCALE, deadline_margin=1.0)
    calls = AriCalls(rest, lambda: menu, settings, observer, calls_registry)
    stream = EventStream(emu.url, "ivrflow", CREDENTIALS, calls.router.route)
    stream.start()
    assert wait_until(lambda: stream.connected)
    yield Ari(emu, calls, registry, records)
    stream.stop()
    rest.close()
    emu.stop()


def test_no_key_transfers_to_050_after_both_sounds_and_the_timeout(ari: Ari) -> None:
    channel_id, record = ari.call()
    channel = ari.emu.channel(channel_id)
    assert channel.state == "Up"
    assert channel.continued == ("ivr-in", "050", 1)
    media = [q["media"] for m, p, q in ari.emu.requests if "/play/" in p]
    assert media == [f"sound:{SOUNDS / 'advertising'}", f"sound:{SOUNDS / 'hello'}"]
    assert record["outcome"] == "transfer" and record["transfer_destinations"] == ["050"]
    assert [(s["context"], s["option"]) for s in record["path"]] == [(1, "start"), (1, "timeout")]
    assert ari.registry.get_sample_value("ivr_calls_total", {"ivr": "071", "outcome": "transfer"}) == 1


def test_2_during_hello_stops_it_then_transfers_to_002(ari: Ari) -> None:
    channel_id, record = ari.call(keys=[AriKey(10.0, "2")])
    assert ("DELETE", f"/ari/playbacks/{channel_id}-p2") in [(m, p) for m, p, q in ari.emu.requests]
    assert ari.emu.channel(channel_id).continued == ("ivr-in", "002", 1)
    assert record["entries"] == ["2"]


def test_a_key_during_the_foreground_advertising_is_discarded_and_not_a_barge_in(ari: Ari) -> None:
    channel_id, record = ari.call(keys=[AriKey(6.0, "2")])
    assert not [p for m, p, q in ari.emu.requests if m == "DELETE" and p.startswith("/ari/playbacks/")]
    assert ari.emu.channel(channel_id).continued == ("ivr-in", "050", 1)


def test_caller_hangup_during_hello_gives_one_hangup_record(ari: Ari) -> None:
    channel_id, record = ari.call(caller_hangup_at=10.0)
    assert record["outcome"] == "caller_hangup"
    assert ari.emu.channel(channel_id).continued is None


def test_an_unknown_ivr_goes_back_to_the_dialplan(ari: Ari) -> None:
    s = AriCallScript(exten="999", time_scale=SCALE)
    ari.emu.place_call(s)
    assert wait_until(lambda: ari.emu.channel(s.channel_id).continued is not None)
    assert ari.emu.channel(s.channel_id).continued == ("ivr-in", "999", 4)  # continue without arguments: after Stasis()
    assert ari.records == []


def test_a_bridged_transfer_is_held_until_a_side_hangs_up_then_let_go(ari: Ari) -> None:
    from ivrflow.testing.ari_script import DialOutcome

    outcomes = {"PJSIP/101": DialOutcome("answer", ring_seconds=0.05, talk_seconds=0.3)}
    ari.emu.server.rest.leg_script = lambda: AriCallScript(dial_outcomes=outcomes, default_dial_outcome=DialOutcome("no_answer", 5.0))
    menu = ari.calls._menu()
    ivr = menu.ivrs[0]
    option = ivr.contexts[0].options["2"][0].model_copy(update={"transfer_dst": "101,102"})
    context = ivr.contexts[0].model_copy(update={"options": {**ivr.contexts[0].options, "2": (option,)}})
    changed = menu.model_copy(update={"ivrs": (ivr.model_copy(update={"contexts": (context,)}),)})
    ari.calls._menu = lambda: changed
    channel_id, record = ari.call(keys=[AriKey(10.0, "2")])
    assert record["transfer_destinations"] == ["101", "102"]
    assert record["destination_outcomes"] == [
        {"destination": "101", "outcome": "answered", "cause": "ANSWER"},
        {"destination": "102", "outcome": "no_answer", "cause": "CANCEL"},  # hung up as 101 answered
    ]
    # The target talked and hung up: the caller was hung up, the bridge went, the session closed.
    assert not ari.emu.channel(channel_id).alive
    assert ari.emu.asterisk.bridges == {}
    assert ari.calls.registry.open == 0


def test_nobody_answering_on_asterisk_records_each_legs_dialstatus_and_voicemail_is_not_offered(ari: Ari) -> None:
    from ivrflow.testing.ari_script import DialOutcome

    outcomes = {"PJSIP/101": DialOutcome("busy", ring_seconds=0.05)}
    ari.emu.server.rest.leg_script = lambda: AriCallScript(dial_outcomes=outcomes, default_dial_outcome=DialOutcome("no_answer", 0.1))
    menu = ari.calls._menu()
    ivr = menu.ivrs[0]
    option = ivr.contexts[0].options["2"][0].model_copy(update={"transfer_dst": "101,102"})
    context = ivr.contexts[0].model_copy(update={"options": {**ivr.contexts[0].options, "2": (option,)}})
    changed = menu.model_copy(update={"ivrs": (ivr.model_copy(update={"contexts": (context,), "vm_enabled": True}),)})
    ari.calls._menu = lambda: changed
    _, record = ari.call(keys=[AriKey(10.0, "2")])
    assert record["outcome"] == "hangup" and record["voicemail_s"] is None
    assert record["destination_outcomes"] == [
        {"destination": "101", "outcome": "busy", "cause": "BUSY"},
        {"destination": "102", "outcome": "no_answer", "cause": "NOANSWER"},
    ]
    assert any("no voicemail spool" in notice for notice in record["notices"])


def test_a_finished_call_leaves_nothing_for_the_cyclic_collector(ari: Ari) -> None:
    """The daemon collects cycles rarely (service/gc_schedule.py): an ARI call's objects must go
    by reference counting, a transfer's and a caller hangup's alike."""
    import gc

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        ari.call(keys=[AriKey(10.0, "2")])
        ari.call(caller_hangup_at=10.0)
        gc.collect()
        ours = [type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith(("ivrflow.asterisk", "ivrflow.calls", "ivrflow.engine"))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert ours == []
