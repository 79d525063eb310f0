"""Voicemail in the engine: a transfer nobody answers, on an ivr with vm_enabled, records a message."""

from __future__ import annotations

from ivrflow.engine import CallOptions, MessageRecorded, RecordMessage, ShutdownRequested, TimerKind, VoicemailOptions

from .helpers import Driver, commands, one_context, transfer

VM = CallOptions(voicemail=VoicemailOptions(max_seconds=60, silence_threshold=200, silence_seconds=4, beep="beep.wav"))
IVR = {"vm_enabled": True, "vm_greeting": 4}


def unanswered(options: CallOptions = VM, **ivr: object) -> Driver:
    d = Driver(one_context({"start": [transfer("300,301")]}, ivr={**IVR, **ivr}), options)
    d.start()
    return d


def recording_after_greeting(d: Driver) -> RecordMessage:
    assert commands(d.played()) == [("play", "beep.wav", "fg")]
    out = d.played()
    (record,) = [o for o in out if isinstance(o, RecordMessage)]
    return record


def recording_after_greeting_of(d: Driver) -> RecordMessage:
    d.transfer_result(ok=False, cause="USER_BUSY")
    return recording_after_greeting(d)


def test_nobody_answers_the_greeting_and_beep_play_then_the_message_is_recorded_and_kept() -> None:
    d = unanswered()
    out = d.transfer_result(ok=False, cause="NO_ANSWER")
    assert commands(out) == [("play", "other.wav", "fg")]  # vm_greeting: sound 4
    assert d.press("1#") == []  # digits before the recording are discarded
    record = recording_after_greeting(d)
    out = d.at(30.0).feed(MessageRecorded(30.0, record.job, 12.5))
    assert commands(out) == [("keep_message", 12.5), ("cancel", "voicemail"), ("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]
    assert d.record.voicemail_s == 12.5 and d.record.reason == "voicemail recorded (12.5 s)"


def test_the_caller_hanging_up_while_recording_still_keeps_the_message() -> None:
    d = unanswered()
    record = recording_after_greeting_of(d)
    assert commands(d.hang_up()) == []  # the switch still reports the recording's end
    out = d.feed(MessageRecorded(d.now, record.job, 8.0))
    assert commands(out) == [("keep_message", 8.0), ("cancel", "voicemail"), ("finished", "caller_hangup")]
    assert d.record.outcome == "caller_hangup" and d.record.voicemail_s == 8.0


def test_a_shutdown_while_recording_hangs_up_and_keeps_what_was_said() -> None:
    d = unanswered()
    record = recording_after_greeting_of(d)
    assert commands(d.feed(ShutdownRequested(d.now, "drain"))) == [("hangup", "NORMAL_CLEARING")]
    out = d.feed(MessageRecorded(d.now, record.job, 3.0))
    assert commands(out)[0] == ("keep_message", 3.0) and d.record.outcome == "hangup"
    assert d.record.reason.startswith("ivrflow stopping: drain")


def test_a_recording_the_switch_could_not_make_is_an_error_and_nothing_is_kept() -> None:
    d = unanswered()
    record = recording_after_greeting_of(d)
    out = d.feed(MessageRecorded(d.now, record.job, error="no record_ms"))
    assert ("keep_message", 0.0) not in commands(out) and d.record.outcome == "error"
    assert d.record.voicemail_s is None and any("no record_ms" in e for e in d.record.errors)


def test_no_end_reported_ends_the_call_at_the_backstop() -> None:
    d = unanswered()
    recording_after_greeting_of(d)
    out = d.fire(TimerKind.VOICEMAIL)
    assert commands(out)[-2:] == [("hangup", "NORMAL_CLEARING"), ("finished", "error")]


def test_without_a_greeting_or_beep_recording_starts_at_once() -> None:
    d = unanswered(CallOptions(voicemail=VoicemailOptions()), vm_greeting=0)
    out = d.transfer_result(ok=False, cause="NO_ANSWER")
    assert commands(out)[0] == ("record_message", 120, 200, 5)


def test_without_vm_enabled_or_without_a_spool_an_unanswered_transfer_hangs_up() -> None:
    for d in (unanswered(vm_enabled=False), unanswered(CallOptions())):
        out = d.transfer_result(ok=False, cause="NO_ANSWER")
        assert commands(out)[-2:] == [("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]
    assert any("no voicemail spool" in n for n in d.record.notices)


def test_a_one_destination_transfer_of_a_vm_ivr_rings_as_a_bridge_so_no_answer_reaches_voicemail() -> None:
    d = Driver(one_context({"start": [transfer("300")]}, ivr=IVR), VM)
    assert commands(d.start())[-1] == ("transfer", "300", "ring 30 s")
    out = d.transfer_result(ok=False, cause="NO_ANSWER")
    assert commands(out) == [("play", "other.wav", "fg")]  # the greeting, not the menu


def test_an_answered_bridge_of_a_vm_ivr_is_a_transfer_and_the_ring_time_is_the_runtimes() -> None:
    d = Driver(one_context({"start": [transfer("300")]}, ivr=IVR), CallOptions(voicemail=VoicemailOptions(ring_seconds=12)))
    assert commands(d.start())[-1] == ("transfer", "300", "ring 12 s")
    d.transfer_result(ok=True)
    assert d.record.outcome == "transfer"


def test_without_voicemail_a_one_destination_transfer_leaves_through_the_dialplan() -> None:
    for ivr, options in (({"vm_enabled": False}, VM), (IVR, CallOptions())):
        d = Driver(one_context({"start": [transfer("300")]}, ivr=ivr), options)
        assert commands(d.start())[-1] == ("transfer", "300")
