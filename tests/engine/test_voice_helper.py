"""voice_helper: listening while the sound plays; a transcription, keys or the timeout choose the option. And TTS."""

from __future__ import annotations

from typing import Any

import pytest

from ivrflow.engine import CallOptions, SpeechDetected, SpeechRecognition, SpeechSynthesis, StartSpeech, State, TimerKind
from ivrflow.menu.verbs import TTS

from .helpers import Driver, briefs, commands, menu, context, transfer, voice_helper

SPEECH = CallOptions(speech=SpeechRecognition("unimrcp:asr", "builtin:speech/transcribe"))
ROUTES = [{"to_option": "1", "transcription": "оплат|bill"}, {"to_option": "2", "transcription": "tech support|оператор"}]
OPTIONS = {
    "1": [transfer("100")],
    "2": [transfer("200")],
    "12": [transfer("120")],
    "invalid": [transfer("900")],
    "timeout": [transfer("800")],
}


def listening(options: CallOptions = SPEECH, lifetime: int = 0, **fields: Any) -> tuple[Driver, list[tuple[Any, ...]]]:
    rule = voice_helper(voice_helper_rules=ROUTES, voice_helper_timeout=4000, **fields)
    d = Driver(menu(context({"start": [rule], **OPTIONS}, digit_len=2), lifetime=lifetime), options)
    out = briefs(d.start())
    assert d.call.state is State.LISTENING
    return d, out


def heard(d: Driver, text: str, listen_id: int | None = None) -> list[tuple[Any, ...]]:
    starts = [o.listen_id for o in d.log if isinstance(o, StartSpeech)]
    return briefs(d.feed(SpeechDetected(d.now, starts[-1] if listen_id is None else listen_id, text)))


def test_the_switch_listens_while_the_sound_plays_and_the_timeout_waits_for_its_end() -> None:
    d, out = listening()
    assert out[2:] == [
        ("listen", "unimrcp:asr", "builtin:speech/transcribe"),
        ("play", "bg.wav", "bg"),
        ("done", "voice_helper", "ok"),
    ]
    assert TimerKind.SPEECH not in d.timers
    assert briefs(d.at(3.0).played()) == [("timer", "speech", 4.0)]


def test_a_spoken_match_stops_sound_and_listening_and_runs_the_routes_option() -> None:
    d, _ = listening()
    out = heard(d.at(1.0), "Я хочу ОПЛАТИТЬ счёт")
    assert out == [("stop",), ("stop_listening",), ("resolved", "option", "1"), ("transfer", "100"), ("done", "transfer", "ok")]


def test_the_first_matching_route_wins() -> None:
    d, _ = listening()
    assert ("transfer", "100") in heard(d, "tech support for my bill")  # rule order decides, not word order
    d, _ = listening()
    assert ("transfer", "200") in heard(d, "technical support please")


def test_a_transcription_that_matches_no_route_runs_invalid() -> None:
    d, _ = listening()
    d.played()
    out = heard(d, "погода в москве")
    assert out == [("stop_listening",), ("cancel", "speech"), ("resolved", "invalid", "invalid"), ("transfer", "900"), ("done", "transfer", "ok")]
    assert heard(listening()[0], "") [-2:] == [("transfer", "900"), ("done", "transfer", "ok")]  # nothing understood


def test_unmatched_words_listen_again_until_final_count_transcriptions_were_heard() -> None:
    d, _ = listening(voice_helper_final_count=3)
    out = heard(d.at(1.0), "погода")  # the sound still plays: it stops, a fresh recognition starts
    assert out == [("stop",), ("stop_listening",), ("listen", "unimrcp:asr", "builtin:speech/transcribe"), ("timer", "speech", 4.0)]
    assert d.call.state is State.LISTENING
    assert heard(d.at(2.0), "курс валют")[2:] == [("listen", "unimrcp:asr", "builtin:speech/transcribe"), ("timer", "speech", 4.0)]
    assert heard(d.at(3.0), "всё ещё не то")[-3:] == [("resolved", "invalid", "invalid"), ("transfer", "900"), ("done", "transfer", "ok")]


def test_a_retry_that_matches_runs_its_route() -> None:
    d, _ = listening(voice_helper_final_count=2)
    heard(d.at(1.0), "погода")
    assert heard(d.at(2.0), "оплата")[-3:] == [("resolved", "option", "1"), ("transfer", "100"), ("done", "transfer", "ok")]


def test_an_earlier_recognitions_late_result_is_ignored_after_a_retry() -> None:
    d, _ = listening(voice_helper_final_count=2)
    heard(d.at(1.0), "погода")
    first = next(o.listen_id for o in d.log if isinstance(o, StartSpeech))
    assert heard(d, "оплата", listen_id=first) == []
    assert d.call.state is State.LISTENING


def test_silence_after_unmatched_words_runs_invalid_not_timeout() -> None:
    d, _ = listening(voice_helper_final_count=2)
    heard(d.at(1.0), "погода")
    out = briefs(d.at(5.0).fire(TimerKind.SPEECH))
    assert out == [("stop_listening",), ("resolved", "invalid", "invalid"), ("transfer", "900"), ("done", "transfer", "ok")]


def test_final_count_0_and_1_let_the_first_transcription_decide() -> None:
    for count in (0, 1):
        d, _ = listening(voice_helper_final_count=count)
        assert heard(d, "погода")[-2:] == [("transfer", "900"), ("done", "transfer", "ok")]


def test_keys_after_a_retry_still_choose() -> None:
    d, _ = listening(voice_helper_final_count=3)
    heard(d.at(1.0), "погода")
    assert commands(d.press("2")) == [("stop_listening",), ("cancel", "speech"), ("transfer", "200")]


def test_a_key_stops_sound_and_listening_and_falls_back_to_the_contexts_options() -> None:
    d, _ = listening()
    out = briefs(d.press("2"))  # digits_max 1: one key is the whole entry
    assert out == [("stop",), ("stop_listening",), ("resolved", "option", "2"), ("transfer", "200"), ("done", "transfer", "ok")]


def test_keys_end_at_hash_or_at_digits_max() -> None:
    d, _ = listening(voice_helper_digits_max=3)
    assert briefs(d.press("1")) == [("stop",), ("stop_listening",), ("timer", "speech", 4.0)]
    assert commands(d.press("2#"))[-1] == ("transfer", "120")
    d, _ = listening(voice_helper_digits_max=2)
    assert commands(d.press("12"))[-1] == ("transfer", "120")
    d, _ = listening(voice_helper_digits_max=2)
    assert commands(d.press("77"))[-1] == ("transfer", "900")  # no option 77: invalid, as any entry


def test_hash_alone_is_an_empty_entry_and_runs_invalid() -> None:
    for classic in (False, True):
        d, _ = listening(voice_helper_digits_max=3, voice_helper_classic_term=classic)
        assert commands(d.press("#"))[-1] == ("transfer", "900")
        d.transfer_result(ok=True)
        assert d.record.entries == ("",)


def test_with_the_classic_terminator_keys_end_as_the_contexts_own_entry() -> None:
    d, _ = listening(voice_helper_digits_max=3, voice_helper_classic_term=True)
    assert briefs(d.press("1")) == [("stop",), ("stop_listening",), ("timer", "speech", 2.0)]  # inter_digit_timeout
    assert commands(d.press("2"))[-1] == ("transfer", "120")  # digit_len 2 reached, not digits_max 3
    d, _ = listening(voice_helper_digits_max=3, voice_helper_classic_term=True)
    assert commands(d.press("2"))[-1] == ("transfer", "200")  # a complete option: no wait, as in the menu
    d, _ = listening(voice_helper_digits_max=3)
    assert briefs(d.press("2"))[-1] == ("timer", "speech", 4.0)  # without it, "2" waits for more keys up to digits_max
    assert commands(d.at(5.0).fire(TimerKind.SPEECH)) == [("transfer", "200")]


def test_keys_then_silence_end_at_the_timeout_with_what_was_typed() -> None:
    d, _ = listening(voice_helper_digits_max=3)
    d.press("1")
    out = briefs(d.at(5.0).fire(TimerKind.SPEECH))
    assert out == [("resolved", "option", "1"), ("transfer", "100"), ("done", "transfer", "ok")]
    d.transfer_result(ok=True)
    assert d.record.entries == ("1",)


def test_a_transcription_after_a_key_is_too_late() -> None:
    d, _ = listening(voice_helper_digits_max=3)
    d.press("1")
    assert heard(d, "оплата") == []
    assert d.call.state is State.LISTENING


def test_nothing_heard_within_the_timeout_runs_timeout() -> None:
    d, _ = listening()
    d.at(3.0).played()
    out = briefs(d.at(7.0).fire(TimerKind.SPEECH))
    assert out == [("stop_listening",), ("resolved", "timeout", "timeout"), ("transfer", "800"), ("done", "transfer", "ok")]


def test_without_a_sound_the_timeout_starts_at_once() -> None:
    d, out = listening(sound=None)
    assert out[2:] == [("listen", "unimrcp:asr", "builtin:speech/transcribe"), ("timer", "speech", 4.0), ("done", "voice_helper", "ok")]


def test_a_stale_transcription_is_ignored() -> None:
    d, _ = listening()
    assert heard(d, "оплата", listen_id=99) == []
    assert d.call.state is State.LISTENING


def test_the_caller_hanging_up_while_listening_ends_the_call_without_commands() -> None:
    d, _ = listening()
    out = briefs(d.at(2.0).hang_up())
    assert [o for o in out if o[0] != "cancel"] == [("finished", "caller_hangup")]
    assert d.record.outcome == "caller_hangup"


def test_a_lifetime_transfer_stops_listening_before_the_call_leaves() -> None:
    rule = voice_helper(voice_helper_rules=ROUTES)
    the_menu = menu(
        context({"start": [rule], **OPTIONS}), lifetime=10, lifetime_exp_action="transfer", lifetime_exp_transfer_dst="555"
    )
    d = Driver(the_menu, SPEECH)
    d.start()
    out = commands(d.at(10.0).fire(TimerKind.LIFETIME))
    assert out.index(("stop_listening",)) < out.index(("transfer", "555"))


def test_without_speech_recognition_voice_helper_is_skipped_with_a_notice() -> None:
    d = Driver(menu(context({"start": [voice_helper(), transfer("300")]})))
    out = briefs(d.start())
    assert out[2:] == [("notice",), ("done", "voice_helper", "skipped"), ("transfer", "300"), ("done", "transfer", "ok")]
    assert "no speech recognition" in d.call._notices[0]


def test_tts_speaks_with_the_configured_engine_and_voice_as_a_background_prompt() -> None:
    options = CallOptions(tts=SpeechSynthesis("flite", "kal"))
    d = Driver(menu(context({"start": [{"action": "call_interactive", "call_interactive_url": "https://h.test/x"}], "5": [transfer("500")]})), options)
    d.start()
    out = briefs(d.reply(TTS(text="Your balance is 100 | ok")))
    assert ("speak", "flite", "kal", "Your balance is 100 | ok", "bg") in out
    assert commands(d.press("5"))[:1] == [("stop",)]  # a key stops it and begins the entry


VOICES = SpeechSynthesis("flite", "kal", (("ru-ru", "irina"), ("en", "slt"), ("en-gb", "awb")))


def spoken_with(tts: SpeechSynthesis, lang: str | None) -> tuple[str, list[str]]:
    """The voice a reply's TTS in `lang` speaks with, and the call's notices."""
    d = Driver(menu(context({"start": [{"action": "call_interactive", "call_interactive_url": "https://h.test/x"}]})), CallOptions(tts=tts))
    d.start()
    [speak] = [o for o in briefs(d.reply(TTS(text="Привет", lang=lang))) if o[0] == "speak"]
    return speak[2], d.call._notices


@pytest.mark.parametrize(
    ("lang", "voice"),
    [("ru-RU", "irina"), ("ru_ru", "irina"), ("en-GB", "awb"), ("en-US", "slt"), ("en", "slt"), (None, "kal")],
)
def test_tts_speaks_with_the_voice_of_its_lang_the_most_specific_tag_first(lang: str | None, voice: str) -> None:
    assert spoken_with(VOICES, lang) == (voice, [])


def test_a_lang_without_a_voice_speaks_with_the_default_voice_and_says_so() -> None:
    voice, notices = spoken_with(VOICES, "de-DE")
    assert voice == "kal"
    assert notices == ["TTS in option 'start' of context 1: no voice for lang 'de-DE' in tts_voices, spoken with the default voice 'kal'"]


def test_without_tts_voices_every_lang_speaks_with_the_one_voice_quietly() -> None:
    assert spoken_with(SpeechSynthesis("flite", "kal"), "de-DE") == ("kal", [])


def test_play_now_false_is_spoken_in_turn_and_the_record_says_it_meant_nothing() -> None:
    d = Driver(menu(context({"start": [{"action": "call_interactive", "call_interactive_url": "https://h.test/x"}]})),
               CallOptions(tts=SpeechSynthesis("flite", "kal")))
    d.start()
    out = briefs(d.reply(TTS(text="one", play_now=False), TTS(text="two")))
    assert [o for o in out if o[0] in ("notice", "speak")] == [("notice",), ("speak", "flite", "kal", "one", "bg")]
    assert d.call._notices == ["TTS in option 'start' of context 1: play_now=\"false\" has no meaning here; spoken in turn, as every verb"]
    assert [o for o in briefs(d.played()) if o[0] == "speak"] == [("speak", "flite", "kal", "two", "bg")]
    assert len(d.call._notices) == 1  # play_now="true", the default, is what every verb does


def test_a_sound_that_cannot_play_leaves_the_listening_and_its_timeout() -> None:
    d, _ = listening()
    out = briefs(d.played(error="FILE NOT FOUND"))
    assert out == [("notice",), ("timer", "speech", 4.0)]
    assert d.call.state is State.LISTENING and ("transfer", "100") in heard(d, "bill")
