"""The daemon's settings, each declared once.

A declaration (name, type, default, help) drives the command-line flag, the
`IVRFLOW_<NAME>` environment variable and the key of the TOML settings file.
Precedence: flag, then environment, then file, then default.
"""

from __future__ import annotations

import argparse
import math
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..engine.options import language_key
from ..freeswitch.builders import check_bridge_template, check_context, detect_speech_arg, speak_arg
from ..freeswitch.dialogue import GRAMMAR_NAME
from ..menu.verbs import LANGUAGE


class SettingsError(ValueError):
    pass


def address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return host.strip("[]"), int(port)


def optional_address(text: str) -> tuple[str, int] | None:
    return None if text in ("", "off") else address(text)


def optional_path(text: str) -> Path | None:
    return Path(text) if text else None


def boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false", "yes", "no", "1", "0"):
        raise ValueError(f"{text!r} is not true or false")
    return lowered in ("true", "yes", "1")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"{value} is not a positive number")
    return value


def whole_number(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"{value} is negative")
    return value


def port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError(f"{value} is not a port (1-65535)")
    return value


def seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} is not a number of seconds (finite, not negative)")
    return value


def context(text: str) -> str:
    """A dialplan context, checked as the wire will check it; empty is allowed (the caller's own)."""
    if text:
        check_context(text)
    return text


def bridge_template(text: str) -> str:
    check_bridge_template(text)
    return text


# Each speech word is checked as the wire will check it, with placeholders for the rest.


def speech_engine(text: str) -> str:
    if text:
        detect_speech_arg(text, "grammar", GRAMMAR_NAME)
    return text


def speech_grammar(text: str) -> str:
    detect_speech_arg("engine", text, GRAMMAR_NAME)
    return text


def tts_engine(text: str) -> str:
    if text:
        speak_arg(text, "voice", "text")
    return text


def tts_voice(text: str) -> str:
    if text:
        speak_arg("engine", text, "text")
    return text


def tts_voices(text: str) -> tuple[tuple[str, str], ...]:
    """Comma-separated LANG=VOICE pairs (empty: none); each voice checked as speak will check it."""
    pairs: dict[str, str] = {}
    for part in (part.strip() for part in text.split(",")):
        if not part:
            continue
        lang, sep, voice = (word.strip() for word in part.partition("="))
        if not sep or not LANGUAGE.fullmatch(lang) or not voice:
            raise ValueError(f"{part!r} is not LANG=VOICE with a language tag such as ru-RU or en")
        if language_key(lang) in pairs:
            raise ValueError(f"language {lang!r} is given twice")
        speak_arg("engine", voice, "text")
        pairs[language_key(lang)] = voice
    return tuple(pairs.items())


def names(text: str) -> frozenset[str]:
    """Comma-separated names; empty: none."""
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"{text!r} is not one of {', '.join(options)}")
        return text

    return parse


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: str
    help: str
    flags: tuple[str, ...] = ()

    @property
    def env(self) -> str:
        return "IVRFLOW_" + self.name.upper()

    @property
    def flag_names(self) -> tuple[str, ...]:
        return ("--" + self.name.replace("_", "-"), *self.flags)


SETTINGS: tuple[Setting, ...] = (
    Setting("menu", optional_path, "", "menu file (YAML); required", ("--config",)),
    Setting("sounds", optional_path, "", "sound directory (default: sounds/ beside the menu file)"),
    Setting("esl_listen", address, "127.0.0.1:8084", "HOST:PORT that FreeSWITCH's socket app connects to (port 0: any)", ("--listen",)),
    Setting("metrics_listen", optional_address, "127.0.0.1:9464", "HOST:PORT for /metrics, /healthz, /readyz ('off': none)"),
    Setting("admin_token", str, "", "token POST /-/reload must bear ('Authorization: Bearer TOKEN'); empty: loopback only"),
    Setting("transfer_context", context, "", "dialplan context for transfers (empty: the caller's own)"),
    Setting("simple_transfer_context", context, "ivrflow-simple-transfer", "dialplan context for simple_transfer"),
    Setting("bridge_template", bridge_template, "user/{number}", "dial string for multi-destination transfers; {number} is each destination"),
    Setting("exit_after_transfer", boolean, "false", "release a transferred call's socket at once (only if no transfer target parks or runs socket)"),
    Setting("release_quiet_time", seconds, "0.3", "after a transfer, seconds nothing may start or end on the channel before its socket is let go (a parked target is held)"),
    Setting("allowed_variables", names, "", "channel variables FreeSWITCH acts on by itself (hooks, call control) that menus may set anyway, comma-separated; default none"),
    # FreeSWITCH's speech modules (mod_unimrcp, mod_pocketsphinx, mod_flite...); Asterisk has none for ARI.
    Setting("speech_engine", speech_engine, "", "FreeSWITCH speech recognition for voice_helper (detect_speech's module[:profile], e.g. unimrcp:asr); empty: none, and menus with voice_helper are refused"),
    Setting("speech_grammar", speech_grammar, "builtin:speech/transcribe", "the grammar voice_helper's detect_speech loads (a name, path or URI, one word)"),
    Setting("tts_engine", tts_engine, "", "FreeSWITCH speech synthesis for a reply's TTS (speak's engine, e.g. flite); empty: TTS is skipped"),
    Setting("tts_voice", tts_voice, "", "the voice speak uses with tts_engine (e.g. kal); required with it"),
    Setting("tts_voices", tts_voices, "", "voices by a TTS's lang, comma-separated LANG=VOICE (e.g. ru-RU=irina,en=kal); other languages and TTS without lang speak with tts_voice"),
    Setting("ari_url", str, "", "Asterisk's ARI base URL, e.g. http://127.0.0.1:8088 (empty: no Asterisk); credentials from IVRFLOW_ARI_USER/IVRFLOW_ARI_PASSWORD"),
    Setting("ari_app", str, "ivrflow", "the Stasis application name the dialplan's Stasis() names"),
    Setting("ari_credentials_file", optional_path, "", "file with one line user:password for ARI (when IVRFLOW_ARI_USER/PASSWORD are not set)"),
    Setting("ari_dial_template", str, "PJSIP/{number}", "Asterisk endpoint for multi-destination transfers; {number} is each destination"),
    # call_interactive webhooks.
    Setting("webhook_deadline", seconds, "5", "seconds a call_interactive request may take (slot, connect, send, reply) unless its rule says"),
    Setting("webhook_hold_sound", str, "", "file in the sound directory played, looped, while a call_interactive request is out (empty: silence)"),
    Setting("webhook_allowed_hosts", names, "", "hosts call_interactive may reach, comma-separated (empty: any; redirects then stay on the request's host)"),
    Setting("webhook_max_in_flight", positive_int, "1000", "call_interactive requests out at once, across all calls; more wait for a slot within their deadline"),
    Setting("client_prefix", str, "000", "the client's prefix in CalledExtension (prefix*extension) of webhook requests"),
    # Voicemail: where messages are kept, how they are recorded, the SMTP relay that mails them.
    Setting("voicemail_spool", optional_path, "", "voicemail spool directory, at the same path for FreeSWITCH (empty: no voicemail; vm_enabled ivrs hang up)"),
    Setting("voicemail_max_seconds", positive_int, "120", "longest voicemail message, seconds"),
    Setting("voicemail_ring_seconds", positive_int, "30", "how long a vm_enabled ivr's transfer rings before voicemail answers"),
    Setting("voicemail_silence_threshold", whole_number, "200", "energy below which the recording hears silence (FreeSWITCH's record threshold; 0: no silence cut-off)"),
    Setting("voicemail_silence_seconds", positive_int, "5", "seconds of silence that end a message"),
    Setting("voicemail_beep", str, "beep.wav", "file in the sound directory played after the greeting (empty: no beep)"),
    Setting("smtp_host", str, "", "SMTP relay that mails voicemail to vm_mailto (empty: messages stay in the spool)"),
    Setting("smtp_port", port, "587", "the relay's port"),
    Setting("smtp_security", choice("starttls", "tls", "none"), "starttls", "starttls, tls (implicit, usually port 465) or none"),
    Setting("smtp_user", str, "", "login at the relay (empty: none)"),
    Setting("smtp_password_file", optional_path, "", "file holding the relay password (one line, mode 0600)"),
    Setting("smtp_sender", str, "ivrflow@localhost", "From address of voicemail mails"),
    Setting("smtp_ca_file", optional_path, "", "CA certificate(s) the relay's certificate is checked against (empty: the system's)"),
    Setting("call_records", str, "-", "file that gets one JSON line per finished call ('-': stdout)"),
    Setting("max_calls", positive_int, "2000", "calls served at once; more are refused (FreeSWITCH falls through to its fallback)"),
    Setting("drain_timeout", seconds, "60", "on SIGTERM, seconds active calls may take to finish before they are hung up"),
    Setting("log_format", choice("keyvalue", "json"), "keyvalue", "log line format"),
    Setting("log_level", choice("debug", "info", "warning", "error"), "info", "least severe level logged"),
    # Menus from the REST API instead of a file.
    Setting("menus_url", str, "", "base URL of the voice-menu API, e.g. https://HOST/api/ver1.0 (instead of --menu)"),
    Setting("api_credentials", optional_path, "", "JSON file with client_id and client_secret (else IVRFLOW_API_CLIENT_ID/_SECRET)"),
    Setting("menu_refresh", seconds, "60", "seconds between menu fetches from the API (0: only on SIGHUP)"),
    Setting("menu_cache", Path, "ivrflow-cache", "directory for the last good menus and sounds from the API"),
)
BY_NAME = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    menu: Path | None
    sounds: Path | None
    esl_listen: tuple[str, int]
    metrics_listen: tuple[str, int] | None
    admin_token: str
    transfer_context: str
    simple_transfer_context: str
    bridge_template: str
    exit_after_transfer: bool
    release_quiet_time: float
    allowed_variables: frozenset[str]
    speech_engine: str
    speech_grammar: str
    tts_engine: str
    tts_voice: str
    tts_voices: tuple[tuple[str, str], ...]
    ari_url: str
    ari_app: str
    ari_credentials_file: Path | None
    ari_dial_template: str
    webhook_deadline: float
    webhook_hold_sound: str
    webhook_allowed_hosts: frozenset[str]
    webhook_max_in_flight: int
    client_prefix: str
    voicemail_spool: Path | None
    voicemail_max_seconds: int
    voicemail_ring_seconds: int
    voicemail_silence_threshold: int
    voicemail_silence_seconds: int
    voicemail_beep: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_user: str
    smtp_password_file: Path | None
    smtp_sender: str
    smtp_ca_file: Path | None
    call_records: str
    max_calls: int
    drain_timeout: float
    log_format: str
    log_level: str
    menus_url: str
    api_credentials: Path | None
    menu_refresh: float
    menu_cache: Path

    @property
    def sound_dir(self) -> Path:
        if self.sounds is not None:
            return self.sounds
        if self.menus_url:
            return self.menu_cache / "sounds"
        assert self.menu is not None
        return self.menu.parent / "sounds"


assert [f.name for f in fields(Settings)] == [s.name for s in SETTINGS], "one declaration per setting"


def add_arguments(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    """The flags of every setting, or of those named."""
    parser.add_argument("--settings", type=Path, help="TOML settings file (keys as below, without dashes)")
    for setting in SETTINGS if names is None else [BY_NAME[name] for name in names]:
        parser.add_argument(
            *setting.flag_names,
            dest=setting.name,
            default=None,
            help=f"{setting.help} [env {setting.env}; default {setting.default!r}]",
        )


def resolve(
    flags: Mapping[str, str | None],
    settings_file: Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Settings:
    """Combine flags, environment, file and defaults; raise SettingsError naming every bad value."""
    values = resolve_some([s.name for s in SETTINGS], flags, settings_file, environ)
    if values["menu"] is None and not values["menus_url"]:
        raise SettingsError("menu: no menu file given (--menu/--config, IVRFLOW_MENU or 'menu' in the settings file, or --menus-url)")
    if bool(values["tts_engine"]) != bool(values["tts_voice"]):
        raise SettingsError("tts_engine and tts_voice: set both (speak needs an engine and a voice) or neither")
    if values["tts_voices"] and not values["tts_engine"]:
        raise SettingsError("tts_voices: set tts_engine and tts_voice too (the voices are speak's, with that engine)")
    return Settings(**values)


def resolve_some(
    names: Sequence[str],
    flags: Mapping[str, str | None],
    settings_file: Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """The values of the settings named, by the same rules as `resolve`."""
    from_file = _read_file(settings_file) if settings_file else {}
    values: dict[str, Any] = {}
    problems = []
    for setting in (BY_NAME[name] for name in names):
        raw, origin = _pick(setting, flags, environ, from_file)
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            problems.append(f"{setting.name} (from {origin}): {exc}")
    if problems:
        raise SettingsError("; ".join(problems))
    return values


def _pick(
    setting: Setting, flags: Mapping[str, str | None], environ: Mapping[str, str], from_file: Mapping[str, str]
) -> tuple[str, str]:
    if flags.get(setting.name) is not None:
        return str(flags[setting.name]), setting.flag_names[0]
    if setting.env in environ:
        return environ[setting.env], setting.env
    if setting.name in from_file:
        return from_file[setting.name], "settings file"
    return setting.default, "default"


def _read_file(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"settings file {path}: {exc}") from exc
    unknown = sorted(set(data) - set(BY_NAME))
    if unknown:
        raise SettingsError(f"settings file {path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return {key: _as_text(value) for key, value in data.items()}


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):  # a table of pairs, e.g. tts_voices = { ru-RU = "irina" }
        return ",".join(f"{key}={item}" for key, item in value.items())
    return str(value)

