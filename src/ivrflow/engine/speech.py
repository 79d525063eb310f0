"""voice_helper: which rule a final transcription chooses (pure).

Normalisation, applied alike to the transcription and to each rule's words:
Unicode NFKC, case folded, `ё` read as `е`, and every character that is not
a letter or digit taken as a space; what remains is a sequence of words.

A rule's `transcription` is alternatives separated by `|`, each one or more
words. An alternative matches when its words appear consecutively in the
transcription, each as the start of the word there: `оплат` matches
"оплата" and "оплатить", `tech support` matches "technical support please",
but `port` does not match "support". Rules are tried in their order and the
first rule with a matching alternative wins; empty alternatives are ignored.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from ..menu.model import VoiceHelperRoute

Words = tuple[str, ...]


def normalise(text: str) -> Words:
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    return tuple("".join(ch if ch.isalnum() else " " for ch in folded).split())


def alternatives(transcription: str) -> tuple[Words, ...]:
    return tuple(words for words in (normalise(part) for part in transcription.split("|")) if words)


def matches(heard: Words, alternative: Words) -> bool:
    width = len(alternative)
    return any(
        all(word.startswith(fragment) for word, fragment in zip(heard[start : start + width], alternative))
        for start in range(len(heard) - width + 1)
    )


def choose_route(transcription: str, routes: Sequence[VoiceHelperRoute]) -> VoiceHelperRoute | None:
    """The first route any of whose alternatives the transcription matches, or None."""
    heard = normalise(transcription)
    for route in routes:
        if any(matches(heard, alternative) for alternative in alternatives(route.transcription)):
            return route
    return None
