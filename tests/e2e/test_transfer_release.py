"""What ivrflow does with the socket of a call it transferred."""

from __future__ import annotations

from .harness import call, ivrflow

PARK = (("answer", ""), ("park", ""))


def test_by_default_the_socket_is_held_so_a_parking_target_keeps_the_call() -> None:
    with ivrflow() as it:
        switch, record = call(it, default_transfer_extension=PARK, caller_hangup=(40.0, "NORMAL_CLEARING"))
    assert record["outcome"] == "transfer"
    assert switch.transferred_to == "050"
    # The call stayed parked at its target until the caller hung up at 40 s...
    assert switch.hangup_cause == "NORMAL_CLEARING"
    hangup_at = next(t for t, name in switch.events_fired if name == "CHANNEL_HANGUP")
    assert hangup_at >= 39.9
    # ...and only then did ivrflow say exit.
    exit_at = next(t for t, c in switch.received if c.name == "exit")
    assert exit_at >= hangup_at


def test_exit_after_transfer_releases_at_once_and_knocks_a_parking_target_out() -> None:
    """Why holding is the default: exit clears FreeSWITCH's control flag (signalwire/freeswitch#580)."""
    with ivrflow(exit_after_transfer=True) as it:
        switch, record = call(it, default_transfer_extension=PARK, caller_hangup=(40.0, "NORMAL_CLEARING"))
    assert record["outcome"] == "transfer"
    exit_at = next(t for t, c in switch.received if c.name == "exit")
    assert exit_at < 18.5  # right after the transfer at ~17 s
    hangup_at = next(t for t, name in switch.events_fired if name == "CHANNEL_HANGUP")
    assert hangup_at < 30.0  # the parked call fell off the dialplan long before the caller hung up


def test_exit_after_transfer_leaves_a_target_that_does_not_park_alone() -> None:
    playing = (("answer", ""), ("playback", "long-tone.wav"), ("hangup", "NORMAL_CLEARING"))
    with ivrflow(exit_after_transfer=True) as it:
        switch, _ = call(it, default_transfer_extension=playing, sounds={"long-tone.wav": 10.0})
    exit_at = next(t for t, c in switch.received if c.name == "exit")
    tone = next(run for run in switch.applications if run.arg == "long-tone.wav")
    assert tone.started < exit_at  # the target was already playing when ivrflow let go
    assert switch.hangup_cause is None  # and the call was still up when the socket closed
    assert switch.final_state == "transferred:050"
