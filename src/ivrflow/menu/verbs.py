"""The verbs of a call_interactive reply (spec §3): typed, immutable, validated.

Values that reach the switch are checked with the menu model's own types
(variable names, switch-safe text, dialable numbers, sound file names), so a
reply can put nothing on the wire that a menu could not.
"""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .model import (
    MAX_TRANSFER_DESTINATIONS,
    ContextId,
    Dialable,
    SoundFilename,
    SwitchText,
    VariableName,
    check_option_key,
)

MAX_PAUSE_S = 600
MAX_RING_S = 600
MAX_TTS_CHARS = 2000
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def _word_flag(true: str, false: str) -> BeforeValidator:
    def parse(value: object) -> object:
        if value == true:
            return True
        if value == false:
            return False
        if isinstance(value, bool):
            return value
        raise ValueError(f"must be {true!r} or {false!r}")

    return BeforeValidator(parse)


def _split_destinations(value: object) -> object:
    return tuple(part.strip() for part in value.split(",")) if isinstance(value, str) else value


class Verb(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The XML attributes the verb takes, and the field its text fills (None: no text).
    ATTRIBUTES: ClassVar[frozenset[str]] = frozenset()
    TEXT: ClassVar[str | None] = None

    @property
    def ends_option(self) -> bool:
        """Whether the option ends here: nothing after this verb runs, nor the next rule."""
        return False


class Hangup(Verb):
    @property
    def ends_option(self) -> bool:
        return True


class Pause(Verb):
    """Silence (background: digits are accepted)."""

    ATTRIBUTES = frozenset({"length"})
    length: Annotated[int, Field(ge=1, le=MAX_PAUSE_S, description="seconds")] = 10


class SetVar(Verb):
    ATTRIBUTES = frozenset({"name"})
    TEXT = "value"
    name: VariableName
    value: SwitchText = ""


class Jump(Verb):
    ATTRIBUTES = frozenset({"context", "option"})
    context: ContextId
    option: Annotated[str, AfterValidator(check_option_key)] = "start"

    @property
    def ends_option(self) -> bool:
        return True


class SetCaller(Verb):
    """Caller name and/or number presented on later transfers."""

    ATTRIBUTES = frozenset({"name", "number"})
    name: Annotated[SwitchText, Field(max_length=64)] | None = None
    number: Dialable | None = None

    @model_validator(mode="after")
    def _something_to_set(self) -> SetCaller:
        if self.name is None and self.number is None:
            raise ValueError("give name, number or both")
        return self


class PlaySound(Verb):
    """Play a file of the sound directory; in background, typed digits go into `digitvar`."""

    ATTRIBUTES = frozenset({"where", "digitvar"})
    TEXT = "filename"
    filename: SoundFilename
    where: Literal["background", "foreground"] = "background"
    digitvar: VariableName | None = None

    @model_validator(mode="after")
    def _digits_need_background(self) -> PlaySound:
        if self.digitvar is not None and self.where == "foreground":
            raise ValueError("digitvar needs where=\"background\": a foreground sound discards digits")
        return self


class SimpleTransfer(Verb):
    """Transfer skipping the destinations' rules; not `final`: the menu goes on when nobody answers."""

    ATTRIBUTES = frozenset({"final", "timeout"})
    TEXT = "destinations"
    destinations: Annotated[
        tuple[Dialable, ...],
        BeforeValidator(_split_destinations),
        Field(min_length=1, max_length=MAX_TRANSFER_DESTINATIONS),
    ]
    final: Annotated[bool, _word_flag("yes", "no")] = True
    timeout: Annotated[int, Field(ge=1, le=MAX_RING_S, description="seconds to answer")] = 30

    @property
    def ends_option(self) -> bool:
        return self.final


class TTS(Verb):
    """Text for the switch's speech synthesis; runs of whitespace become one space."""

    ATTRIBUTES = frozenset({"lang", "play_now"})
    TEXT = "text"
    text: Annotated[
        SwitchText,
        BeforeValidator(lambda v: " ".join(v.split()) if isinstance(v, str) else v),
        Field(min_length=1, max_length=MAX_TTS_CHARS),
    ]
    lang: Annotated[str, Field(pattern=LANGUAGE.pattern)] | None = None
    play_now: Annotated[bool, _word_flag("true", "false")] = True


VERBS: dict[str, type[Verb]] = {
    cls.__name__: cls for cls in (Hangup, Pause, SetVar, Jump, SetCaller, PlaySound, SimpleTransfer, TTS)
}
