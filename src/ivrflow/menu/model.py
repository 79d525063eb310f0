"""Typed, immutable menu model: the resources of the voice-menu REST API.

Field names, units and defaults follow that API, so a YAML file, the API
client and the API server speak the same model. Field-level checks live here;
checks across objects (ids that must exist, reachability) live in `checks`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

SPECIAL_OPTIONS = ("start", "timeout", "invalid")
OPTION_DIGITS = re.compile(r"[0-9*#]+")
DIALABLE = re.compile(r"\+?[0-9*#]{1,32}")
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
MAX_TRANSFER_DESTINATIONS = 10
# Other YAML readers (an editor checking the schema) read an unquoted `071` as
# the number 71; ivrflow keeps it as written (see yaml_source), so the schema
# accepts a number wherever a menu writes digits.
DIGITS_OR_NUMBER: dict[str, Any] = {"type": ["string", "integer"], "minimum": 0}


class Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, coerce_numbers_to_str=True
    )


def _dialable(value: str) -> str:
    if not DIALABLE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a dialable number: use digits, * or #, "
            "with an optional leading + (e.g. \"002\" or \"+79876543210\")"
        )
    return value


def _variable_name(value: str) -> str:
    if not VARIABLE_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid variable name: start with a letter or _, "
            "then letters, digits, _ . or - (no spaces or control characters), at most 64"
        )
    return value


def _printable(value: str) -> str:
    # isprintable() is False for control characters, C1 controls, line and paragraph
    # separators and invisible format characters (bidi overrides, zero-width).
    if not value.isprintable():
        raise ValueError(f"{value!r} contains a newline, control or invisible character; remove it")
    return value


def _switch_safe(value: str) -> str:
    _printable(value)
    if "${" in value:
        raise ValueError(f"{value!r} contains '${{', which FreeSWITCH would expand as a variable; remove it")
    return value


def _destinations(value: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in value.split(","))
    for part in parts:
        _dialable(part)
    return parts


def _sound_filename(value: str) -> str:
    # The path becomes a playback argument: the same rules as any text for the switch.
    _switch_safe(value)
    if value.startswith("/") or ".." in value.split("/") or "\\" in value:
        raise ValueError(
            f"{value!r} must be a path inside the sound directory "
            "(relative, no '..', no backslash)"
        )
    if any(ch.isspace() for ch in value):
        raise ValueError(f"{value!r} contains whitespace; rename the file without spaces")
    return value


Dialable = Annotated[str, AfterValidator(_dialable), Field(json_schema_extra=DIGITS_OR_NUMBER)]
VariableName = Annotated[str, AfterValidator(_variable_name)]
Printable = Annotated[str, AfterValidator(_printable)]
# Text that reaches the switch as an application argument.
SwitchText = Annotated[str, AfterValidator(_switch_safe)]
SoundId = Annotated[int, Field(gt=0, description="id of a sound in `sounds`")]
ContextId = Annotated[int, Field(gt=0, description="id of a context of the same ivr")]
Milliseconds = Annotated[int, Field(ge=0, description="milliseconds")]
# A sound file's path inside the sound directory.
SoundFilename = Annotated[str, Field(min_length=1), AfterValidator(_sound_filename)]


class Sound(Model):
    """A sound file known to the menu (resource /sound/)."""

    id: SoundId
    title: Printable = ""
    filename: SoundFilename
    client_id: int | None = None
    dealer_id: int | None = None


# --- rules: one model per action, discriminated by `action` -----------------


class RuleBase(Model):
    id: int | None = None


class PlaySound(RuleBase):
    action: Literal["play_sound"]
    sound: SoundId
    sound_type: Literal["background", "foreground"] = "background"


class PlaySilence(RuleBase):
    action: Literal["play_silence"]
    silence_time: Annotated[int, Field(gt=0, le=600_000, description="milliseconds")]


def _capped_destinations(value: str) -> str:
    # Both transfers ring every destination at once in one bridge; the API caps
    # `transfer` at 10, and `simple_transfer` takes the same path, so the same cap.
    parts = _destinations(value)
    if len(parts) > MAX_TRANSFER_DESTINATIONS:
        raise ValueError(f"{len(parts)} destinations given, at most {MAX_TRANSFER_DESTINATIONS} are allowed")
    return value


TransferDestinations = Annotated[
    str,
    AfterValidator(_capped_destinations),
    Field(description="one number, or up to 10 separated by commas", json_schema_extra=DIGITS_OR_NUMBER),
]


class TransferRule(RuleBase):
    action: Literal["transfer"]
    transfer_dst: TransferDestinations

    @property
    def destinations(self) -> tuple[str, ...]:
        return _destinations(self.transfer_dst)


class SimpleTransfer(RuleBase):
    action: Literal["simple_transfer"]
    transfer_dst: TransferDestinations

    @property
    def destinations(self) -> tuple[str, ...]:
        return _destinations(self.transfer_dst)


class TransferFromVariable(RuleBase):
    action: Literal["transfer_from_variable"]
    transfer_variable: VariableName


class HangupRule(RuleBase):
    action: Literal["hangup"]


class JumpToContext(RuleBase):
    action: Literal["jump_to_context"]
    context: ContextId
    context_option: Annotated[str, Field(json_schema_extra=DIGITS_OR_NUMBER)] = "start"

    @field_validator("context_option")
    @classmethod
    def _option_key(cls, value: str) -> str:
        return check_option_key(value)


class PlayDigits(RuleBase):
    action: Literal["play_digits"]
    digits: Annotated[str, Field(pattern=r"^[0-9*#]{1,64}$", json_schema_extra=DIGITS_OR_NUMBER)]
    play_digits_method: Literal["iterated", "pronounced"] = "iterated"


class PlayDigitsFromVariable(RuleBase):
    action: Literal["play_digits_from_variable"]
    play_digits_variable: VariableName
    play_digits_method: Literal["iterated", "pronounced"] = "iterated"


class RecordDigits(RuleBase):
    action: Literal["record_digits"]
    record_digits_variable: VariableName
    record_digits_max: Annotated[int, Field(ge=1, le=64)]
    record_digits_sound: SoundId | None = None


class SetVariable(RuleBase):
    action: Literal["set_variable"]
    set_variable_name: VariableName
    set_variable_value: SwitchText = ""


class SetCallerIdNumber(RuleBase):
    action: Literal["set_caller_id_number"]
    caller_id_number: Dialable


class SetCallerIdName(RuleBase):
    action: Literal["set_caller_id_name"]
    caller_id_name: Annotated[SwitchText, Field(max_length=64)]


class CallInteractive(RuleBase):
    action: Literal["call_interactive"]
    call_interactive_url: Annotated[Printable, Field(pattern=r"^https?://\S+$")]
    call_interactive_method: Literal["GET", "POST"] = "GET"
    # [ivrflow] This rule's request deadline; None: the daemon's `webhook_deadline`.
    call_interactive_timeout: Annotated[int, Field(ge=100, le=60_000, description="milliseconds")] | None = None


class QualityRate(RuleBase):
    action: Literal["quality_rate"]
    sound: SoundId
    max_rate: Annotated[int, Field(ge=1, le=9)]


class VoiceHelperRoute(Model):
    to_option: str
    transcription: Printable


class VoiceHelper(RuleBase):
    action: Literal["voice_helper"]
    sound: SoundId | None = None
    voice_helper_rules: tuple[VoiceHelperRoute, ...] = ()
    voice_helper_timeout: Milliseconds = 5000
    voice_helper_digits_max: Annotated[int, Field(ge=1, le=64)] = 1
    voice_helper_classic_term: bool = False
    voice_helper_final_count: Annotated[int, Field(ge=0)] = 0


Rule = Annotated[
    Union[
        PlaySound,
        PlaySilence,
        TransferRule,
        SimpleTransfer,
        TransferFromVariable,
        HangupRule,
        JumpToContext,
        PlayDigits,
        PlayDigitsFromVariable,
        RecordDigits,
        SetVariable,
        SetCallerIdNumber,
        SetCallerIdName,
        CallInteractive,
        QualityRate,
        VoiceHelper,
    ],
    Field(discriminator="action"),
]

def check_option_key(value: str) -> str:
    if value in SPECIAL_OPTIONS or OPTION_DIGITS.fullmatch(value):
        return value
    raise ValueError(
        f"option {value!r} is neither start, timeout, invalid nor a string of 0-9, * and #"
    )


class Context(Model):
    """One menu level (resource .../ivr/context/): its input settings and options."""

    id: ContextId
    name: Printable = ""
    description: Printable | None = None
    timeout: Milliseconds = 5000
    inter_digit_timeout: Milliseconds = 2000
    digit_len: Annotated[int, Field(ge=1, le=32)] = 1
    allow_any_dial: bool = False
    extra_params: str | None = None
    options: dict[str, tuple[Rule, ...]] = Field(default_factory=dict)

    @field_validator("options", mode="before")
    @classmethod
    def _none_is_no_rules(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k): ([] if v is None else v) for k, v in value.items()}
        return value

    @field_validator("options")
    @classmethod
    def _option_keys(cls, value: dict[str, tuple[Rule, ...]]) -> dict[str, tuple[Rule, ...]]:
        for key in value:
            check_option_key(key)
        return value

    def rules(self, option: str) -> tuple[Rule, ...]:
        return self.options.get(option, ())

    @property
    def digit_options(self) -> tuple[str, ...]:
        return tuple(key for key in self.options if key not in SPECIAL_OPTIONS)


class Ivr(Model):
    """An ivr extension (resource /extension/, type ivr) with its settings and contexts."""

    extension: Annotated[
        str, Field(pattern=r"^[0-9*#]{1,32}$", description="the bare name, e.g. 071", json_schema_extra=DIGITS_OR_NUMBER)
    ]
    id: int | None = None
    client_id: int | None = None
    label: Printable = ""
    status: Literal["active", "blocked"] = "active"
    entry_context: Annotated[int, Field(ge=0)] = 0
    sleep_time: Milliseconds = 0
    lifetime: Annotated[int, Field(ge=0, description="seconds; 0 = no limit")] = 1800
    lifetime_exp_action: Literal["hangup", "transfer"] = "hangup"
    lifetime_exp_transfer_dst: Dialable | None = None
    vm_enabled: bool = False
    vm_greeting: int | None = 0
    vm_mailto: Printable | None = None
    vm_attach_file: bool = True
    contexts: tuple[Context, ...] = ()

    def context(self, context_id: int) -> Context | None:
        for context in self.contexts:
            if context.id == context_id:
                return context
        return None


class Menu(Model):
    """A whole menu file: its sounds and its ivrs."""

    sounds: tuple[Sound, ...] = ()
    ivrs: tuple[Ivr, ...] = ()

    def sound(self, sound_id: int) -> Sound | None:
        for sound in self.sounds:
            if sound.id == sound_id:
                return sound
        return None

    def ivr_for(self, extension: str) -> Ivr | None:
        for ivr in self.ivrs:
            if ivr.extension == extension and ivr.status == "active":
                return ivr
        return None


def _models() -> list[type[Model]]:
    rules = list(get_args(get_args(Rule)[0]))
    return [Sound, Context, Ivr, Menu, VoiceHelperRoute, *rules]


ACTION_NAMES = frozenset(
    get_args(m.model_fields["action"].annotation)[0] for m in get_args(get_args(Rule)[0])
)
FIELD_NAMES = frozenset(name for m in _models() for name in m.model_fields)
