"""voice_helper and TTS on the Event Socket: detect_speech, DETECTED_SPEECH as FreeSWITCH sends it, speak."""

from __future__ import annotations

import pytest

from ivrflow.calls.switch import UnsafeValue
from ivrflow.engine import PlaybackFinished, Speak, SpeechDetected, StartSpeech
from ivrflow.freeswitch.speech_result import transcription
from ivrflow.testing.fs_frames import event_frame_head, plain_event_body

from ivrflow.freeswitch.dialogue import EslDialogue

from .test_dialogue import UUID, Seen, app_uuid, complete, connected, feed

NLSML = (
    '<?xml version="1.0"?>\n<result xmlns="http://www.ietf.org/xml/ns/mrcpv2" grammar="ivrflow">'
    '<interpretation grammar="ivrflow" confidence="0.87"><instance/>'
    '<input mode="speech">Хочу  оплатить\n счёт</input></interpretation></result>'
)
LISTEN = StartSpeech(7, "unimrcp:asr", "builtin:speech/transcribe")


def speech(speech_type: str, body: str | None = None) -> bytes:
    fields = [("Event-Name", "DETECTED_SPEECH"), ("Unique-ID", UUID), ("Speech-Type", speech_type)]
    framed = plain_event_body(fields, body)
    return event_frame_head(framed) + framed


def apps(sent: bytes) -> list[str]:
    """`name arg` of each application a write executes."""
    found = []
    for message in sent.split(b"\n\n"):
        headers = dict(line.split(": ", 1) for line in message.decode().split("\n") if ": " in line)
        if "execute-app-name" in headers:
            found.append(f"{headers['execute-app-name']} {headers.get('execute-app-arg', '')}".strip())
    return found


def listening() -> tuple[EslDialogue, Seen, bytes]:
    """A dialogue whose detect_speech has run; returns it with the observer."""
    dialogue, seen, _ = connected()
    dialogue.start_speech(LISTEN)
    sent = dialogue.data_to_send()
    assert sent.startswith(b"event plain DETECTED_SPEECH\n\n")
    assert apps(sent) == ["set fire_asr_events=true"]
    feed(dialogue, b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
    feed(dialogue, b"Content-Type: command/reply\nReply-Text: +OK\n\n" + complete(app_uuid(sent), "set", "_none_"))
    sent = dialogue.data_to_send()
    assert apps(sent) == ["detect_speech unimrcp:asr builtin:speech/transcribe ivrflow"]
    return dialogue, seen, sent


def test_a_result_before_detect_speech_ran_is_not_this_listens() -> None:
    dialogue, _, _ = connected()
    dialogue.start_speech(LISTEN)
    assert feed(dialogue, speech("detected-speech", NLSML)) == []


def test_the_first_final_result_after_detect_speech_is_the_transcription_and_its_copy_is_dropped() -> None:
    dialogue, _, sent = listening()
    feed(dialogue, b"Content-Type: command/reply\nReply-Text: +OK\n\n" + complete(app_uuid(sent), "detect_speech", "_none_"))
    assert feed(dialogue, speech("begin-speaking")) == []
    assert feed(dialogue, speech("detected-partial-speech", NLSML)) == []
    assert feed(dialogue, speech("detected-speech", NLSML), at=101.0) == [SpeechDetected(101.0, 7, "Хочу оплатить счёт")]
    # With fire_asr_events the park loop fires the queued copy as well.
    assert feed(dialogue, speech("detected-speech", NLSML)) == []


def test_a_result_that_is_not_nlsml_counts_as_nothing_understood() -> None:
    dialogue, seen, sent = listening()
    feed(dialogue, b"Content-Type: command/reply\nReply-Text: +OK\n\n" + complete(app_uuid(sent), "detect_speech", "_none_"))
    assert feed(dialogue, speech("detected-speech", '{"text": "bill"}')) == [SpeechDetected(100.0, 7, "")]
    assert seen.errors == ["bad_speech_result"]


def test_stopping_sends_detect_speech_stop_and_nixes_the_event() -> None:
    dialogue, _, sent = listening()
    feed(dialogue, b"Content-Type: command/reply\nReply-Text: +OK\n\n" + complete(app_uuid(sent), "detect_speech", "_none_"))
    dialogue.stop_speech(7)
    sent = dialogue.data_to_send()
    assert apps(sent) == ["detect_speech stop"]
    assert b"nixevent DETECTED_SPEECH\n\n" in sent
    assert feed(dialogue, speech("detected-speech", NLSML)) == []


def test_stopping_before_detect_speech_was_sent_sends_no_stop() -> None:
    dialogue, _, _ = connected()
    dialogue.start_speech(LISTEN)
    dialogue.data_to_send()  # the set is in flight, detect_speech queued behind it
    dialogue.stop_speech(7)
    sent = dialogue.data_to_send()
    assert apps(sent) == [] and b"nixevent DETECTED_SPEECH" in sent


@pytest.mark.parametrize(
    "listen",
    [StartSpeech(1, "stop", "g"), StartSpeech(1, "a b", "g"), StartSpeech(1, "e", "${api(system x)}"), StartSpeech(1, "e", "a\nb")],
)
def test_unsafe_speech_settings_never_reach_the_wire(listen: StartSpeech) -> None:
    dialogue, _, _ = connected()
    with pytest.raises(UnsafeValue):
        dialogue.start_speech(listen)
    assert dialogue.data_to_send() == b""


def test_speak_is_a_prompt_with_engine_voice_and_text() -> None:
    dialogue, _, _ = connected()
    dialogue.speak(Speak(3, "flite", "kal", "Balance: 100 | thanks"))
    sent = dialogue.data_to_send()
    assert apps(sent) == ["speak %[playback_terminators=any]flite|kal|Balance: 100 | thanks"]
    events = feed(dialogue, b"Content-Type: command/reply\nReply-Text: +OK\n\n" + complete(app_uuid(sent), "speak", "_none_"))
    assert events == [PlaybackFinished(100.0, 3, None)]


@pytest.mark.parametrize("text", ["a ${x}", "line\nbreak", "x" * 4001])
def test_unsafe_speak_text_never_reaches_the_wire(text: str) -> None:
    dialogue, _, _ = connected()
    with pytest.raises(UnsafeValue):
        dialogue.speak(Speak(3, "flite", "kal", text))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (NLSML, "Хочу оплатить счёт"),
        ("<result><interpretation><input><nomatch/></input></interpretation></result>", ""),
        ("<result/>", ""),
        ("not xml", None),
        ("<other><input>x</input></other>", None),
        ('<!DOCTYPE r [<!ENTITY e "x">]><result><interpretation><input>&e;</input></interpretation></result>', None),
    ],
)
def test_nlsml_results(body: str, words: str | None) -> None:
    assert transcription(body) == words
