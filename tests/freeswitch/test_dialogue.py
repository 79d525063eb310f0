"""The ESL dialogue without sockets: bytes from the switch and Switch calls in, bytes and engine events out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ivrflow.calls.routing import Rejected
from ivrflow.calls.switch import UnsafeValue
from ivrflow.engine import (
    CallerHungUp,
    DestinationOutcome,
    DtmfReceived,
    Event,
    MessageRecorded,
    Play,
    PlaybackFinished,
    SwitchFailed,
    TransferFinished,
)
from ivrflow.calls.observer import QuietObserver
from ivrflow.freeswitch.dialogue import EslDialogue
from tests.switch_settings import switch_settings
from ivrflow.testing.fs_frames import (
    api_response_frame,
    channel_data_frame,
    disconnect_notice_frame,
    event_frame_head,
    plain_event_body,
    reply_frame,
)

UUID = "5e6c1a9e-7d1f-4b5c-9a9e-2f4b7c0d1e23"
SOUNDS = Path("/srv/sounds")
OK = reply_frame("+OK")


@dataclass
class Seen(QuietObserver):
    errors: list[str] = field(default_factory=list)
    timed: list[str] = field(default_factory=list)

    def command_timed(self, command: str, seconds: float) -> None:
        self.timed.append(command)

    def error(self, kind: str) -> None:
        self.errors.append(kind)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def event(name: str, *fields: tuple[str, str]) -> bytes:
    body = plain_event_body([("Event-Name", name), ("Unique-ID", UUID), *fields])
    return event_frame_head(body) + body


def complete(app_uuid: str, app: str = "playback", response: str = "FILE PLAYED", *extra: tuple[str, str]) -> bytes:
    return event(
        "CHANNEL_EXECUTE_COMPLETE",
        ("Application", app),
        ("Application-Response", response),
        ("Application-UUID", app_uuid),
        *extra,
    )


def connect_reply(mode: str = "async", control: str = "full") -> bytes:
    fields = [("Event-Name", "CHANNEL_DATA"), ("Unique-ID", UUID), ("Caller-Destination-Number", "071"), ("Caller-Context", "public")]
    return channel_data_frame(fields, socket_mode=mode, control=control)


def feed(dialogue: EslDialogue, data: bytes, at: float = 100.0) -> list[Event]:
    dialogue.receive_data(data, at)
    events = []
    while (found := dialogue.next_event()) is not None:
        events.append(found)
    return events


def connected(**settings: object) -> tuple[EslDialogue, Seen, Clock]:
    seen, clock = Seen(), Clock()
    dialogue = EslDialogue(switch_settings(SOUNDS, **settings), seen, clock)  # type: ignore[arg-type]
    dialogue.start()
    dialogue.data_to_send()
    assert feed(dialogue, connect_reply() + OK + OK + OK) == []
    return dialogue, seen, clock


def app_uuid(sent: bytes) -> str:
    [line] = [line for line in sent.split(b"\n") if line.startswith(b"Event-UUID: ")]
    return line.split(b": ", 1)[1].decode()


# --- the handshake --------------------------------------------------------------


def test_the_handshake_goes_in_one_write_and_its_replies_set_up_the_channel() -> None:
    seen, clock = Seen(), Clock()
    dialogue = EslDialogue(switch_settings(SOUNDS, linger_seconds=30), seen, clock)
    dialogue.start()
    sent = dialogue.data_to_send()
    assert sent.startswith(b"connect\n\nmyevents\n\nnixevent CHANNEL_EXECUTE CHANNEL_CREATE ")
    assert sent.endswith(b"\n\nlinger 30\n\n")
    assert dialogue.reply_deadline() == 105.0
    feed(dialogue, connect_reply() + OK + OK)
    assert dialogue.channel is None  # three replies of four
    feed(dialogue, OK)
    assert dialogue.channel is not None and dialogue.call_id == UUID
    assert dialogue.reply_deadline() is None


@pytest.mark.parametrize(
    ("replies", "reason", "message"),
    [
        (connect_reply("static", "full") + OK + OK + OK, "not_async_full", "socket HOST:PORT async full"),
        (connect_reply() + OK + reply_frame("-ERR not allowed") + OK, "handshake_failed", "nixevent refused"),
        (OK + OK + OK + OK, "handshake_failed", "connect answered"),
    ],
)
def test_a_socket_that_is_not_ours_is_rejected(replies: bytes, reason: str, message: str) -> None:
    dialogue = EslDialogue(switch_settings(SOUNDS), Seen(), Clock())
    dialogue.start()
    with pytest.raises(Rejected, match=message) as caught:
        feed(dialogue, replies)
    assert caught.value.reason == reason


def test_a_silent_switch_fails_the_handshake_at_its_deadline() -> None:
    clock = Clock()
    dialogue = EslDialogue(switch_settings(SOUNDS), Seen(), clock)
    dialogue.start()
    assert dialogue.check_deadlines(104.9) is None
    with pytest.raises(Rejected, match="handshake: no reply within 5.0 s"):
        dialogue.check_deadlines(105.0)


# --- applications -----------------------------------------------------------------


def test_a_playback_is_one_sendmsg_and_its_completion_one_event() -> None:
    dialogue, seen, _ = connected()
    dialogue.play(Play(1, "hello.wav", interruptible=True))
    sent = dialogue.data_to_send()
    uuid = app_uuid(sent)
    assert sent == (
        b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
        b"execute-app-arg: %[playback_terminators=any]/srv/sounds/hello.wav\n"
        b"Event-UUID: " + uuid.encode() + b"\n\n"
    )
    assert feed(dialogue, OK) == []
    assert feed(dialogue, complete(uuid), at=104.2) == [PlaybackFinished(104.2, 1, None)]
    assert seen.timed == ["playback"]


def test_a_channel_the_dialplan_already_answered_is_not_answered_again() -> None:
    seen, clock = Seen(), Clock()
    dialogue = EslDialogue(switch_settings(SOUNDS), seen, clock)
    dialogue.start()
    dialogue.data_to_send()
    fields = [("Event-Name", "CHANNEL_DATA"), ("Unique-ID", UUID), ("Answer-State", "answered")]
    feed(dialogue, channel_data_frame(fields, socket_mode="async", control="full") + OK + OK + OK)
    dialogue.answer()
    dialogue.play(Play(1, "hello.wav", interruptible=True))
    assert b"execute-app-name: playback" in dialogue.data_to_send()  # at once: no answer before it


def test_answer_and_the_first_prompt_go_in_one_write_and_their_replies_are_matched_in_order() -> None:
    dialogue, seen, _ = connected()
    dialogue.answer()
    dialogue.play(Play(1, "hello.wav", interruptible=True))
    answer, playback = dialogue.data_to_send().split(b"\n\n")[:2]
    # With event-lock the prompt, queued on the channel behind answer, runs after it and not inside it.
    assert answer.startswith(b"sendmsg\ncall-command: execute\nexecute-app-name: answer\n")
    assert answer.endswith(b"\nevent-lock: true")
    assert b"execute-app-name: playback" in playback and b"event-lock" not in playback
    feed(dialogue, OK + OK)
    assert seen.timed == ["answer", "playback"]
    assert feed(dialogue, complete(app_uuid(answer + b"\n"), "answer", "_none_")) == []
    assert feed(dialogue, complete(app_uuid(playback + b"\n"))) == [PlaybackFinished(100.0, 1, None)]


def test_applications_run_one_at_a_time() -> None:
    dialogue, _, _ = connected()
    dialogue.set_caller_id("number", "4951234567")
    first = dialogue.data_to_send()
    dialogue.play(Play(1, "hello.wav", interruptible=False))
    assert dialogue.data_to_send() == b""  # queued behind set
    feed(dialogue, OK)
    assert dialogue.data_to_send() == b""
    feed(dialogue, complete(app_uuid(first), "set", "_none_"))
    second = dialogue.data_to_send()
    assert b"execute-app-name: playback\nexecute-app-arg: %[playback_terminators=none]" in second


def break_app(sent: bytes) -> bool:
    """The `break all` application: queued on the channel, it ends the prompt even one not yet started."""
    return sent == b"sendmsg\ncall-command: execute\nexecute-app-name: break\nexecute-app-arg: all\nEvent-UUID: " + (
        app_uuid(sent).encode() + b"\n\n"
    )


def test_a_prompt_whose_completion_came_with_the_digit_gets_no_break() -> None:
    dialogue, _, _ = connected()
    dialogue.play(Play(1, "hello.wav", interruptible=True))
    uuid = app_uuid(dialogue.data_to_send())
    feed(dialogue, OK)
    # playback_terminators=any: the prompt dequeued the digit and ended; both events in one read.
    dialogue.receive_data(
        event("DTMF", ("DTMF-Digit", "2"))
        + complete(uuid, "playback", "FILE PLAYED", ("variable_playback_terminator_used", "2")),
        100.0,
    )
    assert dialogue.next_event() == DtmfReceived(100.0, "2")
    dialogue.stop_playback(1)  # the engine's barge-in
    assert dialogue.data_to_send() == b""
    assert dialogue.stop_already_done
    assert dialogue.next_event() == PlaybackFinished(100.0, 1, None)


def test_a_prompt_stopped_before_its_completion_came_gets_the_break_app_once() -> None:
    dialogue, _, _ = connected()
    dialogue.play(Play(1, "hello.wav", interruptible=True))
    uuid = app_uuid(dialogue.data_to_send())
    # The digit alone: the park loop may have dequeued it before the prompt started.
    feed(dialogue, OK + event("DTMF", ("DTMF-Digit", "2")))
    dialogue.stop_playback(1)
    sent = dialogue.data_to_send()
    assert break_app(sent) and app_uuid(sent) != uuid
    assert not dialogue.stop_already_done
    dialogue.stop_playback(1)
    assert dialogue.data_to_send() == b""  # one break is enough
    # The break's reply and completion are nobody's; the prompt's completion ends it.
    assert feed(dialogue, OK + complete(app_uuid(sent), "break", "_none_") + complete(uuid)) == [
        PlaybackFinished(100.0, 1, None)
    ]


def test_a_foreground_prompt_is_stopped_with_the_break_app_too() -> None:
    dialogue, _, _ = connected()
    dialogue.play(Play(1, "advertising.wav", interruptible=False))
    dialogue.data_to_send()
    feed(dialogue, OK)
    dialogue.stop_playback(1)  # e.g. the lifetime ran out
    assert break_app(dialogue.data_to_send())


def test_a_digit_is_an_event_and_a_bad_digit_is_counted_not_passed_on() -> None:
    dialogue, seen, _ = connected()
    events = feed(dialogue, event("DTMF", ("DTMF-Digit", "5")) + event("DTMF", ("DTMF-Digit", "x")), at=101.5)
    assert events == [DtmfReceived(101.5, "5")]
    assert seen.errors == ["bad_dtmf"]


def test_a_stopped_prompt_that_was_only_queued_is_never_sent() -> None:
    dialogue, _, _ = connected()
    dialogue.set_caller_id("number", "4951234567")
    first = app_uuid(dialogue.data_to_send())
    dialogue.play(Play(1, "hello.wav", interruptible=True))
    dialogue.stop_playback(1)
    feed(dialogue, OK + complete(first, "set", "_none_"))
    assert dialogue.data_to_send() == b""


def test_a_refused_application_fails_the_call() -> None:
    dialogue, seen, _ = connected()
    dialogue.play(Play(1, "hello.wav", interruptible=True))
    dialogue.data_to_send()
    [failed] = feed(dialogue, reply_frame("-ERR no such app"))
    assert isinstance(failed, SwitchFailed) and "playback refused" in failed.reason
    assert seen.errors == ["switch_refused"]


def test_an_unanswered_command_fails_at_its_deadline_and_its_late_reply_is_dropped() -> None:
    dialogue, seen, clock = connected()
    dialogue.answer()
    dialogue.data_to_send()
    assert dialogue.reply_deadline() == 105.0
    failed = dialogue.check_deadlines(105.0)
    assert isinstance(failed, SwitchFailed) and "no reply within" in failed.reason
    assert seen.errors == ["command_timeout"]
    dialogue.set_variable("lang", "en")
    sent = dialogue.data_to_send()
    assert b"execute-app-name: export" in sent
    feed(dialogue, OK + OK)  # the late reply, then the export's
    assert dialogue.reply_deadline() is None


def test_a_completion_for_an_application_never_sent_is_ignored() -> None:
    dialogue, _, _ = connected()
    dialogue.play(Play(1, "hello.wav", interruptible=True))
    uuid = app_uuid(dialogue.data_to_send())
    foreign = complete("0f0f0f0f-0000-4000-8000-000000000000") + complete(uuid, "bridge")
    assert feed(dialogue, OK + foreign) == [PlaybackFinished(100.0, 1, None)]


def test_a_variable_the_switch_acts_on_is_refused_unless_the_operator_allows_it() -> None:
    dialogue, _, _ = connected()
    with pytest.raises(UnsafeValue, match="api_hangup_hook"):
        dialogue.set_variable("api_hangup_hook", "system touch /tmp/x")
    assert dialogue.data_to_send() == b""
    allowed, _, _ = connected(allowed_variables=frozenset({"api_hangup_hook"}))
    allowed.set_variable("api_hangup_hook", "lua notify.lua")
    assert b"execute-app-arg: api_hangup_hook=lua notify.lua" in allowed.data_to_send()


def test_an_unsafe_value_never_reaches_the_wire() -> None:
    dialogue, _, _ = connected()
    with pytest.raises(UnsafeValue):
        dialogue.set_variable("x\nEvent-Name: FORGED", "1")
    with pytest.raises(UnsafeValue):
        dialogue.play(Play(2, "../../etc/passwd", interruptible=True))
    assert dialogue.data_to_send() == b""


# --- transfers ------------------------------------------------------------------


def test_a_transfer_goes_to_the_callers_context_and_holds_the_socket() -> None:
    dialogue, _, _ = connected()
    dialogue.transfer(("002",), "transfer")
    sent = dialogue.data_to_send()
    assert b"execute-app-name: transfer\nexecute-app-arg: 002 XML public\n" in sent
    assert feed(dialogue, OK + OK + complete(app_uuid(sent), "transfer", "+OK")) == [TransferFinished(100.0, True)]
    assert dialogue.transferred and not dialogue.released
    feed(dialogue, event("CHANNEL_EXECUTE_COMPLETE", ("Application", "socket"), ("Application-UUID", "x")))
    assert not dialogue.released  # held until the target is seen safe (test_dialogue_release)
    feed(dialogue, event("CHANNEL_HANGUP_COMPLETE"))
    assert dialogue.released


def test_exit_after_transfer_releases_when_the_channel_leaves_the_socket() -> None:
    dialogue, _, _ = connected(exit_after_transfer=True)
    feed(dialogue, event("CHANNEL_EXECUTE_COMPLETE", ("Application", "socket"), ("Application-UUID", "x")))
    assert dialogue.released


def leg_uuids(bridge: bytes) -> list[str]:
    [arg] = [line for line in bridge.split(b"\n") if line.startswith(b"execute-app-arg: ")]
    return re.findall(r"\[origination_uuid=([0-9a-f-]+)\]", arg.decode())


def ring(destinations: tuple[str, ...], ring_timeout: int | None = None) -> tuple[EslDialogue, bytes]:
    dialogue, _, _ = connected()
    dialogue.transfer(destinations, "transfer", ring_timeout)
    sets = []
    for _ in range(2):
        sent = dialogue.data_to_send()
        sets.append(sent)
        feed(dialogue, OK + complete(app_uuid(sent), "set", "+OK"))
    assert b"execute-app-arg: continue_on_fail=true" in sets[0]
    assert b"execute-app-arg: hangup_after_bridge=false" in sets[1]
    return dialogue, dialogue.data_to_send()


def test_ringing_several_destinations_is_one_bridge_and_an_answered_bridge_hangs_up_after() -> None:
    dialogue, bridge = ring(("101", "102"))
    first, second = leg_uuids(bridge)
    assert f"execute-app-arg: [origination_uuid={first}]user/101,[origination_uuid={second}]user/102\n".encode() in bridge
    # As FreeSWITCH 1.10 gives it: a user/ leg's own originate pushes an entry too, the loser is LOSE_RACE.
    causes = f"ARRAY::{first};NONE|:{second};LOSE_RACE|:{first};NONE"
    done = complete(app_uuid(bridge), "bridge", "+OK", ("variable_originate_disposition", "SUCCESS"), ("variable_originate_causes", causes))
    outcomes = (DestinationOutcome("101", "answered"), DestinationOutcome("102", "no_answer", "LOSE_RACE"))
    assert feed(dialogue, OK + done) == [TransferFinished(100.0, True, "SUCCESS", outcomes)]
    assert dialogue.data_to_send() == b"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n"


def test_an_unanswered_bridge_is_a_failed_transfer_with_each_legs_cause() -> None:
    dialogue, bridge = ring(("101", "102", "103"), ring_timeout=20)
    assert b"execute-app-arg: {originate_timeout=20}[origination_uuid=" in bridge
    first, second, _ = leg_uuids(bridge)
    # Entries of an earlier bridge of the call stay; the third leg got no channel at all.
    causes = f"ARRAY::0000-old;NO_ANSWER|:{first};NO_ANSWER|:{second};USER_BUSY"
    done = complete(app_uuid(bridge), "bridge", "+OK", ("variable_originate_disposition", "NO_ANSWER"), ("variable_originate_causes", causes))
    outcomes = (
        DestinationOutcome("101", "no_answer", "NO_ANSWER"),
        DestinationOutcome("102", "busy", "USER_BUSY"),
        DestinationOutcome("103", "failed", ""),
    )
    assert feed(dialogue, OK + done) == [TransferFinished(100.0, False, "NO_ANSWER", outcomes)]


def test_a_single_legs_cause_is_a_plain_value_and_a_leg_never_made_has_the_bridges_cause() -> None:
    dialogue, bridge = ring(("101",), ring_timeout=5)
    (leg,) = leg_uuids(bridge)
    done = complete(app_uuid(bridge), "bridge", "+OK", ("variable_originate_disposition", "CALL_REJECTED"), ("variable_originate_causes", f"{leg};CALL_REJECTED"))
    assert feed(dialogue, OK + done)[0].destinations == (DestinationOutcome("101", "failed", "CALL_REJECTED"),)  # type: ignore[union-attr]
    dialogue, bridge = ring(("101",), ring_timeout=5)
    done = complete(app_uuid(bridge), "bridge", "+OK", ("variable_originate_disposition", "USER_NOT_REGISTERED"))
    assert feed(dialogue, OK + done)[0].destinations == (DestinationOutcome("101", "failed", "USER_NOT_REGISTERED"),)  # type: ignore[union-attr]


def test_a_recording_is_the_record_app_and_its_record_ms_comes_back_also_after_a_hangup() -> None:
    dialogue, _, _ = connected()
    dialogue.record_message(7, Path("/spool/incoming/m1.wav"), 120, 200, 5)
    sent = dialogue.data_to_send()
    assert b"execute-app-name: record\nexecute-app-arg: %[playback_terminators=#]/spool/incoming/m1.wav 120 200 5\n" in sent
    hangup = event("CHANNEL_HANGUP", ("Hangup-Cause", "NORMAL_CLEARING"))
    done = complete(app_uuid(sent), "record", "_none_", ("variable_record_ms", "12480"))
    assert feed(dialogue, OK + hangup + done) == [CallerHungUp(100.0, "NORMAL_CLEARING"), MessageRecorded(100.0, 7, 12.48)]


def test_a_record_that_wrote_nothing_is_reported_as_such() -> None:
    dialogue, _, _ = connected()
    dialogue.record_message(1, Path("/spool/incoming/m1.wav"), 120, 200, 5)
    done = complete(app_uuid(dialogue.data_to_send()), "record", "_none_")
    (recorded,) = feed(dialogue, OK + done)
    assert isinstance(recorded, MessageRecorded) and recorded.error is not None and "recorded nothing" in recorded.error


def test_a_recording_path_the_record_app_would_split_is_refused() -> None:
    dialogue, _, _ = connected()
    with pytest.raises(UnsafeValue):
        dialogue.record_message(1, Path("/spool/in coming/m1.wav"), 120, 200, 5)


# --- hangups ----------------------------------------------------------------------


def test_a_hangup_during_a_command_ends_the_call_once_and_sends_nothing_more() -> None:
    dialogue, _, _ = connected()
    dialogue.play(Play(1, "hello.wav", interruptible=True))
    uuid = app_uuid(dialogue.data_to_send())
    hangup = event("CHANNEL_HANGUP", ("Hangup-Cause", "NORMAL_CLEARING"))
    events = feed(dialogue, hangup + OK + hangup, at=102.0)
    assert events == [CallerHungUp(102.0, "NORMAL_CLEARING")]
    # The engine's reaction to a hangup: stop the prompt, hang up. Neither goes out now.
    dialogue.stop_playback(1)
    dialogue.hang_up("NORMAL_CLEARING")
    dialogue.answer()
    assert dialogue.data_to_send() == b""
    # FILE PLAYED or not, a prompt cut by the hangup is no playback error.
    assert feed(dialogue, complete(uuid, response="PLAYBACK ERROR")) == [PlaybackFinished(100.0, 1, None)]


def test_our_own_hangup_is_sent_once_and_the_switchs_hangup_event_is_not_a_caller_hangup() -> None:
    dialogue, _, _ = connected()
    dialogue.hang_up("NORMAL_CLEARING")
    dialogue.hang_up("NORMAL_CLEARING")
    assert dialogue.data_to_send() == b"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n"
    assert feed(dialogue, OK + event("CHANNEL_HANGUP", ("Hangup-Cause", "NORMAL_CLEARING"))) == []


def test_the_linger_notice_is_a_hangup_and_the_final_notice_ends_the_dialogue() -> None:
    dialogue, _, _ = connected()
    assert feed(dialogue, disconnect_notice_frame(UUID, linger_time=30)) == [CallerHungUp(100.0, "disconnect notice")]
    assert dialogue.released and not dialogue.done
    feed(dialogue, disconnect_notice_frame(UUID))
    assert dialogue.done


def test_a_malformed_frame_is_counted_and_the_next_one_still_read() -> None:
    dialogue, seen, _ = connected()
    assert feed(dialogue, b"no colon here\n\n" + event("DTMF", ("DTMF-Digit", "7"))) == [DtmfReceived(100.0, "7")]
    assert seen.errors == ["malformed_frame"]


def test_exit_is_acknowledged_by_its_reply() -> None:
    dialogue, _, _ = connected()
    dialogue.exit()
    dialogue.exit()
    assert dialogue.data_to_send() == b"exit\n\n"
    assert not dialogue.exit_acknowledged
    feed(dialogue, reply_frame("+OK bye"))
    assert dialogue.exit_acknowledged
