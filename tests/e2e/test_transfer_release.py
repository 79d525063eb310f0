"""What ivrflow does with the socket of a call it transferred.

Times are the emulator's call time; ivrflow's quiet time is scaled with it (0.3 s of call time).
"""

from __future__ import annotations

import pytest

from ivrflow.testing import BridgeOutcome, ChannelHistory, Faults

from .harness import SCALE, call, ivrflow

PARK = (("answer", ""), ("park", ""))
QUIET = 0.3 * SCALE
TONE = "long-tone.wav"


def exit_time(switch: ChannelHistory) -> float:
    return next(t for t, c in switch.received if c.name == "exit")


def switch_time_of_transfer(switch: ChannelHistory) -> float:
    return next(run.started for run in switch.applications if run.name == "transfer")


def hangup_time(switch: ChannelHistory) -> float:
    return next(t for t, name in switch.events_fired if name == "CHANNEL_HANGUP")


@pytest.mark.parametrize("target", [PARK, (("set", "x=1"), ("answer", ""), ("socket", "127.0.0.1:8085 async full"))])
def test_a_target_that_parks_or_runs_socket_keeps_the_socket_until_the_call_ends(target: tuple[tuple[str, str], ...]) -> None:
    with ivrflow(release_quiet_time=QUIET) as it:
        switch, record = call(it, default_transfer_extension=target, caller_hangup=(40.0, "NORMAL_CLEARING"))
    assert record["outcome"] == "transfer"
    assert switch.transferred_to == "050"
    # The call stayed parked at its target until the caller hung up at 40 s...
    assert switch.hangup_cause == "NORMAL_CLEARING"
    assert hangup_time(switch) >= 39.9
    # ...and only then did ivrflow say exit.
    assert exit_time(switch) >= hangup_time(switch)


def test_a_target_that_parks_after_a_short_playback_survives_the_release() -> None:
    target = (("answer", ""), ("playback", TONE), ("park", ""))
    with ivrflow(release_quiet_time=QUIET) as it:
        switch, _ = call(
            it, default_transfer_extension=target, sounds={TONE: 2.0}, caller_hangup=(40.0, "NORMAL_UNSPECIFIED"), keep_after_close=30.0
        )
    tone = next(run for run in switch.applications if run.arg == TONE)
    park = next(run for run in switch.applications if run.name == "park" and run.started > tone.started)
    assert tone.started < exit_time(switch) < park.started  # let go while it played
    assert park.ended is not None and park.ended >= 39.9  # the park started after the teardown and held
    assert switch.hangup_cause == "NORMAL_UNSPECIFIED"  # the caller's, at 40 s


@pytest.mark.parametrize(
    ("target", "long_running"),
    [
        ((("answer", ""), ("playback", TONE), ("hangup", "CALL_REJECTED")), "playback"),
        ((("bridge", "user/2000"), ("hangup", "CALL_REJECTED")), "bridge"),
    ],
)
def test_a_target_that_plays_or_bridges_is_let_go_within_a_second_of_its_first_long_running_app(
    target: tuple[tuple[str, str], ...], long_running: str
) -> None:
    with ivrflow(release_quiet_time=QUIET) as it:
        switch, _ = call(
            it,
            default_transfer_extension=target,
            sounds={TONE: 10.0},
            default_bridge_outcome=BridgeOutcome(ring_seconds=1.0, talk_seconds=9.0),
            keep_after_close=15.0,
        )
    run = next(r for r in switch.applications if r.name == long_running and r.started > switch_time_of_transfer(switch))
    assert 0.3 <= exit_time(switch) - run.started < 1.0
    assert switch.received[-1][1].line.startswith("exit")
    assert switch.received[-2][1].line == f"api uuid_getvar {switch.unique_id} current_application"
    # The call went on without the socket, to the target's own end.
    assert run.ended is not None and run.ended - run.started >= 9.9
    assert switch.hangup_cause == "CALL_REJECTED"


def test_a_park_whose_events_are_late_is_caught_by_the_check_before_exit() -> None:
    """The park starts 0.1 s into the target, its events come 1 s late: only current_application shows it."""
    target = (("answer", ""), ("sleep", "100"), ("park", ""))
    with ivrflow(release_quiet_time=QUIET) as it:
        switch, _ = call(
            it,
            default_transfer_extension=target,
            caller_hangup=(40.0, "NORMAL_CLEARING"),
            faults=Faults(late_events_after=("sleep", 1.0)),
        )
    checks = [t for t, c in switch.received if c.line.startswith("api uuid_getvar")]
    assert checks, "the quiet time passed while the sleep seemed to run"
    assert b"Content-Type: api/response\nContent-Length: 4\n\npark" in switch.sent_bytes
    park = next(run for run in switch.applications if run.name == "park" and run.started > checks[0] - 1.0)
    assert park.started < checks[0]
    assert hangup_time(switch) >= 39.9 and exit_time(switch) >= hangup_time(switch)


def test_socket_resume_keeps_the_socket_until_the_call_ends() -> None:
    target = (("answer", ""), ("playback", TONE), ("hangup", "CALL_REJECTED"))
    with ivrflow(release_quiet_time=QUIET) as it:
        switch, _ = call(it, default_transfer_extension=target, sounds={TONE: 3.0}, variables={"socket_resume": "true"})
    assert not any(c.line.startswith("api uuid_getvar") for _, c in switch.received)
    assert exit_time(switch) >= hangup_time(switch)
    assert not switch.reset_by_teardown and switch.hangup_cause == "CALL_REJECTED"


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
