"""What the engine asks of the switch (commands) and tells its observers (progress).

Commands are switch-neutral: an adapter turns each into the switch's own
protocol. Progress outputs change nothing on the switch; adapters pass them to
observers (metrics, logs) and otherwise ignore them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from .checks import check_count, check_text, check_time, check_type
from .record import CallRecord, Rating


class TimerKind(StrEnum):
    SLEEP = "sleep"  # sleep_time before the entry context
    LIFETIME = "lifetime"  # the call's whole stay in the menu
    FIRST_DIGIT = "first_digit"  # context timeout: end of start rules to the first digit
    INTER_DIGIT = "inter_digit"  # between two digits of one entry
    WEBHOOK = "webhook"  # a call_interactive request's deadline (a backstop behind the client's own)
    SPEECH = "speech"  # voice_helper_timeout: the sound's end (or a key) to the next key or a transcription
    VOICEMAIL = "voicemail"  # a recording's longest length plus a grace: the switch must have reported its end


@dataclass(frozen=True, slots=True)
class Timer:
    kind: TimerKind
    seq: int  # distinguishes a timer from an earlier one of the same kind

    def __post_init__(self) -> None:
        # inline common case, as in events.py: a timer is made per key
        if type(self.kind) is not TimerKind or type(self.seq) is not int or self.seq < 0:
            check_type(self, "kind", self.kind, TimerKind)
            check_count(self, "seq", self.seq)


@dataclass(frozen=True, slots=True)
class Answer:
    pass


@dataclass(frozen=True, slots=True)
class Play:
    """Play a sound file (a path relative to the sound directory)."""

    play_id: int
    filename: str
    interruptible: bool

    def __post_init__(self) -> None:
        check_count(self, "play_id", self.play_id)


@dataclass(frozen=True, slots=True)
class PlaySilence:
    play_id: int
    milliseconds: int
    interruptible: bool = True

    def __post_init__(self) -> None:
        check_count(self, "play_id", self.play_id)


@dataclass(frozen=True, slots=True)
class SayDigits:
    play_id: int
    digits: str
    method: Literal["iterated", "pronounced"]
    interruptible: bool = True

    def __post_init__(self) -> None:
        check_count(self, "play_id", self.play_id)


@dataclass(frozen=True, slots=True)
class Speak:
    """Speak `text` with the switch's speech synthesis; ends with PlaybackFinished(play_id) like a sound."""

    play_id: int
    engine: str
    voice: str
    text: str
    interruptible: bool = True

    def __post_init__(self) -> None:
        check_count(self, "play_id", self.play_id)


@dataclass(frozen=True, slots=True)
class StartSpeech:
    """Start recognising the caller's speech; the switch answers with SpeechDetected(listen_id)."""

    listen_id: int
    engine: str
    grammar: str

    def __post_init__(self) -> None:
        check_count(self, "listen_id", self.listen_id)


@dataclass(frozen=True, slots=True)
class StopSpeech:
    """Stop the recognition StartSpeech(listen_id) started; a transcription after it is not wanted."""

    listen_id: int

    def __post_init__(self) -> None:
        check_count(self, "listen_id", self.listen_id)


@dataclass(frozen=True, slots=True)
class StopPlayback:
    play_id: int

    def __post_init__(self) -> None:
        check_count(self, "play_id", self.play_id)


@dataclass(frozen=True, slots=True)
class StartTimer:
    timer: Timer
    seconds: float

    def __post_init__(self) -> None:
        if type(self.timer) is not Timer or type(self.seconds) is not float or not 0.0 <= self.seconds < math.inf:
            check_type(self, "timer", self.timer, Timer)
            check_time(self, "seconds", self.seconds)


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: Timer

    def __post_init__(self) -> None:
        check_type(self, "timer", self.timer, Timer)


@dataclass(frozen=True, slots=True)
class SetVariable:
    """Set a call variable, exported to the switch channel."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class SetCallerId:
    """Caller number or name presented on later transfers."""

    field: Literal["number", "name"]
    value: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """Hand the call to its destination(s); several ring together.

    `kind` is `transfer` (through the destinations' own incoming-call rules) or
    `simple_transfer` (skipping them). The adapter answers with TransferFinished.
    """

    destinations: tuple[str, ...]
    kind: Literal["transfer", "simple_transfer"]
    # Seconds the destinations may ring. Set: the call stays with ivrflow (a bridge), and
    # TransferFinished says whether one answered; the engine decides what follows if not
    # (the menu goes on, or voicemail). None: one destination leaves through the dialplan.
    ring_timeout: int | None = None

    def __post_init__(self) -> None:
        if self.ring_timeout is not None:
            check_count(self, "ring_timeout", self.ring_timeout)
        check_type(self, "destinations", self.destinations, tuple)
        if not self.destinations:
            raise ValueError("Transfer.destinations is empty")
        for destination in self.destinations:
            check_type(self, "destinations[]", destination, str)


@dataclass(frozen=True, slots=True)
class Hangup:
    cause: str = "NORMAL_CLEARING"

    def __post_init__(self) -> None:
        check_text(self, "cause", self.cause)


@dataclass(frozen=True, slots=True)
class FetchWebhook:
    """Start a call_interactive request outside the call; WebhookReplied(job) brings its verdict.

    `url` and `method` are the rule's; `variables` the call's own (set by its
    rules and earlier replies), sent with the request and filled into the URL.
    """

    job: int
    url: str
    method: Literal["GET", "POST"]
    variables: tuple[tuple[str, str], ...]
    deadline_s: float

    def __post_init__(self) -> None:
        check_count(self, "job", self.job)
        check_time(self, "deadline_s", self.deadline_s)


@dataclass(frozen=True, slots=True)
class CancelWebhook:
    """Stop a request whose reply is no longer wanted (the caller hung up, the lifetime ran out)."""

    job: int

    def __post_init__(self) -> None:
        check_count(self, "job", self.job)


@dataclass(frozen=True, slots=True)
class RecordMessage:
    """Record the caller's voicemail now (the greeting and beep have played); MessageRecorded(job) brings its end.

    The recording ends on `#`, after `max_seconds`, or after `silence_seconds` below the
    switch's energy `silence_threshold` (0: no silence cut-off). Where it is kept is the call layer's choice.
    """

    job: int
    max_seconds: int
    silence_threshold: int
    silence_seconds: int

    def __post_init__(self) -> None:
        for name in ("job", "max_seconds", "silence_threshold", "silence_seconds"):
            check_count(self, name, getattr(self, name))


@dataclass(frozen=True, slots=True)
class KeepMessage:
    """The recording of RecordMessage(job) is a message: into the voicemail spool with it (then the mail)."""

    job: int
    duration_s: float

    def __post_init__(self) -> None:
        check_count(self, "job", self.job)
        check_time(self, "duration_s", self.duration_s)


@dataclass(frozen=True, slots=True)
class CallFinished:
    """The last output of every call: its record. Nothing follows it."""

    record: CallRecord


# --- progress: for observers only --------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """Something an operator should read in the log (e.g. an action skipped)."""

    message: str


@dataclass(frozen=True, slots=True)
class ContextEntered:
    context: int
    option: str


@dataclass(frozen=True, slots=True)
class InputResolved:
    """An entry ended. `result` is option, direct_dial, invalid or timeout; `option` the one run."""

    context: int
    result: Literal["option", "direct_dial", "invalid", "timeout"]
    option: str | None


@dataclass(frozen=True, slots=True)
class ActionDone:
    """A rule's action ran (`ok`), failed, or was skipped; `not_rated`: a quality_rate got no rating."""

    action: str
    result: Literal["ok", "failed", "skipped", "not_rated"]


@dataclass(frozen=True, slots=True)
class RatingGiven:
    """The caller rated the call (quality_rate); the same rating is in the call's record."""

    rating: Rating


Command = (
    Answer
    | Play
    | PlaySilence
    | SayDigits
    | Speak
    | StopPlayback
    | StartSpeech
    | StopSpeech
    | StartTimer
    | CancelTimer
    | SetVariable
    | SetCallerId
    | Transfer
    | Hangup
    | FetchWebhook
    | CancelWebhook
    | RecordMessage
    | KeepMessage
    | CallFinished
)
Progress = Notice | ContextEntered | InputResolved | ActionDone | RatingGiven
Output = Command | Progress
PROGRESS_TYPES = (Notice, ContextEntered, InputResolved, ActionDone, RatingGiven)
