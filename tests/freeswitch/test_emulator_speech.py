"""The emulator's speech: detect_speech, DETECTED_SPEECH as switch_ivr_async.c fires it, speak."""

from __future__ import annotations

import pytest

from ivrflow.freeswitch import EslEvent
from ivrflow.freeswitch import builders as c
from ivrflow.freeswitch.speech_result import transcription
from ivrflow.testing import CallScript

from .test_emulator import SCALE, App, serve

LONG = "/s/long.wav"  # 100 s of call time: 1 s of wall time


def speech_events(app: App) -> list[tuple[str, str | None]]:
    return [(e.get("Speech-Type") or "", e.body) for e in app.events("DETECTED_SPEECH")]


def listen(app: App, fire: bool) -> None:
    app.handshake()
    if fire:
        app.execute("set", "fire_asr_events=true")
    app.execute("detect_speech", c.detect_speech_arg("unimrcp:asr", "builtin:speech/transcribe", "ivrflow"))


@pytest.mark.parametrize(("fire", "copies"), [(False, 0), (True, 1)])
def test_during_a_playback_a_result_reaches_the_socket_only_with_fire_asr_events(fire: bool, copies: int) -> None:
    script = CallScript(time_scale=SCALE, sounds={LONG: 100.0}, speech=[(20.0, "pay <my> bill")])

    def logic(app: App) -> None:
        listen(app, fire)
        app.execute("playback", LONG)  # the playback's input callback eats the queued copy
        app.finish()

    record, app = serve(logic, script)
    assert record.speech == [(pytest.approx(20.0, abs=5.0), "pay <my> bill")]
    got = speech_events(app)
    assert [kind for kind, _ in got] == ["begin-speaking", "detected-speech"] * copies
    if copies:
        assert got[0][1] is None and transcription(got[1][1] or "") == "pay <my> bill"


def test_a_parked_channel_with_fire_asr_events_sends_each_result_twice() -> None:
    script = CallScript(time_scale=SCALE, speech=[(20.0, "оператор")])

    def logic(app: App) -> None:
        listen(app, fire=True)
        for _ in range(2):
            app.until(lambda f: isinstance(f, EslEvent) and f.get("Speech-Type") == "detected-speech")
        app.execute("detect_speech", "stop")
        app.finish()

    _, app = serve(logic, script)
    assert [kind for kind, _ in speech_events(app)].count("detected-speech") == 2


def test_without_a_running_recognizer_words_are_not_heard() -> None:
    script = CallScript(time_scale=SCALE, sounds={LONG: 100.0}, speech=[(20.0, "hello")])

    def logic(app: App) -> None:
        app.handshake()
        app.execute("set", "fire_asr_events=true")
        app.execute("playback", LONG)
        app.finish()

    record, app = serve(logic, script)
    assert record.speech == [] and speech_events(app) == []


def test_speak_is_a_prompt_that_a_terminator_stops() -> None:
    script = CallScript(time_scale=SCALE, keys=[(1.0, "5")])

    def logic(app: App) -> None:
        app.handshake()
        done = app.execute("speak", "%[playback_terminators=any]" + c.speak_arg("flite", "kal", "x" * 400))
        assert done.get("Application") == "speak"
        app.finish()

    record, _ = serve(logic, script)
    [run] = [r for r in record.applications if r.name == "speak"]
    assert run.ended is not None and run.ended - run.started < 10.0  # 48 s of text, stopped by the key at 1 s
