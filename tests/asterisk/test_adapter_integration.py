"""The ARI adapter (REST client, event stream, router, per-call Switch) against the emulated Asterisk."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import pytest

from ivrflow.asterisk.app import CHECKS_AT_ONCE, LOST_STATE, AriCallStart, CallRouter, hang_up_orphans, reconcile
from ivrflow.asterisk.call import AriCall
from ivrflow.asterisk.dialogue import AriDialogue, DialogueSettings
from ivrflow.asterisk.events import EventStream
from ivrflow.asterisk.rest import AriRest, Credentials
from ivrflow.engine import CallerHungUp, DtmfReceived, Event, Play, PlaybackFinished, SwitchFailed, TransferFinished
from ivrflow.testing.ari_emulator import AriEmulator
from ivrflow.testing.ari_script import AriCallScript, AriKey, DialOutcome

from .replay import wait_until

CREDENTIALS = Credentials("ivr", "ivrsecret")
SOUNDS = Path("/srv/ivr/sounds")


@dataclass
class Adapter:
    emu: AriEmulator
    rest: AriRest
    router: CallRouter
    stream: EventStream
    settings: DialogueSettings
    inbox: dict[str, list[Event]] = field(default_factory=dict)
    starts: list[AriCallStart] = field(default_factory=list)
    ups: int = 0
    downs: int = 0

    def call(self, channel_id: str) -> AriCall:
        assert wait_until(lambda: channel_id in self.router.calls), f"{channel_id} never started"
        return self.router.calls[channel_id]

    def events(self, channel_id: str) -> list[Event]:
        return self.inbox.setdefault(channel_id, [])

    def wait_for(self, channel_id: str, kind: type, timeout: float = 5.0) -> Any:
        def found() -> list[Event]:
            return [e for e in self.events(channel_id) if isinstance(e, kind)]

        assert wait_until(lambda: bool(found()), timeout), f"no {kind.__name__} for {channel_id}: {self.events(channel_id)}"
        return found()[0]


@pytest.fixture
def adapter() -> Iterator[Adapter]:
    emu = AriEmulator().start()
    rest = AriRest(emu.url, CREDENTIALS, deadline=2.0)
    settings = DialogueSettings(
        app="ivrflow", sound_dir=SOUNDS, transfer_context="from-ivr", dial_template="PJSIP/{number}",
        sound_seconds=lambda f: 0.2, deadline_margin=0.3,
    )
    holder: list[Adapter] = []

    def new_call(start: AriCallStart, event: Any) -> None:
        a = holder[0]
        a.starts.append(start)
        dialogue = AriDialogue(start.channel_id, start.context, settings)
        a.router.add(AriCall(dialogue, rest, a.events(start.channel_id).append))

    router = CallRouter(new_call)

    def up() -> None:
        holder[0].ups += 1

    def down() -> None:
        holder[0].downs += 1

    stream = EventStream(emu.url, "ivrflow", CREDENTIALS, router.route, on_up=up, on_down=down,
                         ping_interval=0.2, pong_timeout=0.3, backoff_base=0.05, backoff_cap=0.2)
    a = Adapter(emu, rest, router, stream, settings)
    holder.append(a)
    stream.start()
    assert wait_until(lambda: stream.connected)
    yield a
    stream.stop()
    rest.close()
    emu.stop()


def test_a_call_answers_plays_barges_in_and_transfers(adapter: Adapter) -> None:
    adapter.emu.place_call(AriCallScript(channel_id="c1", exten="071", default_sound_seconds=30.0, keys=[AriKey(0.2, "2")]))
    call = adapter.call("c1")
    assert adapter.starts[0].ivr == "071" and adapter.starts[0].caller_number == "+4930111222"
    call.answer()
    call.play(Play(1, "menu/welcome.wav", True))
    assert adapter.wait_for("c1", DtmfReceived) == DtmfReceived(adapter.events("c1")[0].at, "2")
    call.stop_playback(1)
    finished = adapter.wait_for("c1", PlaybackFinished)
    assert finished.play_id == 1 and finished.error is None
    call.set_variable("ivr_choice", "2")
    call.transfer(("002",), "transfer")
    assert adapter.wait_for("c1", TransferFinished).ok
    channel = adapter.emu.channel("c1")
    assert channel.state == "Up"
    assert channel.continued == ("from-ivr", "002", 1)
    assert channel.variables["ivr_choice"] == "2"
    plays = [(m, p) for m, p, q in adapter.emu.requests if "/play/" in p]
    assert plays == [("POST", "/ari/channels/c1/play/c1-p1")]
    assert [q["media"] for m, p, q in adapter.emu.requests if "/play/" in p] == ["sound:/srv/ivr/sounds/menu/welcome"]


def test_caller_hangup_during_a_prompt_ends_the_call_once(adapter: Adapter) -> None:
    adapter.emu.place_call(AriCallScript(channel_id="c2", default_sound_seconds=30.0, caller_hangup_at=0.1))
    call = adapter.call("c2")
    call.play(Play(1, "a.wav", True))
    assert adapter.wait_for("c2", CallerHungUp).cause == "NORMAL_CLEARING"
    call.finished()
    gevent.sleep(0.05)
    # The PlaybackFinished(failed) that follows the hangup is not reported: the call's waits are over.
    assert [type(e) for e in adapter.events("c2")] == [CallerHungUp]
    assert "c2" not in adapter.router.calls


def test_several_destinations_ring_together_the_first_to_answer_is_bridged(adapter: Adapter) -> None:
    leg_outcomes = {"PJSIP/101": DialOutcome("no_answer", ring_seconds=5.0), "PJSIP/102": DialOutcome("answer", ring_seconds=0.1, talk_seconds=30)}
    adapter.emu.server.rest.leg_script = lambda: AriCallScript(dial_outcomes=leg_outcomes)
    adapter.emu.place_call(AriCallScript(channel_id="c3"))
    call = adapter.call("c3")
    call.answer()
    call.transfer(("101", "102"), "transfer")
    assert adapter.wait_for("c3", TransferFinished).ok
    call.drain()
    bridge = adapter.emu.asterisk.bridges["c3-b"]
    assert sorted(bridge.channels) == ["c3", "c3-l2"]
    assert adapter.emu.channel("c3-l1").hangup_cause == 26  # answered elsewhere
    assert adapter.starts == [adapter.starts[0]]  # the dialed legs are not new calls


def test_a_prompt_whose_end_never_comes_is_ended_by_its_deadline(adapter: Adapter) -> None:
    # The sound is said to last 0.2 s but plays for ever (as an unknown media scheme does on Asterisk).
    adapter.emu.place_call(AriCallScript(channel_id="c4", default_sound_seconds=1e6))
    call = adapter.call("c4")
    call.play(Play(1, "a.wav", True))
    deadline = call.next_deadline()
    assert deadline is not None
    gevent.sleep(max(0.0, deadline - time.monotonic()))
    call.fire_due_timers()
    finished = adapter.wait_for("c4", PlaybackFinished)
    assert finished.error == "no end reported before the prompt's deadline"
    call.drain()
    assert "c4-p1" not in adapter.emu.asterisk.playbacks  # and it was stopped on the switch


def test_a_silent_dead_websocket_is_noticed_within_seconds_and_reconnects(adapter: Adapter) -> None:
    started = time.monotonic()
    adapter.emu.drop_websocket(silent=True)
    assert wait_until(lambda: adapter.downs == 1, 3.0)
    noticed = time.monotonic() - started
    assert noticed < 0.2 + 0.3 + 0.5  # ping interval + pong timeout, with slack for a busy machine
    assert wait_until(lambda: adapter.stream.connected and adapter.ups == 2, 3.0)
    assert adapter.stream.reconnects == 1


def test_reconnect_reconciles_the_calls_by_the_documented_rule(adapter: Adapter) -> None:
    emu = adapter.emu
    emu.place_call(AriCallScript(channel_id="k1", default_sound_seconds=1e6))  # its prompt ends in the gap
    emu.place_call(AriCallScript(channel_id="k2", default_sound_seconds=1e6))  # still playing after the gap
    emu.place_call(AriCallScript(channel_id="k3"))  # hangs up in the gap
    emu.place_call(AriCallScript(channel_id="k4"))  # ringing legs: state unknown
    k1, k2, k4 = adapter.call("k1"), adapter.call("k2"), adapter.call("k4")
    adapter.call("k3")
    k1.play(Play(1, "a.wav", True))
    k2.play(Play(1, "a.wav", True))
    k4.transfer(("101", "102"), "transfer")
    for c in (k1, k2, k4):
        c.drain()
    adapter.stream.stop()  # the gap: no events reach ivrflow
    assert wait_until(lambda: "ivrflow" not in emu.asterisk.sinks, 2.0)
    emu.end_prompt("k1-p1")
    emu.asterisk.hang_up(emu.channel("k3"), 16, by_ari=False)
    # A call that arrives unseen: the socket looked alive to Asterisk (here: its StasisStart is simply lost).
    emu.asterisk.sinks["ivrflow"] = lambda event: False
    emu.place_call(AriCallScript(channel_id="orphan"))
    decisions = reconcile(adapter.rest, "ivrflow", adapter.router, time.monotonic).wait()
    assert decisions == {"k1": "resumed", "k2": "resumed", "k3": "ended", "k4": "lost_state", "orphan": "orphan"}
    assert [type(e) for e in adapter.events("k1")] == [PlaybackFinished]
    assert adapter.events("k2") == []
    assert [type(e) for e in adapter.events("k3")] == [CallerHungUp]
    (failed,) = adapter.events("k4")
    assert isinstance(failed, SwitchFailed) and failed.reason == LOST_STATE
    assert emu.channel("orphan").alive  # not yet: its StasisStart might still be unread
    assert hang_up_orphans(adapter.rest, "ivrflow", adapter.router, ["orphan"]) == ["orphan"]
    assert emu.channel("orphan").hangup_cause == 41
    assert not emu.channel("orphan").alive


def _calls_in_a_prompt(adapter: Adapter, ids: list[str]) -> list[AriCall]:
    calls = []
    for channel_id in ids:
        adapter.emu.place_call(AriCallScript(channel_id=channel_id, default_sound_seconds=1e6))
        call = adapter.call(channel_id)
        call.play(Play(1, "a.wav", True))
        calls.append(call)
    for call in calls:
        call.drain()
    return calls


def test_prompt_checks_are_asked_together_a_bounded_number_at_a_time(adapter: Adapter) -> None:
    ids = [f"q{n}" for n in range(2 * CHECKS_AT_ONCE + 3)]
    _calls_in_a_prompt(adapter, ids)
    outstanding: list[str] = []
    peak = 0
    all_out = gevent.event.Event()

    def hold_until_enough_are_out(method: str, path: str, params: dict[str, str]) -> None:
        # Each prompt check is answered only once CHECKS_AT_ONCE of them are out at the same time:
        # checks asked one after another would never get there, and time out into lost_state.
        nonlocal peak
        if not path.startswith("/ari/playbacks/"):
            return
        outstanding.append(path)
        peak = max(peak, len(outstanding))
        if len(outstanding) >= CHECKS_AT_ONCE:
            all_out.set()
        try:
            all_out.wait(10)
        finally:
            outstanding.remove(path)

    adapter.emu.server.on_request = hold_until_enough_are_out
    decisions = reconcile(adapter.rest, "ivrflow", adapter.router, time.monotonic).wait()
    assert decisions == {c: "resumed" for c in ids}
    assert peak == CHECKS_AT_ONCE  # together, and never more than the bound
    assert all(adapter.events(c) == [] for c in ids)  # every prompt still plays


def test_events_for_a_call_under_check_wait_for_its_decision_then_come_in_order(adapter: Adapter) -> None:
    emu = adapter.emu
    _calls_in_a_prompt(adapter, ["k"])
    asked = gevent.event.Event()
    answer = gevent.event.Event()

    def held_check(method: str, path: str, params: dict[str, str]) -> None:
        if path == "/ari/playbacks/k-p1":
            asked.set()
            answer.wait(5)

    emu.server.on_request = held_check
    reconciliation = reconcile(adapter.rest, "ivrflow", adapter.router, time.monotonic)  # as on a reconnect
    assert asked.wait(5)
    # While Asterisk is asked, the socket goes on: the prompt ends and the caller presses 5.
    emu.end_prompt("k-p1")
    emu.asterisk.chan_event(emu.channel("k"), "ChannelDtmfReceived", digit="5", duration_ms=100)
    emu.place_call(AriCallScript(channel_id="later"))  # read after both: once it is routed, so were they
    adapter.call("later")
    assert adapter.events("k") == []  # held: the call's decision is not taken yet
    answer.set()
    assert reconciliation.wait(5) == {"k": "resumed"}
    # The prompt's end once (the decision's, or the held event's, not both), then the digit.
    assert [(type(e), getattr(e, "play_id", None) or getattr(e, "digit", None)) for e in adapter.events("k")] == [
        (PlaybackFinished, 1), (DtmfReceived, "5"),
    ]
    emu.asterisk.chan_event(emu.channel("k"), "ChannelDtmfReceived", digit="7", duration_ms=100)
    assert wait_until(lambda: len(adapter.events("k")) == 3)  # no longer held once decided


@pytest.mark.parametrize("asterisk", ["drops the request", "never answers"])
def test_a_call_whose_prompt_check_fails_is_taken_as_state_unknown(adapter: Adapter, asterisk: str) -> None:
    _calls_in_a_prompt(adapter, ["ok", "broken"])
    never = gevent.event.Event()

    def failing(method: str, path: str, params: dict[str, str]) -> None:
        if path == "/ari/playbacks/broken-p1":
            if asterisk == "drops the request":
                raise OSError("the connection closes with no reply")
            never.wait(5)

    adapter.emu.server.on_request = failing
    rest = AriRest(adapter.emu.url, CREDENTIALS, deadline=0.3)  # the check's deadline
    try:
        decisions = reconcile(rest, "ivrflow", adapter.router, time.monotonic).wait()
    finally:
        never.set()
        rest.close()
    assert decisions == {"ok": "resumed", "broken": "lost_state"}
    (failed,) = adapter.events("broken")
    assert isinstance(failed, SwitchFailed) and failed.reason == LOST_STATE
    assert adapter.events("ok") == []


def test_no_tight_loop_when_asterisk_keeps_closing_cleanly(adapter: Adapter) -> None:
    adapter.emu.close_websockets_on_accept = True
    before = adapter.stream.connects
    adapter.emu.drop_websocket()
    gevent.sleep(1.0)
    reconnects = adapter.stream.connects - before
    # Backoff 0.05 s doubling to a 0.2 s cap, jittered: a tight loop would reconnect hundreds of times.
    assert 2 <= reconnects <= 12
    assert adapter.stream.last_delay >= 0.1


def test_wrong_credentials_are_refused_and_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    emu = AriEmulator(password="right-one").start()
    try:
        bad = Credentials("ivr", "s3cret-wrong")
        assert AriRest(emu.url, bad).request("GET", "/channels").status == 401
        stream = EventStream(emu.url, "ivrflow", bad, lambda e: None, backoff_base=0.05, backoff_cap=0.1)
        with caplog.at_level(logging.DEBUG):
            stream.start()
            assert wait_until(lambda: any("HTTP 401" in r.getMessage() for r in caplog.records), 2.0)
            stream.stop()
        assert stream.connects == 0
        assert "s3cret-wrong" not in caplog.text and "s3cret-wrong" not in repr(bad)
    finally:
        emu.stop()


def test_a_malformed_frame_is_logged_and_survived(adapter: Adapter) -> None:
    (sock,) = adapter.emu.event_sockets()
    from wsproto.events import TextMessage

    sock.send_bytes(sock.ws.send(TextMessage(data="{not json")))
    adapter.emu.place_call(AriCallScript(channel_id="m1"))
    adapter.call("m1")
    assert adapter.stream.malformed == 1
    assert adapter.stream.connected


def test_a_freeswitch_scenario_script_drives_the_asterisk_emulator_too(adapter: Adapter) -> None:
    from ivrflow.testing import BridgeOutcome, CallScript, Key
    from ivrflow.testing.ari_script import from_call_script

    fs = CallScript(
        destination_number="071", caller_id_number="79991234567", keys=[Key(0.1, "2", duration=800)],
        sounds={"/srv/ivr/sounds/menu/welcome.wav": 30.0}, caller_hangup=(0.5, "NORMAL_CLEARING"),
        bridge_outcomes={"101": BridgeOutcome("busy", ring_seconds=0.2)},
    )
    script = from_call_script(fs)
    assert script.dial_outcome("PJSIP/101").result == "busy"
    assert script.sound_seconds("/srv/ivr/sounds/menu/welcome") == 30.0
    adapter.emu.place_call(script)
    call = adapter.call(script.channel_id)
    assert adapter.starts[-1].ivr == "071" and adapter.starts[-1].caller_number == "79991234567"
    call.play(Play(1, "menu/welcome.wav", True))
    digit = adapter.wait_for(script.channel_id, DtmfReceived)
    assert digit.digit == "2"
    assert adapter.wait_for(script.channel_id, CallerHungUp)
    assert [p for m, p, q in adapter.emu.requests] == [f"/ari/channels/{script.channel_id}/play/{script.channel_id}-p1"]


def test_an_orphan_still_talking_in_a_bridge_is_left_alone(adapter: Adapter) -> None:
    emu = adapter.emu
    emu.asterisk.sinks["ivrflow"] = lambda event: True  # sent, never read: its StasisStart is lost
    emu.place_call(AriCallScript(channel_id="talking"))
    emu.place_call(AriCallScript(channel_id="alone"))
    assert adapter.rest.request("POST", "/bridges", [("bridgeId", "b1")]).status == 200
    assert adapter.rest.request("POST", "/bridges/b1/addChannel", [("channel", "talking")]).status == 204
    assert hang_up_orphans(adapter.rest, "ivrflow", adapter.router, ["talking", "alone"]) == ["alone"]
    assert emu.channel("talking").alive and not emu.channel("alone").alive


def test_an_orphan_candidate_transferred_during_the_grace_is_not_hung_up_at_its_target(adapter: Adapter) -> None:
    emu = adapter.emu
    emu.asterisk.sinks["ivrflow"] = lambda event: True  # listed by reconciliation before its StasisStart was read
    emu.place_call(AriCallScript(channel_id="moved"))
    emu.place_call(AriCallScript(channel_id="stuck"))
    # Driven meanwhile and sent on into the dialplan: it leaves the app, nobody owns it any more.
    assert adapter.rest.request("POST", "/channels/moved/continue", [("context", "from-ivr"), ("extension", "050")]).status == 204
    assert hang_up_orphans(adapter.rest, "ivrflow", adapter.router, ["moved", "stuck"]) == ["stuck"]
    assert emu.channel("moved").alive and emu.channel("moved").continued == ("from-ivr", "050", 1)
    assert not emu.channel("stuck").alive


def test_an_orphan_candidate_driven_when_the_sweep_starts_is_not_hung_up_if_it_leaves_during_the_sweep(adapter: Adapter) -> None:
    emu = adapter.emu
    emu.place_call(AriCallScript(channel_id="late"))  # a candidate whose StasisStart was read within the grace
    adapter.call("late")
    emu.place_call(AriCallScript(channel_id="driven"))

    def transferred_meanwhile(method: str, path: str, params: dict[str, str]) -> None:
        # While the sweep asks for the bridges (the app already listed), the call goes on into the
        # dialplan and its driver lets go of it, as after a `continue` and its StasisEnd.
        if path == "/ari/bridges" and "late" in adapter.router.calls:
            emu.server.rest.handle("POST", "channels/late/continue", {"context": "from-ivr", "extension": "050"})
            adapter.router.release(adapter.router.calls["late"])

    emu.server.on_request = transferred_meanwhile
    assert hang_up_orphans(adapter.rest, "ivrflow", adapter.router, ["late", "driven"]) == []
    assert emu.channel("late").alive and emu.channel("late").continued == ("from-ivr", "050", 1)
    assert emu.channel("driven").alive


def test_the_legs_of_a_call_reconciliation_ends_are_not_taken_for_orphans(adapter: Adapter) -> None:
    emu = adapter.emu
    emu.place_call(AriCallScript(channel_id="gone", default_dial_outcome=DialOutcome("no_answer", ring_seconds=1e6)))
    call = adapter.call("gone")
    call.transfer(("101", "102"), "transfer")
    call.drain()
    assert wait_until(lambda: all(emu.asterisk.channels[f"gone-l{n}"].state == "Ringing" for n in (1, 2)))
    adapter.stream.stop()  # the gap
    assert wait_until(lambda: "ivrflow" not in emu.asterisk.sinks, 2.0)
    emu.asterisk.hang_up(emu.channel("gone"), 16, by_ari=False)  # the caller hangs up; the legs still ring
    decisions = reconcile(adapter.rest, "ivrflow", adapter.router, time.monotonic).wait()
    assert decisions == {"gone": "ended"}  # its legs are ivrflow's to hang up (rule 1), not orphans (rule 4)
    call.drain()
    assert not emu.channel("gone-l1").alive and not emu.channel("gone-l2").alive


def test_an_orphan_candidate_whose_continue_is_still_on_its_way_when_the_sweep_starts_is_not_hung_up(adapter: Adapter) -> None:
    emu = adapter.emu
    emu.place_call(AriCallScript(channel_id="leaving"))  # a candidate whose StasisStart was read within the grace
    call = adapter.call("leaving")
    swept = gevent.event.Event()

    def slow_continue(method: str, path: str, params: dict[str, str]) -> None:
        if path == "/ari/channels/leaving/continue":
            swept.wait(5)  # Asterisk takes it in only after the sweep has decided

    emu.server.on_request = slow_continue
    call.transfer(("050",), "transfer")
    call.finished()
    adapter.router.release(call)  # the call is done; its continue is on its way, its channel still in the app
    try:
        assert hang_up_orphans(adapter.rest, "ivrflow", adapter.router, ["leaving"]) == []
    finally:
        swept.set()
    call.drain()
    assert emu.channel("leaving").alive and emu.channel("leaving").continued == ("from-ivr", "050", 1)
    assert not adapter.router.owned("leaving")  # once its requests are out
