"""After a transfer, the dialogue lets the socket go once the target is safe without it, and not before."""

from __future__ import annotations

import pytest

from ivrflow.freeswitch.dialogue import EslDialogue
from ivrflow.testing.fs_frames import api_response_frame, reply_frame

from .test_dialogue import OK, UUID, Clock, app_uuid, complete, connected, event, feed

CHECK = f"api uuid_getvar {UUID} current_application\n\n".encode()


def execute(app_uuid: str, app: str = "playback") -> bytes:
    """A target's application starting (subscribed again after the transfer)."""
    return event("CHANNEL_EXECUTE", ("Application", app), ("Application-UUID", app_uuid))


def transferred(**settings: object) -> tuple[EslDialogue, Clock]:
    """A call whose transfer completed at 100.0; its socket app has ended."""
    dialogue, _, clock = connected(release_quiet_time=0.3, **settings)
    dialogue.transfer(("050",), "transfer")
    sent = dialogue.data_to_send()
    feed(dialogue, OK + OK + complete(app_uuid(sent), "transfer", "+OK"))
    feed(dialogue, event("CHANNEL_UNPARK") + complete("socket-app", "socket", "_none_"))
    assert dialogue.transferred and not dialogue.released
    return dialogue, clock


def lands_on(dialogue: EslDialogue, app: str, at: float) -> None:
    """The target answers and starts `app` at `at`."""
    feed(dialogue, execute("t-answer", "answer") + complete("t-answer", "answer", "_none_"), at - 0.05)
    feed(dialogue, execute("t-1", app), at)


def check_at(dialogue: EslDialogue, clock: Clock, now: float) -> bytes:
    clock.now = now
    dialogue.check_release(now)
    return dialogue.data_to_send()


def test_the_transfer_goes_out_with_the_park_events_subscribed_before_it() -> None:
    dialogue, _, _ = connected()
    dialogue.transfer(("050",), "transfer")
    sent = dialogue.data_to_send()
    assert sent.startswith(b"event plain CHANNEL_EXECUTE CHANNEL_PARK CHANNEL_UNPARK\n\nsendmsg\n")
    at_once, _, _ = connected(exit_after_transfer=True)
    at_once.transfer(("050",), "transfer")
    assert at_once.data_to_send().startswith(b"sendmsg\n")  # nothing to watch: released at once


def test_a_target_running_another_app_is_let_go_after_the_quiet_time_and_the_check() -> None:
    dialogue, clock = transferred()
    lands_on(dialogue, "playback", 101.0)
    assert dialogue.release_deadline() == pytest.approx(101.3)
    assert check_at(dialogue, clock, 101.29) == b""
    assert check_at(dialogue, clock, 101.3) == CHECK
    assert not dialogue.released and dialogue.release_deadline() is None  # one check at a time
    feed(dialogue, api_response_frame("playback"), 101.31)
    assert dialogue.released


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        (event("CHANNEL_PARK"), "the channel is parked"),
        (execute("t-2", "socket"), "the target runs socket"),
        (execute("t-2", "park"), "the target runs park"),
        (complete("t-1", "playback"), "the target runs no application yet"),
        (event("DTMF", ("DTMF-Digit", "1"), ("variable_socket_resume", "true")), "socket_resume is set (a teardown resets the channel)"),
        (complete("t-1", "playback") + execute("t-2", "playback"), None),
    ],
)
def test_what_holds_the_socket_whatever_the_quiet_time(events: bytes, reason: str | None) -> None:
    dialogue, _ = transferred()
    lands_on(dialogue, "playback", 101.0)
    feed(dialogue, events, 101.1)
    assert dialogue.hold_reason() == reason
    assert (dialogue.release_deadline() is None) == (reason is not None)


def test_socket_resume_holds_the_socket_until_the_call_ends() -> None:
    dialogue, _ = transferred()
    feed(dialogue, event("CHANNEL_EXECUTE", ("Application", "playback"), ("Application-UUID", "t-1"), ("variable_socket_resume", "true")))
    assert dialogue.hold_reason() == "socket_resume is set (a teardown resets the channel)"
    feed(dialogue, event("CHANNEL_HANGUP_COMPLETE"))
    assert dialogue.released


def test_a_check_that_names_park_holds_until_the_channel_moves_on() -> None:
    dialogue, clock = transferred()
    lands_on(dialogue, "playback", 101.0)
    assert check_at(dialogue, clock, 101.3) == CHECK
    feed(dialogue, api_response_frame("park"), 101.31)  # its events are still on their way
    assert not dialogue.released and dialogue.release_deadline() is None
    feed(dialogue, complete("t-1") + execute("t-2", "park") + event("CHANNEL_PARK"), 101.32)
    assert dialogue.hold_reason() == "the channel is parked"
    # Picked up from the park into a bridge: safe again, once quiet.
    feed(dialogue, event("CHANNEL_UNPARK") + complete("t-2", "park", "_none_") + execute("t-3", "bridge"), 130.0)
    assert dialogue.release_deadline() == pytest.approx(130.3)


def test_anything_that_happens_while_the_check_is_out_is_looked_at_afresh() -> None:
    dialogue, clock = transferred()
    lands_on(dialogue, "playback", 101.0)
    assert check_at(dialogue, clock, 101.3) == CHECK
    feed(dialogue, complete("t-1") + execute("t-2", "playback"), 101.31)
    feed(dialogue, api_response_frame("playback"), 101.32)
    assert not dialogue.released
    assert dialogue.release_deadline() == pytest.approx(101.61)


def test_an_event_read_after_the_checks_answer_but_before_the_exit_takes_the_release_back() -> None:
    dialogue, clock = transferred()
    lands_on(dialogue, "playback", 101.0)
    assert check_at(dialogue, clock, 101.3) == CHECK
    feed(dialogue, api_response_frame("playback") + complete("t-1") + execute("t-2", "park"), 101.31)
    assert not dialogue.released and dialogue.hold_reason() == "the target runs park"


def test_a_check_without_a_usable_answer_is_asked_again_after_the_quiet_time() -> None:
    dialogue, clock = transferred()
    lands_on(dialogue, "playback", 101.0)
    assert check_at(dialogue, clock, 101.3) == CHECK
    feed(dialogue, api_response_frame("-ERR No such channel!\n"), 101.31)
    assert not dialogue.released and dialogue.release_deadline() == pytest.approx(101.6)
    assert check_at(dialogue, clock, 101.6) == CHECK
    clock.now = 106.6
    dialogue.check_deadlines(106.6)  # no answer within the command timeout
    assert not dialogue.released and dialogue.release_deadline() == pytest.approx(106.9)


def test_a_refused_subscription_holds_the_socket_until_the_call_ends() -> None:
    dialogue, _, _ = connected(release_quiet_time=0.3)
    dialogue.transfer(("050",), "transfer")
    sent = dialogue.data_to_send()
    feed(dialogue, reply_frame("-ERR no keywords supplied") + OK + complete(app_uuid(sent), "transfer", "+OK"))
    lands_on(dialogue, "playback", 101.0)
    assert dialogue.hold_reason() == "the park events could not be subscribed"
    assert dialogue.release_deadline() is None
    feed(dialogue, event("CHANNEL_HANGUP_COMPLETE"))
    assert dialogue.released
