"""What every call of a runtime is started with besides its menu: the daemon's settings the walk reads."""

from __future__ import annotations

from dataclasses import dataclass

from .checks import check_count, check_time

DEFAULT_WEBHOOK_DEADLINE_S = 5.0


@dataclass(frozen=True, slots=True)
class SpeechRecognition:
    """The switch's speech recognition engine and the grammar voice_helper listens with."""

    engine: str
    grammar: str


def language_key(lang: str) -> str:
    """A language tag as voices are looked up by it: `ru_RU`, `RU-ru` and `ru-RU` are one language."""
    return lang.replace("_", "-").casefold()


@dataclass(frozen=True, slots=True)
class SpeechSynthesis:
    """The switch's speech synthesis engine and the voices a reply's TTS speaks with.

    `voice` speaks a TTS without `lang`; `voices` pairs language tags (as
    language_key gives them) with the voice of that language.
    """

    engine: str
    voice: str
    voices: tuple[tuple[str, str], ...] = ()

    def voice_for(self, lang: str | None) -> str | None:
        """The voice of `lang`, or None when none is configured for it.

        The most specific tag configured wins, as in RFC 4647's lookup: for
        `ru-RU` a voice of `ru-RU`, else one of `ru`. No `lang`: the default voice.
        """
        if lang is None:
            return self.voice
        by_language = dict(self.voices)
        subtags = language_key(lang).split("-")
        for length in range(len(subtags), 0, -1):
            voice = by_language.get("-".join(subtags[:length]))
            if voice is not None:
                return voice
        return None


@dataclass(frozen=True, slots=True)
class VoicemailOptions:
    """How messages are recorded; a runtime without a voicemail spool has none, and vm_enabled is then skipped."""

    max_seconds: int = 120
    ring_seconds: int = 30  # a vm_enabled ivr's transfers ring this long, as a bridge, so no answer can reach voicemail
    silence_threshold: int = 200  # the switch's energy score below which a frame is silence; 0: no cut-off
    silence_seconds: int = 5
    beep: str | None = None  # a file of the sound directory played after the greeting; None: no beep

    def __post_init__(self) -> None:
        for name in ("max_seconds", "ring_seconds", "silence_threshold", "silence_seconds"):
            check_count(self, name, getattr(self, name))


@dataclass(frozen=True, slots=True)
class CallOptions:
    # Played, looped, while a call_interactive request is out; None: silence.
    hold_sound: str | None = None
    webhook_deadline_s: float = DEFAULT_WEBHOOK_DEADLINE_S
    # None where the switch has none configured: voice_helper, TTS are skipped with a notice.
    speech: SpeechRecognition | None = None
    tts: SpeechSynthesis | None = None
    voicemail: VoicemailOptions | None = None

    def __post_init__(self) -> None:
        check_time(self, "webhook_deadline_s", self.webhook_deadline_s)
