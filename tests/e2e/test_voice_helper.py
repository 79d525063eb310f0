"""voice_helper end to end: ivrflow's ESL server, the FreeSWITCH emulator, DETECTED_SPEECH as the switch sends it.

The caller script says words (`speech`) which the emulator's running
`detect_speech` turns into a begin-speaking / detected-speech pair with an
NLSML body. Call time runs SCALE times faster than ivrflow's wall-clock
timers: hello.wav lasts 3 s of call time, voice_helper_timeout is 300 ms of
wall time, i.e. 6 s of call time.
"""

from __future__ import annotations

from typing import Any

from ivrflow.engine import CallOptions, SpeechRecognition, SpeechSynthesis
from ivrflow.menu.files import load_menu_text
from ivrflow.webhooks.client import WebhookSettings

from tests.webhooks.server import WebhookServer, serving, xml
from .harness import call, ivrflow
from .test_call_interactive import PRESS_3, menu_asking

SPEECH = CallOptions(speech=SpeechRecognition("unimrcp:asr", "builtin:speech/transcribe"))
MENU = """
sounds:
  - {id: 51, filename: hello.wav}
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        digit_len: 2
        options:
          start:
            - action: voice_helper
              sound: 51
              voice_helper_timeout: 300
              voice_helper_digits_max: 3
              voice_helper_classic_term: false
              voice_helper_rules:
                - {to_option: "1", transcription: "оплат|bill"}
                - {to_option: "2", transcription: "tech support|оператор"}
          "1": [{action: transfer, transfer_dst: "100"}]
          "2": [{action: transfer, transfer_dst: "200"}]
          invalid: [{action: transfer, transfer_dst: "900"}]
          timeout: [{action: transfer, transfer_dst: "800"}]
"""


def run(fields: str = "", **script: Any) -> tuple[Any, dict[str, Any]]:
    """A call into MENU, its voice_helper's `classic_term: false` line replaced by `fields` when given."""
    text = MENU.replace("voice_helper_classic_term: false", fields) if fields else MENU
    menu = load_menu_text(text, "voice.yaml").menu
    with ivrflow(menu, options=SPEECH) as it:
        return call(it, **script)


def apps(switch: Any) -> list[str]:
    return [f"{run.name} {run.arg}".strip() for run in switch.applications if run.name not in ("socket", "answer")]


def test_a_spoken_route_stops_the_sound_and_listening_and_runs_its_option() -> None:
    switch, record = run(speech=[(1.0, "Мне нужен оператор, пожалуйста")])
    assert record["outcome"] == "transfer" and record["transfer_destinations"] == ["200"]
    assert [step["option"] for step in record["path"]] == ["start", "2"]
    ran = apps(switch)
    assert ran[:2] == ["set fire_asr_events=true", "detect_speech unimrcp:asr builtin:speech/transcribe ivrflow"]
    assert ran[2].startswith("playback ") and ran[2].endswith("/hello.wav")
    assert ran[3:6] == ["break all", "detect_speech stop", "transfer 200 XML default"]  # the words stopped the sound
    assert switch.speech == [(switch.speech[0][0], "Мне нужен оператор, пожалуйста")]


def test_words_no_route_matches_run_invalid() -> None:
    _, record = run(speech=[(1.0, "какая сегодня погода")])
    assert record["transfer_destinations"] == ["900"]
    assert [step["option"] for step in record["path"]] == ["start", "invalid"]


def test_a_result_after_the_sound_comes_twice_from_the_parked_channel_and_runs_one_option() -> None:
    switch, record = run(speech=[(4.0, "pay my bill")])  # hello.wav ended at 3 s: the channel is parked
    assert record["transfer_destinations"] == ["100"]
    assert [step["option"] for step in record["path"]] == ["start", "1"]
    fired = [name for _, name in switch.events_fired if name == "DETECTED_SPEECH"]
    assert len(fired) == 4  # begin-speaking and detected-speech, each fired and then re-fired by the park loop


def test_keys_fall_back_to_the_contexts_options_at_hash() -> None:
    switch, record = run(keys=[(1.0, "1"), (1.5, "#")], speech=[(2.0, "tech support")])
    assert record["transfer_destinations"] == ["100"] and record["entries"] == ["1"]
    assert "detect_speech stop" in apps(switch)
    assert switch.speech == []  # listening stopped at the first key: the words came to nobody


def test_with_the_classic_terminator_keys_end_as_the_contexts_own_entry() -> None:
    keys = [(1.0, "1"), (1.2, "2")]
    _, record = run("voice_helper_classic_term: true", keys=keys)
    assert record["entries"] == ["1"] and record["transfer_destinations"] == ["100"]  # "1" was a whole option
    _, record = run(keys=keys)
    assert record["entries"] == ["12"] and record["transfer_destinations"] == ["900"]  # up to digits_max: no option 12


def test_unmatched_words_listen_again_and_the_second_try_chooses() -> None:
    switch, record = run("voice_helper_final_count: 2", speech=[(1.0, "какая погода"), (2.0, "оплата")])
    assert record["transfer_destinations"] == ["100"]
    assert [step["option"] for step in record["path"]] == ["start", "1"]
    ran = apps(switch)
    listens = [i for i, app in enumerate(ran) if app.startswith("detect_speech unimrcp:asr")]
    assert len(listens) == 2 and ran[listens[0] + 2:listens[1]] == ["break all", "detect_speech stop", "set fire_asr_events=true"]
    assert [words for _, words in switch.speech] == ["какая погода", "оплата"]


def test_the_parked_channels_copy_of_an_unmatched_result_is_not_the_retrys_answer() -> None:
    switch, record = run("voice_helper_final_count: 2", speech=[(4.0, "какая погода"), (5.0, "оплата")])  # after the sound
    assert record["transfer_destinations"] == ["100"]
    assert [step["option"] for step in record["path"]] == ["start", "1"]


def test_after_final_count_unmatched_transcriptions_invalid_runs() -> None:
    switch, record = run("voice_helper_final_count: 2", speech=[(1.0, "какая погода"), (2.0, "курс валют")])
    assert record["transfer_destinations"] == ["900"]
    assert [step["option"] for step in record["path"]] == ["start", "invalid"]
    assert len([app for app in apps(switch) if app.startswith("detect_speech unimrcp:asr")]) == 2


def test_keys_end_at_digits_max() -> None:
    _, record = run(keys=[(1.0, "7"), (1.2, "7"), (1.4, "7")])
    assert record["entries"] == ["777"] and record["transfer_destinations"] == ["900"]


def test_nothing_said_within_the_timeout_runs_timeout() -> None:
    switch, record = run()
    assert record["transfer_destinations"] == ["800"]
    assert [step["option"] for step in record["path"]] == ["start", "timeout"]
    assert "detect_speech stop" in apps(switch)


def test_the_caller_hanging_up_while_listening_is_recorded() -> None:
    _, record = run(caller_hangup=(1.0, "NORMAL_CLEARING"))
    assert record["outcome"] == "caller_hangup" and record["transfer_destinations"] == []


def replying(body: bytes, tts: SpeechSynthesis) -> tuple[Any, dict[str, Any]]:
    """A call whose key 3 asks a webhook that replies `body`, on a switch that speaks with `tts`."""
    reply = xml(body)
    with serving(WebhookServer({"/tts": lambda _: reply})) as server:
        with ivrflow(menu_asking(server.url("/tts")), WebhookSettings(), CallOptions(tts=tts)) as it:
            return call(it, keys=PRESS_3)


def test_a_replys_tts_is_spoken_with_the_configured_engine_and_voice() -> None:
    switch, record = replying(b"<Response><TTS lang='ru-RU'>Your balance is\n 100 | thanks</TTS></Response>", SpeechSynthesis("flite", "kal"))
    spoken = [run for run in switch.applications if run.name == "speak"]
    assert [run.arg for run in spoken] == ["flite|kal|Your balance is 100 | thanks"]
    names = [run.name for run in switch.applications]
    assert names.index("speak") < names.index("transfer")  # spoken to its end, then the option's next rule
    assert record["transfer_destinations"] == ["003"] and record["notices"] == []


def test_a_replys_tts_speaks_with_the_voice_of_its_lang_and_the_default_for_others() -> None:
    switch, record = replying(
        b"<Response><TTS lang='ru-RU'>Vash balans</TTS><TTS lang='de'>Guten Tag</TTS><TTS>Hello</TTS></Response>",
        SpeechSynthesis("flite", "kal", (("ru", "irina"),)),
    )
    spoken = [run.arg for run in switch.applications if run.name == "speak"]
    assert spoken == ["flite|irina|Vash balans", "flite|kal|Guten Tag", "flite|kal|Hello"]
    assert record["notices"] == [
        "TTS in option '3' of context 1: no voice for lang 'de' in tts_voices, spoken with the default voice 'kal'"
    ]


def test_play_now_false_is_spoken_in_its_turn_with_a_notice() -> None:
    switch, record = replying(
        b"<Response><TTS play_now='false'>first</TTS><TTS play_now='true'>second</TTS></Response>", SpeechSynthesis("flite", "kal")
    )
    assert [run.arg for run in switch.applications if run.name == "speak"] == ["flite|kal|first", "flite|kal|second"]
    assert record["notices"] == [
        "TTS in option '3' of context 1: play_now=\"false\" has no meaning here; spoken in turn, as every verb"
    ]
