"""voice_helper needs speech_engine: a menu that uses it without one is refused like any bad menu; TTS needs a voice."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from gevent import subprocess

from ivrflow.engine import SpeechRecognition, SpeechSynthesis
from ivrflow.menu.checks import speech_problems
from ivrflow.menu.files import load_menu_text
from ivrflow.service.daemon import Daemon
from ivrflow.service.settings import SettingsError, resolve
from ivrflow.testing import start_call

from .harness import SOUNDS, daemon
from .test_reloads import Source, make_daemon, menu
from tests.e2e.harness import script
from tests.e2e.test_voice_helper import MENU as VOICE_MENU


def test_the_problem_names_the_rule_and_what_to_configure() -> None:
    [problem] = speech_problems(load_menu_text(VOICE_MENU, "voice.yaml").menu)
    assert problem.render("voice.yaml").startswith("voice.yaml: ivrs[0].contexts[0].options.start[0]: voice_helper needs")
    assert "set speech_engine" in problem.message


def test_a_menu_with_voice_helper_is_refused_without_speech_engine_and_runs_with_one(tmp_path: Path) -> None:
    menu = tmp_path / "voice.yaml"
    menu.write_text(VOICE_MENU)
    command = [sys.executable, "-m", "ivrflow", "serve", "--menu", str(menu), "--sounds", str(SOUNDS),
               "--listen", "127.0.0.1:0", "--metrics-listen", "off", "--call-records", str(tmp_path / "c.jsonl")]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "voice.yaml" in refused.stderr and "set speech_engine" in refused.stderr
    with daemon(tmp_path, "--speech-engine", "pocketsphinx", "--speech-grammar", "default", menu=VOICE_MENU) as d:
        switch = start_call(d.esl, script(speech=[(1.0, "my bill")])).get(timeout=30)
    assert ("detect_speech", "pocketsphinx default ivrflow") in [(a.name, a.arg) for a in switch.applications]
    assert [r["transfer_destinations"] for r in d.records()] == [["100"]]


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"IVRFLOW_TTS_ENGINE": "flite"}, "set both"),
        ({"IVRFLOW_SPEECH_ENGINE": "unimrcp asr"}, "speech_engine (from IVRFLOW_SPEECH_ENGINE)"),
        ({"IVRFLOW_SPEECH_GRAMMAR": "${x}"}, "speech_grammar"),
        ({"IVRFLOW_TTS_ENGINE": "a|b", "IVRFLOW_TTS_VOICE": "kal"}, "tts_engine"),
        ({"IVRFLOW_TTS_VOICES": "ru-RU=irina"}, "tts_voices: set tts_engine"),
        ({"IVRFLOW_TTS_ENGINE": "flite", "IVRFLOW_TTS_VOICE": "kal", "IVRFLOW_TTS_VOICES": "irina"}, "not LANG=VOICE"),
        ({"IVRFLOW_TTS_ENGINE": "flite", "IVRFLOW_TTS_VOICE": "kal", "IVRFLOW_TTS_VOICES": "ru RU=irina"}, "not LANG=VOICE"),
        ({"IVRFLOW_TTS_ENGINE": "flite", "IVRFLOW_TTS_VOICE": "kal", "IVRFLOW_TTS_VOICES": "ru=${x}"}, "tts_voices"),
        ({"IVRFLOW_TTS_ENGINE": "flite", "IVRFLOW_TTS_VOICE": "kal", "IVRFLOW_TTS_VOICES": "ru=a|b"}, "tts_voices"),
        ({"IVRFLOW_TTS_ENGINE": "flite", "IVRFLOW_TTS_VOICE": "kal", "IVRFLOW_TTS_VOICES": "ru=a b"}, "tts_voices"),
        ({"IVRFLOW_TTS_ENGINE": "flite", "IVRFLOW_TTS_VOICE": "kal", "IVRFLOW_TTS_VOICES": "ru=a,RU=b"}, "given twice"),
    ],
)
def test_bad_speech_settings_are_refused(environ: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$")):
        resolve({"menu": "m.yaml"}, environ=environ)


def test_tts_voices_come_from_a_toml_table_or_a_list_keyed_by_language(tmp_path: Path) -> None:
    for value in ('{ "ru-RU" = "irina", en = "kal" }', '["ru-RU=irina", "en=kal"]', '"ru-RU=irina, en=kal"'):
        settings_file = tmp_path / "ivrflow.toml"
        settings_file.write_text(f'menu = "m.yaml"\ntts_engine = "flite"\ntts_voice = "slt"\ntts_voices = {value}\n')
        assert resolve({}, settings_file, environ={}).tts_voices == (("ru-ru", "irina"), ("en", "kal")), value


def test_a_reload_to_a_menu_with_voice_helper_is_rejected_without_speech_engine(tmp_path: Path) -> None:
    d = make_daemon(tmp_path, Source([menu("050"), load_menu_text(VOICE_MENU, "voice.yaml")]))
    ok, messages = d.reload()
    assert not ok and messages[0].startswith("voice.yaml: ivrs[0].contexts[0].options.start[0]: voice_helper needs")
    assert d.loaded.source == "menu 050"  # the previous menu keeps serving
    d.close()


def test_only_freeswitch_calls_get_the_speech_engines(tmp_path: Path) -> None:
    settings = resolve(
        {"menu": str(tmp_path / "unused.yaml"), "sounds": str(SOUNDS), "esl_listen": "127.0.0.1:0", "metrics_listen": "off",
         "call_records": str(tmp_path / "calls.jsonl"), "speech_engine": "unimrcp:asr", "tts_engine": "flite", "tts_voice": "kal",
         "tts_voices": "ru-RU=irina"},
        environ={},
    )
    d = Daemon(settings, source=Source([load_menu_text(VOICE_MENU, "voice.yaml")]))
    assert d.server.setup.options.speech == SpeechRecognition("unimrcp:asr", "builtin:speech/transcribe")
    assert d.server.setup.options.tts == SpeechSynthesis("flite", "kal", (("ru-ru", "irina"),))
    assert d.server.setup.outside is d.setup.outside  # the same webhook work for both switches
    assert d.setup.options.speech is None and d.setup.options.tts is None  # what ARI calls are set up with
    d.close()
