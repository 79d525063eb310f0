"""The ARI dialogue without sockets: ARI events in -> engine events out, Switch calls -> REST requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ivrflow.asterisk.dialogue import LEG_ARG, AriDialogue, AriRequest, DialogueSettings
from ivrflow.calls.switch import UnsafeValue
from ivrflow.engine import (
    CallerHungUp,
    DestinationOutcome,
    DtmfReceived,
    Play,
    PlaybackFinished,
    PlaySilence,
    SayDigits,
    SwitchFailed,
    TransferFinished,
)

SOUNDS = Path("/srv/ivr/sounds")
CH = "c1"


def dialogue(**settings: Any) -> AriDialogue:
    base: dict[str, Any] = {"app": "ivrflow", "sound_dir": SOUNDS, "sound_seconds": lambda f: 3.0}
    return AriDialogue(CH, "ivr-in", DialogueSettings(**{**base, **settings}))


def channel_event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "channel": {"id": CH, "state": "Up"}, **fields}


def playback_event(kind: str, playback_id: str, state: str) -> dict[str, Any]:
    return {"type": kind, "playback": {"id": playback_id, "state": state, "target_uri": f"channel:{CH}"}}


def req(method: str, path: str, *params: tuple[str, str], play_id: int | None = None) -> AriRequest:
    return AriRequest(method, path, tuple(params), play_id)


def test_play_uses_our_playback_id_and_a_sound_uri_without_extension() -> None:
    d = dialogue()
    step = d.play(Play(7, "menu/welcome.wav", True), at=10.0)
    assert step.requests == [req("POST", f"/channels/{CH}/play/{CH}-p7", ("media", "sound:/srv/ivr/sounds/menu/welcome"), play_id=7)]
    assert step.events == []
    # Events about the playback may come before the REST reply: they are recognised by our id.
    assert d.on_event(playback_event("PlaybackStarted", f"{CH}-p7", "playing"), 10.1).events == []
    assert d.on_event(playback_event("PlaybackFinished", f"{CH}-p7", "done"), 13.0).events == [PlaybackFinished(13.0, 7)]


@pytest.mark.parametrize(
    ("prompt", "media"),
    [
        (SayDigits(3, "1234", "iterated"), "digits:1234"),
        (SayDigits(3, "42", "pronounced"), "number:42"),
    ],
)
def test_say_digits_media(prompt: SayDigits, media: str) -> None:
    assert dialogue().play(prompt, 0.0).requests == [req("POST", f"/channels/{CH}/play/{CH}-p3", ("media", media), play_id=3)]


@pytest.mark.parametrize("filename", ["../etc/passwd", "a,b.wav", "x\nplay.wav"])
def test_unsafe_sound_names_never_reach_the_wire(filename: str) -> None:
    with pytest.raises(UnsafeValue):
        dialogue().play(Play(1, filename, True), 0.0)


def test_failed_playback_is_reported_with_an_error() -> None:
    d = dialogue()
    d.play(Play(1, "missing.wav", True), 0.0)
    (event,) = d.on_event(playback_event("PlaybackFinished", f"{CH}-p1", "failed"), 0.1).events
    assert isinstance(event, PlaybackFinished) and event.play_id == 1 and event.error == "failed"


def test_barge_in_is_a_delete_of_the_playback_and_its_finish_follows() -> None:
    d = dialogue()
    d.play(Play(1, "bg.wav", True), 0.0)
    # DTMF never stops a playback by itself: the digit is only reported.
    assert d.on_event(channel_event("ChannelDtmfReceived", digit="2", duration_ms=100), 1.0).events == [DtmfReceived(1.0, "2")]
    assert d.stop_playback(1, 1.0).requests == [req("DELETE", f"/playbacks/{CH}-p1", play_id=1)]
    assert d.stop_playback(1, 1.0).requests == []  # asked once
    assert d.on_event(playback_event("PlaybackFinished", f"{CH}-p1", "done"), 1.01).events == [PlaybackFinished(1.01, 1)]


def test_digits_asterisk_knows_but_the_engine_does_not_are_ignored() -> None:
    assert dialogue().on_event(channel_event("ChannelDtmfReceived", digit="A"), 0.0).events == []


def test_silence_is_a_deadline_without_a_request() -> None:
    d = dialogue()
    assert d.play(PlaySilence(4, 1500), at=2.0).requests == []
    assert d.next_deadline() == 3.5
    assert d.fire_due(3.4).events == []
    assert d.fire_due(3.5).events == [PlaybackFinished(3.5, 4)]
    assert d.next_deadline() is None


def test_a_prompt_that_never_reports_its_end_is_ended_by_its_deadline() -> None:
    d = dialogue(deadline_margin=2.0)  # sound lasts 3 s
    d.play(Play(1, "odd.wav", True), at=10.0)
    assert d.next_deadline() == 15.0
    step = d.fire_due(15.0)
    assert step.requests == [req("DELETE", f"/playbacks/{CH}-p1", play_id=1)]
    assert step.events == [PlaybackFinished(15.0, 1, "no end reported before the prompt's deadline")]
    # A late PlaybackFinished is not reported twice.
    assert d.on_event(playback_event("PlaybackFinished", f"{CH}-p1", "done"), 16.0).events == []


def test_unknown_sound_length_gets_the_long_deadline() -> None:
    d = dialogue(sound_seconds=lambda f: None, unknown_sound_deadline=120.0)
    d.play(Play(1, "x.wav", True), at=0.0)
    assert d.next_deadline() == 120.0


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # Caller hangs up during a prompt (05a): HangupRequest(16), PlaybackFinished(failed), StasisEnd.
        ([channel_event("ChannelHangupRequest", cause=16), playback_event("PlaybackFinished", f"{CH}-p1", "failed"), channel_event("StasisEnd")],
         [CallerHungUp(1.0, "NORMAL_CLEARING")]),
        # Busy cause is carried over.
        ([channel_event("ChannelHangupRequest", cause=17)], [CallerHungUp(1.0, "USER_BUSY")]),
        # StasisEnd alone (the channel left the app another way) ends the call too.
        ([channel_event("StasisEnd")], [CallerHungUp(1.0, "NORMAL_CLEARING")]),
    ],
)
def test_hangup_ends_every_wait_once(events: list[dict[str, Any]], expected: list[object]) -> None:
    d = dialogue()
    d.play(Play(1, "bg.wav", True), 0.0)
    got = [e for ev in events for e in d.on_event(ev, 1.0).events]
    assert got == expected
    assert d.next_deadline() is None  # no deadline outlives the call
    assert d.on_event(channel_event("ChannelDtmfReceived", digit="1"), 1.1).events == []


def test_our_own_hangup_sends_the_q850_cause_and_reports_nothing_back() -> None:
    d = dialogue()
    assert d.hang_up("USER_BUSY").requests == [req("DELETE", f"/channels/{CH}", ("reason_code", "17"))]
    assert d.on_event(channel_event("ChannelHangupRequest", cause=32, soft=True), 1.0).events == []
    assert d.on_event(channel_event("StasisEnd"), 1.0).events == []
    assert d.done


def test_transfer_stops_the_prompt_first_then_continues_into_the_context() -> None:
    d = dialogue(transfer_context="from-ivr")
    d.play(Play(1, "bg.wav", False), 0.0)
    step = d.transfer(("002",), "transfer", 1.0)
    assert step.requests == [
        req("DELETE", f"/playbacks/{CH}-p1", play_id=1),
        req("POST", f"/channels/{CH}/continue", ("context", "from-ivr"), ("extension", "002"), ("priority", "1")),
    ]
    assert d.on_event(channel_event("StasisEnd"), 1.1).events == [TransferFinished(1.1, True)]


def test_transfer_defaults_to_the_channels_own_context_and_simple_transfer_has_its_own() -> None:
    assert dialogue().transfer(("5",), "transfer", 0.0).requests[-1].params[0] == ("context", "ivr-in")
    assert dialogue().transfer(("5",), "simple_transfer", 0.0).requests[-1].params[0] == ("context", "ivrflow-simple-transfer")


@pytest.mark.parametrize("destination", ["00 2", "1&app=x", "1,2", "", "9\n"])
def test_transfer_refuses_what_is_not_an_extension(destination: str) -> None:
    with pytest.raises(UnsafeValue):
        dialogue().transfer((destination,), "transfer", 0.0)


def test_a_refused_continue_is_a_failed_transfer() -> None:
    d = dialogue()
    (request,) = d.transfer(("002",), "transfer", 0.0).requests
    assert d.on_reply(request, 409, {"message": "Channel not in Stasis application"}, 0.1).events == [
        TransferFinished(0.1, False, "Channel not in Stasis application")
    ]


def leg_dial(leg: str, status: str) -> dict[str, Any]:
    return {"type": "Dial", "dialstatus": status, "peer": {"id": leg}}


def test_several_destinations_ring_together_and_the_losers_are_hung_up() -> None:
    d = dialogue(dial_template="PJSIP/{number}@trunk", dial_timeout=20)
    step = d.transfer(("101", "102"), "transfer", 0.0)
    assert step.requests == [
        req("POST", "/bridges", ("type", "mixing"), ("bridgeId", f"{CH}-b"), ("name", f"ivrflow-{CH}")),
        req("POST", f"/bridges/{CH}-b/addChannel", ("channel", CH)),
        req("POST", "/channels/create", ("endpoint", "PJSIP/101@trunk"), ("app", "ivrflow"), ("appArgs", f"{LEG_ARG},{CH}"), ("channelId", f"{CH}-l1")),
        req("POST", f"/channels/{CH}-l1/dial", ("caller", CH), ("timeout", "20")),
        req("POST", "/channels/create", ("endpoint", "PJSIP/102@trunk"), ("app", "ivrflow"), ("appArgs", f"{LEG_ARG},{CH}"), ("channelId", f"{CH}-l2")),
        req("POST", f"/channels/{CH}-l2/dial", ("caller", CH), ("timeout", "20")),
    ]
    assert d.owns(f"{CH}-l1") and d.owns(f"{CH}-l2")
    assert d.on_event(leg_dial(f"{CH}-l2", "RINGING"), 1.0).events == []
    step = d.on_event(leg_dial(f"{CH}-l2", "ANSWER"), 4.0)
    # The loser is hung up while it rings: Asterisk's dialstatus for it is CANCEL.
    outcomes = (DestinationOutcome("101", "no_answer", "CANCEL"), DestinationOutcome("102", "answered", "ANSWER"))
    assert step.events == [TransferFinished(4.0, True, destinations=outcomes)]
    assert step.requests == [
        req("DELETE", f"/channels/{CH}-l1", ("reason", "answered_elsewhere")),
        req("POST", f"/bridges/{CH}-b/addChannel", ("channel", f"{CH}-l2")),
    ]
    d.finished()
    assert not d.done  # the bridged call is still watched
    # The target hangs up: the caller, alone in the bridge, is hung up and the bridge goes.
    step = d.on_event({"type": "StasisEnd", "channel": {"id": f"{CH}-l2"}}, 60.0)
    assert step.requests == [req("DELETE", f"/bridges/{CH}-b"), req("DELETE", f"/channels/{CH}", ("reason_code", "16"))]


def test_nobody_answers_is_a_failed_transfer_and_the_bridge_goes() -> None:
    d = dialogue()
    d.transfer(("101", "102"), "transfer", 0.0)
    assert d.on_event(leg_dial(f"{CH}-l1", "BUSY"), 2.0).events == []
    step = d.on_event(leg_dial(f"{CH}-l2", "NOANSWER"), 20.0)
    outcomes = (DestinationOutcome("101", "busy", "BUSY"), DestinationOutcome("102", "no_answer", "NOANSWER"))
    assert step.events == [TransferFinished(20.0, False, "NO_ANSWER", outcomes)]
    assert step.requests == [req("DELETE", f"/bridges/{CH}-b")]


def test_caller_hangup_while_legs_ring_hangs_the_legs_up() -> None:
    d = dialogue()
    d.transfer(("101", "102"), "transfer", 0.0)
    step = d.on_event(channel_event("ChannelHangupRequest", cause=16), 3.0)
    assert step.events == [CallerHungUp(3.0, "NORMAL_CLEARING")]
    assert {r.path for r in step.requests} == {f"/channels/{CH}-l1", f"/channels/{CH}-l2"}


@pytest.mark.parametrize(("name", "value"), [("CDR", "x"), ("a(b)", "x"), ("ok_name", "bad\nvalue"), ("_INHERIT", "x")])
def test_variables_asterisk_acts_on_or_with_control_characters_are_refused(name: str, value: str) -> None:
    with pytest.raises(UnsafeValue):
        dialogue().set_variable(name, value)


def test_variables_and_caller_id_go_through_the_variable_resource() -> None:
    d = dialogue()
    assert d.set_variable("ivr_choice", "sales 1").requests == [req("POST", f"/channels/{CH}/variable", ("variable", "ivr_choice"), ("value", "sales 1"))]
    assert d.set_caller_id("number", "+4930").requests == [req("POST", f"/channels/{CH}/variable", ("variable", "CALLERID(num)"), ("value", "+4930"))]
    assert d.set_caller_id("name", "Sales").requests[0].params[0] == ("variable", "CALLERID(name)")


def test_rest_failures_become_what_the_engine_must_know() -> None:
    d = dialogue()
    (play,) = d.play(Play(1, "a.wav", True), 0.0).requests
    assert d.on_reply(play, 500, {"message": "Failed to queue media for playback"}, 0.1).events == [
        PlaybackFinished(0.1, 1, "Failed to queue media for playback")
    ]
    (answer,) = d.answer().requests
    (event,) = d.on_reply(answer, 0, None, 0.2).events
    assert isinstance(event, SwitchFailed) and "answer" in event.reason
    # A 404 for the channel means it is gone.
    assert d.on_reply(answer, 404, {"message": "Channel not found"}, 0.3).events == [CallerHungUp(0.3, "NORMAL_CLEARING")]


def test_a_stop_for_a_playback_already_over_is_no_failure() -> None:
    d = dialogue()
    d.play(Play(1, "a.wav", True), 0.0)
    (stop,) = d.stop_playback(1, 0.5).requests
    assert d.on_reply(stop, 404, {"message": "Playback not found"}, 0.6).events == []


def test_resync_after_a_websocket_gap() -> None:
    d = dialogue()
    d.play(Play(1, "a.wav", True), 0.0)
    d.play(Play(2, "b.wav", True), 0.0)
    assert d.state_known
    # p1 ended during the gap (its PlaybackFinished was lost); p2 still plays.
    assert d.resync(True, {f"{CH}-p1"}, 9.0).events == [PlaybackFinished(9.0, 1)]
    # The channel left the app during the gap: the caller hung up.
    assert d.resync(False, set(), 9.5).events == [CallerHungUp(9.5, "NORMAL_CLEARING")]


def test_state_is_unknown_while_legs_ring() -> None:
    d = dialogue()
    d.transfer(("101", "102"), "transfer", 0.0)
    assert not d.state_known
