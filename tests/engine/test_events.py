"""Events, timers and outputs check their fields when built: an invalid one cannot exist."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest

from ivrflow.engine import (
    MAX_TEXT_LENGTH,
    CallerHungUp,
    CallStarted,
    CancelTimer,
    DtmfReceived,
    Hangup,
    Play,
    PlaybackFinished,
    PlaySilence,
    SayDigits,
    ShutdownRequested,
    StartTimer,
    StopPlayback,
    SwitchFailed,
    Timer,
    TimerFired,
    TimerKind,
    Transfer,
    TransferFinished,
    DestinationOutcome,
)

TIMER = Timer(TimerKind.INTER_DIGIT, 3)
LONG = "x" * (MAX_TEXT_LENGTH + 1)

# (what is built, the exception it must raise)
INVALID: list[tuple[str, Callable[[], object], type[Exception]]] = [
    ("at is NaN", lambda: DtmfReceived(float("nan"), "1"), ValueError),
    ("at is infinite", lambda: PlaybackFinished(float("inf"), 1), ValueError),
    ("at is negative", lambda: CallerHungUp(-0.5), ValueError),
    ("at is a str", lambda: TimerFired("1.0", TIMER), TypeError),  # type: ignore[arg-type]
    ("at is a bool", lambda: SwitchFailed(True, "x"), TypeError),
    ("at is None", lambda: ShutdownRequested(None, "x"), TypeError),  # type: ignore[arg-type]
    ("not a DTMF digit", lambda: DtmfReceived(1.0, "A"), ValueError),
    ("two digits", lambda: DtmfReceived(1.0, "12"), ValueError),
    ("digit is an int", lambda: DtmfReceived(1.0, 1), TypeError),  # type: ignore[arg-type]
    ("play_id negative", lambda: PlaybackFinished(1.0, -1), ValueError),
    ("play_id a str", lambda: PlaybackFinished(1.0, "1"), TypeError),  # type: ignore[arg-type]
    ("play_id a bool", lambda: PlaybackFinished(1.0, True), TypeError),
    ("playback error not a str", lambda: PlaybackFinished(1.0, 1, 500), TypeError),  # type: ignore[arg-type]
    ("playback error too long", lambda: PlaybackFinished(1.0, 1, LONG), ValueError),
    ("timer not a Timer", lambda: TimerFired(1.0, (TimerKind.SLEEP, 1)), TypeError),  # type: ignore[arg-type]
    ("cause not a str", lambda: CallerHungUp(1.0, None), TypeError),  # type: ignore[arg-type]
    ("cause too long", lambda: CallerHungUp(1.0, LONG), ValueError),
    ("ok not a bool", lambda: TransferFinished(1.0, 1), TypeError),  # type: ignore[arg-type]
    ("transfer cause too long", lambda: TransferFinished(1.0, False, LONG), ValueError),
    ("destination outcome not one", lambda: TransferFinished(1.0, False, "", ("300",)), TypeError),  # type: ignore[arg-type]
    ("destination outcome unknown", lambda: DestinationOutcome("300", "maybe"), ValueError),  # type: ignore[arg-type]
    ("reason too long", lambda: SwitchFailed(1.0, LONG), ValueError),
    ("reason not a str", lambda: ShutdownRequested(1.0, b"SIGTERM"), TypeError),  # type: ignore[arg-type]
    ("variables not a Mapping", lambda: CallStarted(1.0, [("a", "1")]), TypeError),  # type: ignore[arg-type]
    ("timer kind a str", lambda: Timer("sleep", 1), TypeError),  # type: ignore[arg-type]
    ("timer seq negative", lambda: Timer(TimerKind.SLEEP, -1), ValueError),
    ("play id negative", lambda: Play(-1, "a.wav", True), ValueError),
    ("silence play id a float", lambda: PlaySilence(1.0, 100), TypeError),  # type: ignore[arg-type]
    ("say play id None", lambda: SayDigits(None, "1", "iterated"), TypeError),  # type: ignore[arg-type]
    ("stop play id negative", lambda: StopPlayback(-2), ValueError),
    ("timer seconds NaN", lambda: StartTimer(TIMER, float("nan")), ValueError),
    ("timer seconds negative", lambda: StartTimer(TIMER, -1.0), ValueError),
    ("cancel not a Timer", lambda: CancelTimer(TimerKind.SLEEP), TypeError),  # type: ignore[arg-type]
    ("no destination", lambda: Transfer((), "transfer"), ValueError),
    ("destinations a list", lambda: Transfer(["200"], "transfer"), TypeError),  # type: ignore[arg-type]
    ("destination not a str", lambda: Transfer((200,), "transfer"), TypeError),  # type: ignore[arg-type]
    ("hangup cause too long", lambda: Hangup(LONG), ValueError),
]


@pytest.mark.parametrize(("build", "error"), [(b, e) for _, b, e in INVALID], ids=[n for n, _, _ in INVALID])
def test_an_invalid_field_is_refused_at_construction(build: Callable[[], object], error: type[Exception]) -> None:
    with pytest.raises(error):
        build()


def test_the_error_names_the_class_and_the_field() -> None:
    with pytest.raises(ValueError, match=r"PlaybackFinished\.play_id must be >= 0"):
        PlaybackFinished(1.0, -1)
    with pytest.raises(TypeError, match=r"TimerFired\.at must be a number of seconds"):
        TimerFired("soon", TIMER)  # type: ignore[arg-type]


VALID_EVENTS: list[Any] = [
    CallStarted(0, MappingProxyType({"a": "1"})),  # an int time is a time
    CallStarted(0.0),
    PlaybackFinished(12.5, 0, "-ERR file not found"),
    DtmfReceived(3.0, "#"),
    TimerFired(1.0, Timer(TimerKind.LIFETIME, 0)),
    CallerHungUp(1.0, "x" * MAX_TEXT_LENGTH),
    TransferFinished(1.0, False, ""),
    SwitchFailed(1.0, ""),
]


@pytest.mark.parametrize("value", VALID_EVENTS, ids=lambda v: type(v).__name__)
def test_valid_events_build_and_replace_checks_again(value: Any) -> None:
    assert replace(value, at=value.at + 1.0).at == value.at + 1.0
    with pytest.raises(ValueError):
        replace(value, at=-1.0)
