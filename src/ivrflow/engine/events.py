"""What happens to a call: the engine's inputs.

Every event carries `at`, the adapter's monotonic clock in seconds; the engine
reads time from nothing else. Constructors check every field, so an event
that exists is valid: a bad value raises TypeError or ValueError where the
adapter builds it, not somewhere inside a call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..menu.verbs import Verb
from .checks import check_count, check_flag, check_text, check_time, check_type
from .outputs import Timer
from .record import DestinationOutcome

DTMF_DIGITS = frozenset("0123456789*#")
INF = math.inf

# Each check's common case is written inline: an event is built per key, per
# prompt and per timer, and a call to the checks module would double the cost.
# The checks module words the error (and accepts an int `at`).


@dataclass(frozen=True, slots=True)
class CallStarted:
    """The call reached the menu; `variables` are the switch channel's variables.

    `variables` must be a Mapping; its items are not read here, since an
    adapter may hand over a view that decodes each value only when asked.
    """

    at: float
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        check_type(self, "variables", self.variables, Mapping)


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    """A Play/PlaySilence/SayDigits ended, played out or stopped; `error` if it could not play."""

    at: float
    play_id: int
    error: str | None = None

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        if type(self.play_id) is not int or self.play_id < 0:
            check_count(self, "play_id", self.play_id)
        if self.error is not None:
            check_text(self, "error", self.error)


@dataclass(frozen=True, slots=True)
class DtmfReceived:
    at: float
    digit: str

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        if self.digit not in DTMF_DIGITS:
            check_type(self, "digit", self.digit, str)
            raise ValueError(f"not a DTMF digit: {self.digit!r}")


@dataclass(frozen=True, slots=True)
class TimerFired:
    at: float
    timer: Timer

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        if type(self.timer) is not Timer:
            check_type(self, "timer", self.timer, Timer)


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    at: float
    cause: str = "NORMAL_CLEARING"

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        check_text(self, "cause", self.cause)


@dataclass(frozen=True, slots=True)
class TransferFinished:
    """The switch's verdict on a Transfer: the call left for its destination, or not.

    `destinations`: how each destination of a bridged transfer ended, as far as the switch told.
    """

    at: float
    ok: bool
    cause: str = ""
    destinations: tuple[DestinationOutcome, ...] = ()

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        check_flag(self, "ok", self.ok)
        check_text(self, "cause", self.cause)
        check_type(self, "destinations", self.destinations, tuple)
        for outcome in self.destinations:
            check_type(self, "destinations[]", outcome, DestinationOutcome)


@dataclass(frozen=True, slots=True)
class SwitchFailed:
    """The switch could not carry out a command; the call cannot go on."""

    at: float
    reason: str

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        check_text(self, "reason", self.reason)


@dataclass(frozen=True, slots=True)
class ShutdownRequested:
    """The runtime is stopping and the call may not wait any longer: hang it up."""

    at: float
    reason: str

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        check_text(self, "reason", self.reason)


@dataclass(frozen=True, slots=True)
class WebhookReplied:
    """The outcome of FetchWebhook(job): the reply's verbs, or `error` (the request failed or the reply was refused)."""

    at: float
    job: int
    verbs: tuple[Verb, ...] = ()
    error: str | None = None

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        check_count(self, "job", self.job)
        check_type(self, "verbs", self.verbs, tuple)
        for verb in self.verbs:
            check_type(self, "verbs[]", verb, Verb)
        if self.error is not None:
            check_text(self, "error", self.error)


@dataclass(frozen=True, slots=True)
class SpeechDetected:
    """The switch's final transcription for StartSpeech(listen_id); "" when it understood nothing."""

    at: float
    listen_id: int
    text: str

    def __post_init__(self) -> None:
        check_time(self, "at", self.at)
        check_count(self, "listen_id", self.listen_id)
        check_text(self, "text", self.text)


@dataclass(frozen=True, slots=True)
class MessageRecorded:
    """The end of RecordMessage(job): how long the message is, or `error` if the switch recorded none."""

    at: float
    job: int
    duration_s: float = 0.0
    error: str | None = None

    def __post_init__(self) -> None:
        if not (type(self.at) is float and 0.0 <= self.at < INF):
            check_time(self, "at", self.at)
        check_count(self, "job", self.job)
        check_time(self, "duration_s", self.duration_s)
        if self.error is not None:
            check_text(self, "error", self.error)


Event = (
    CallStarted
    | PlaybackFinished
    | DtmfReceived
    | TimerFired
    | CallerHungUp
    | TransferFinished
    | SwitchFailed
    | ShutdownRequested
    | WebhookReplied
    | SpeechDetected
    | MessageRecorded
)
