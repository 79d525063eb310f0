"""Builders and drivers shared by the engine tests.

* `menu(...)` builds a Menu straight from models (no config checks, so a test
  may build menus `validate` would refuse); `menu_yaml(text)` goes through the
  real loader and its checks.
* Rule shorthands (`bg`, `fg`, `transfer`, ...) keep option tables short.
* `Driver` feeds events to a bare `Call` by hand (h11 style): each method
  returns exactly what the engine output for that one event.
* `brief(output)` turns an output into a short tuple so whole output lists can
  be compared exactly without spelling out timer sequence numbers or play ids
  (those are compared separately where they matter).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ivrflow.menu import Menu
from ivrflow.menu.files import load_menu_text
from ivrflow.engine import (
    ActionDone,
    Answer,
    Call,
    CallerHungUp,
    CallFinished,
    CallRecord,
    CallOptions,
    CallStarted,
    CancelTimer,
    CancelWebhook,
    ContextEntered,
    DtmfReceived,
    Event,
    FetchWebhook,
    Hangup,
    InputResolved,
    KeepMessage,
    Notice,
    Output,
    Play,
    PlaybackFinished,
    PlaySilence,
    PROGRESS_TYPES,
    RatingGiven,
    RecordMessage,
    SayDigits,
    SetCallerId,
    SetVariable,
    Speak,
    StartSpeech,
    StartTimer,
    StopPlayback,
    StopSpeech,
    SwitchFailed,
    Timer,
    TimerFired,
    TimerKind,
    Transfer,
    TransferFinished,
    WebhookReplied,
)
from ivrflow.menu.verbs import Verb
from ivrflow.tools.virtual_switch import VirtualSwitch

# Sound ids used throughout: 1 bg.wav, 2 fg.wav, 3 rec.wav, 4 other.wav.
SOUNDS = (
    {"id": 1, "filename": "bg.wav"},
    {"id": 2, "filename": "fg.wav"},
    {"id": 3, "filename": "rec.wav"},
    {"id": 4, "filename": "other.wav"},
)
# Durations for VirtualSwitch; different lengths so timings cannot coincide by accident.
DURATIONS = {"bg.wav": 3.0, "fg.wav": 4.0, "rec.wav": 1.5, "other.wav": 2.5}

OUTCOMES = frozenset({"transfer", "hangup", "caller_hangup", "lifetime", "error"})


# --- rule shorthands ---------------------------------------------------------


def bg(sound: int = 1) -> dict[str, Any]:
    return {"action": "play_sound", "sound": sound, "sound_type": "background"}


def fg(sound: int = 2) -> dict[str, Any]:
    return {"action": "play_sound", "sound": sound, "sound_type": "foreground"}


def silence(ms: int) -> dict[str, Any]:
    return {"action": "play_silence", "silence_time": ms}


def transfer(dst: str) -> dict[str, Any]:
    return {"action": "transfer", "transfer_dst": dst}


def simple_transfer(dst: str) -> dict[str, Any]:
    return {"action": "simple_transfer", "transfer_dst": dst}


def transfer_var(name: str) -> dict[str, Any]:
    return {"action": "transfer_from_variable", "transfer_variable": name}


def hangup() -> dict[str, Any]:
    return {"action": "hangup"}


def jump(context: int, option: str = "start") -> dict[str, Any]:
    return {"action": "jump_to_context", "context": context, "context_option": option}


def say(digits: str, method: str = "iterated") -> dict[str, Any]:
    return {"action": "play_digits", "digits": digits, "play_digits_method": method}


def say_var(name: str, method: str = "iterated") -> dict[str, Any]:
    return {"action": "play_digits_from_variable", "play_digits_variable": name, "play_digits_method": method}


def record(name: str, max_digits: int, sound: int | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"action": "record_digits", "record_digits_variable": name, "record_digits_max": max_digits}
    if sound is not None:
        rule["record_digits_sound"] = sound
    return rule


def set_var(name: str, value: str) -> dict[str, Any]:
    return {"action": "set_variable", "set_variable_name": name, "set_variable_value": value}


def caller_number(number: str) -> dict[str, Any]:
    return {"action": "set_caller_id_number", "caller_id_number": number}


def caller_name(name: str) -> dict[str, Any]:
    return {"action": "set_caller_id_name", "caller_id_name": name}


def call_interactive(url: str = "https://example.com/hook", **fields: Any) -> dict[str, Any]:
    return {"action": "call_interactive", "call_interactive_url": url, **fields}


def quality_rate(sound: int = 3, max_rate: int = 5) -> dict[str, Any]:
    return {"action": "quality_rate", "sound": sound, "max_rate": max_rate}


def voice_helper(**fields: Any) -> dict[str, Any]:
    return {"action": "voice_helper", "sound": 1, **fields}


# --- menus -------------------------------------------------------------------


def context(options: Mapping[str, Iterable[Mapping[str, Any]]] | None = None, id: int = 1, **settings: Any) -> dict[str, Any]:
    """A context dict; input settings default to timeout 5 s, inter-digit 2 s, digit_len 1."""
    data: dict[str, Any] = {"id": id, "timeout": 5000, "inter_digit_timeout": 2000, "digit_len": 1}
    data.update(settings)
    data["options"] = {key: list(rules) for key, rules in (options or {}).items()}
    return data


def menu(*contexts: Mapping[str, Any], sleep_time: int = 0, lifetime: int = 0, **ivr: Any) -> Menu:
    """A Menu with one ivr "100" built straight from models (no cross-object checks).

    `sleep_time` and `lifetime` default to 0 so that, unless a test asks for
    them, no SLEEP or LIFETIME timer appears in the outputs.
    """
    data: dict[str, Any] = {
        "extension": "100",
        "entry_context": contexts[0]["id"],
        "sleep_time": sleep_time,
        "lifetime": lifetime,
        "contexts": list(contexts),
    }
    data.update(ivr)
    return Menu.model_validate({"sounds": list(SOUNDS), "ivrs": [data]})


def one_context(options: Mapping[str, Iterable[Mapping[str, Any]]], *, ivr: Mapping[str, Any] | None = None, **settings: Any) -> Menu:
    return menu(context(options, **settings), **dict(ivr or {}))


def menu_yaml(text: str) -> Menu:
    """A Menu through the real loader, with every config check."""
    return load_menu_text(text, "test.yaml").menu


# --- drivers -----------------------------------------------------------------


class Driver:
    """Feeds events to a bare Call, remembering live play ids and timers."""

    def __init__(self, the_menu: Menu, options: CallOptions = CallOptions()) -> None:
        self.call = Call(the_menu, the_menu.ivrs[0], options)
        self.now = 0.0
        self.log: list[Output] = []
        self.plays: list[int] = []  # play ids in order of Play/PlaySilence/SayDigits
        self.timers: dict[TimerKind, Timer] = {}  # the last started timer of each kind
        self.all_timers: list[Timer] = []
        self.fired: list[Timer] = []
        self.cancelled: list[Timer] = []
        self.jobs: list[FetchWebhook] = []

    def feed(self, event: Event) -> list[Output]:
        if isinstance(event, TimerFired):
            self.fired.append(event.timer)
        out = self.call.handle(event)
        for output in out:
            if isinstance(output, (Play, PlaySilence, SayDigits, Speak)):
                self.plays.append(output.play_id)
            elif isinstance(output, StartTimer):
                self.timers[output.timer.kind] = output.timer
                self.all_timers.append(output.timer)
            elif isinstance(output, CancelTimer):
                self.cancelled.append(output.timer)
            elif isinstance(output, FetchWebhook):
                self.jobs.append(output)
        self.log.extend(out)
        return out

    def at(self, seconds: float) -> Driver:
        self.now = seconds
        return self

    def start(self, variables: Mapping[str, str] | None = None) -> list[Output]:
        return self.feed(CallStarted(self.now, dict(variables or {})))

    def press(self, digits: str) -> list[Output]:
        out: list[Output] = []
        for digit in digits:
            out.extend(self.feed(DtmfReceived(self.now, digit)))
        return out

    def played(self, play_id: int | None = None, error: str | None = None) -> list[Output]:
        """The last prompt (or `play_id`) ended."""
        return self.feed(PlaybackFinished(self.now, self.plays[-1] if play_id is None else play_id, error))

    def fire(self, kind: TimerKind) -> list[Output]:
        """The last started timer of `kind` fires."""
        return self.feed(TimerFired(self.now, self.timers[kind]))

    def hang_up(self, cause: str = "NORMAL_CLEARING") -> list[Output]:
        return self.feed(CallerHungUp(self.now, cause))

    def transfer_result(self, ok: bool, cause: str = "") -> list[Output]:
        return self.feed(TransferFinished(self.now, ok, cause))

    def reply(self, *verbs: Verb, error: str | None = None, job: int | None = None) -> list[Output]:
        """The last webhook request (or `job`) came back."""
        return self.feed(WebhookReplied(self.now, self.jobs[-1].job if job is None else job, verbs, error))

    def switch_failed(self, reason: str) -> list[Output]:
        return self.feed(SwitchFailed(self.now, reason))

    def live_timers(self) -> set[Timer]:
        """Timers started and neither cancelled nor fired, as the adapter sees them."""
        return set(self.all_timers) - set(self.cancelled) - set(self.fired)

    @property
    def record(self) -> CallRecord:
        assert self.call.record is not None, "the call has not ended"
        return self.call.record


def switch(the_menu: Menu, durations: Mapping[str, float] = DURATIONS, transfer_ok: bool = True) -> VirtualSwitch:
    return VirtualSwitch(Call(the_menu, the_menu.ivrs[0]), durations, transfer_ok)


# --- reading outputs ---------------------------------------------------------


def brief(output: Output) -> tuple[Any, ...]:
    match output:
        case Answer():
            return ("answer",)
        case Play(filename=filename, interruptible=interruptible):
            return ("play", filename, "bg" if interruptible else "fg")
        case PlaySilence(milliseconds=ms, interruptible=interruptible):
            return ("silence", ms, "bg" if interruptible else "fg")
        case SayDigits(digits=digits, method=method, interruptible=interruptible):
            return ("say", digits, method, "bg" if interruptible else "fg")
        case StopPlayback():
            return ("stop",)
        case Speak(engine=engine, voice=voice, text=text, interruptible=interruptible):
            return ("speak", engine, voice, text, "bg" if interruptible else "fg")
        case StartSpeech(engine=engine, grammar=grammar):
            return ("listen", engine, grammar)
        case StopSpeech():
            return ("stop_listening",)
        case StartTimer(timer=timer, seconds=seconds):
            return ("timer", timer.kind.value, seconds)
        case CancelTimer(timer=timer):
            return ("cancel", timer.kind.value)
        case SetVariable(name=name, value=value):
            return ("set", name, value)
        case SetCallerId(field=field, value=value):
            return ("caller_id", field, value)
        case Transfer(destinations=destinations, kind=kind, ring_timeout=ring):
            shown = ("transfer", *destinations) if kind == "transfer" else ("simple_transfer", *destinations)
            return shown if ring is None else (*shown, f"ring {ring} s")
        case FetchWebhook(url=url, method=method):
            return ("fetch", method, url)
        case CancelWebhook():
            return ("cancel_fetch",)
        case RecordMessage(max_seconds=seconds, silence_threshold=threshold, silence_seconds=silent):
            return ("record_message", seconds, threshold, silent)
        case KeepMessage(duration_s=duration):
            return ("keep_message", duration)
        case Hangup(cause=cause):
            return ("hangup", cause)
        case CallFinished(record=rec):
            return ("finished", rec.outcome)
        case Notice():
            return ("notice",)
        case ContextEntered(context=ctx, option=option):
            return ("enter", ctx, option)
        case InputResolved(result=result, option=option):
            return ("resolved", result, option)
        case ActionDone(action=action, result=result):
            return ("done", action, result)
        case RatingGiven(rating=rating):
            return ("rated", rating.rate, rating.max_rate)
    raise AssertionError(f"unknown output {output!r}")


def briefs(outputs: Iterable[Output]) -> list[tuple[Any, ...]]:
    return [brief(o) for o in outputs]


def commands(outputs: Iterable[Output]) -> list[tuple[Any, ...]]:
    """Brief forms of the commands only (progress outputs dropped)."""
    return [brief(o) for o in outputs if not isinstance(o, PROGRESS_TYPES)]


def switch_commands(outputs: Iterable[Output]) -> list[tuple[Any, ...]]:
    """Commands that reach the switch: no timers, no progress, no CallFinished."""
    return [
        brief(o)
        for o in outputs
        if not isinstance(o, (*PROGRESS_TYPES, StartTimer, CancelTimer, CallFinished))
    ]


def first_time(sw: VirtualSwitch, kind: type, **fields: Any) -> float:
    """Virtual time of the first output of `kind` whose attributes equal `fields`."""
    for when, output in sw.log:
        if isinstance(output, kind) and all(getattr(output, k) == v for k, v in fields.items()):
            return when
    raise AssertionError(f"no {kind.__name__} {fields} in the log")


def timed(sw: VirtualSwitch, kinds: tuple[type, ...] = (Play, PlaySilence, SayDigits, StopPlayback, Transfer, Hangup)) -> list[tuple[float, tuple[Any, ...]]]:
    """(time, brief) of the switch-facing outputs, for timeline assertions."""
    return [(round(when, 6), brief(output)) for when, output in sw.log if isinstance(output, kinds)]
