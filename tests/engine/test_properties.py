"""Property tests: random menus and random event sequences never break the engine's promises.

* `handle` never raises;
* a call that ends has exactly one CallFinished, as its very last output, with
  an outcome in the allowed set; nothing follows it, whatever arrives later;
* a Hangup is only ever the output right before CallFinished, and after the
  caller hangs up nothing but timer cancellations and the record come out;
* StopPlayback names only prompts that were started, StopSpeech only listens
  that were; Transfer destinations are dialable; with a lifetime, every call
  ends by itself.

Menus are generated straight as models (so also ones `validate` would refuse:
unknown jump targets, silent jump loops) plus the example menu "071".
Timeouts are at least 100 ms so that virtual time always moves on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import accumulate
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ivrflow.menu import Menu
from ivrflow.menu.files import load_menu_file
from ivrflow.menu.model import DIALABLE
from ivrflow.engine import (
    Call,
    CallerHungUp,
    CallOptions,
    CallStarted,
    DtmfReceived,
    SpeechDetected,
    SpeechRecognition,
    StartSpeech,
    StopSpeech,
    InputResolved,
    SetVariable,
    ShutdownRequested,
    CallFinished,
    CancelTimer,
    Event,
    Hangup,
    Output,
    Play,
    PlaybackFinished,
    PlaySilence,
    SayDigits,
    StopPlayback,
    SwitchFailed,
    Timer,
    TimerFired,
    TimerKind,
    Transfer,
    TransferFinished,
)
from ivrflow.tools.virtual_switch import VirtualSwitch

from .helpers import (
    OUTCOMES,
    SOUNDS,
    bg,
    call_interactive,
    caller_name,
    caller_number,
    fg,
    hangup,
    jump,
    quality_rate,
    record,
    say,
    say_var,
    set_var,
    silence,
    simple_transfer,
    transfer,
    transfer_var,
    voice_helper,
)

EXAMPLE = load_menu_file(Path(__file__).resolve().parents[2] / "config" / "example.yaml").menu
OPTION_KEYS = ("start", "timeout", "invalid", "1", "2", "12", "#", "1#", "*")
VARIABLES = ("a", "b")

sound_ids = st.integers(1, len(SOUNDS))
rules = st.one_of(
    sound_ids.map(bg),
    sound_ids.map(fg),
    st.integers(100, 3000).map(silence),
    st.sampled_from(["1", "42", "*0#"]).map(say),
    st.sampled_from(["200", "+79876543210", "200,201"]).map(transfer),
    st.sampled_from(["300", "300,301"]).map(simple_transfer),
    st.sampled_from(VARIABLES).map(transfer_var),
    st.just(hangup()),
    st.builds(jump, st.sampled_from([1, 2, 3, 1, 2, 3, 4]), st.sampled_from(OPTION_KEYS)),  # context 4 never exists
    st.sampled_from(VARIABLES).map(say_var),
    st.builds(record, st.sampled_from(VARIABLES), st.integers(1, 3), st.one_of(st.none(), sound_ids)),
    st.builds(set_var, st.sampled_from(VARIABLES), st.sampled_from(["", "12", "x", "+7900"])),
    st.just(caller_number("+74950000000")),
    st.just(caller_name("Shop")),
    st.sampled_from([call_interactive(), quality_rate(), voice_helper(voice_helper_rules=[{"to_option": "1", "transcription": "one"}])]),
)


@st.composite
def contexts(draw: st.DrawFn, context_id: int) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(OPTION_KEYS), unique=True, max_size=5))
    if draw(st.booleans()) and "start" not in keys:
        keys.insert(0, "start")
    return {
        "id": context_id,
        "timeout": draw(st.integers(100, 6000)),
        "inter_digit_timeout": draw(st.integers(100, 3000)),
        "digit_len": draw(st.integers(1, 3)),
        "allow_any_dial": draw(st.booleans()),
        "options": {key: draw(st.lists(rules, max_size=3)) for key in keys},
    }


@st.composite
def random_menus(draw: st.DrawFn) -> Menu:
    count = draw(st.integers(1, 3))
    ivr: dict[str, Any] = {
        "extension": "100",
        "entry_context": 1,
        "sleep_time": draw(st.sampled_from([0, 500, 2000])),
        "lifetime": draw(st.sampled_from([0, 20, 120])),
        "contexts": [draw(contexts(i)) for i in range(1, count + 1)],
    }
    if draw(st.booleans()):
        ivr["lifetime_exp_action"] = "transfer"
        ivr["lifetime_exp_transfer_dst"] = "777"
    return Menu.model_validate({"sounds": list(SOUNDS), "ivrs": [ivr]})


# A few hand-made menus reach what random ones seldom do: lifetime, loops, records feeding transfers.
HANDMADE = (
    EXAMPLE,
    Menu.model_validate(
        {
            "sounds": list(SOUNDS),
            "ivrs": [
                {
                    "extension": "100",
                    "entry_context": 1,
                    "lifetime": 25,
                    "lifetime_exp_action": "transfer",
                    "lifetime_exp_transfer_dst": "777",
                    "contexts": [
                        {
                            "id": 1,
                            "digit_len": 2,
                            "allow_any_dial": True,
                            "options": {
                                "start": [bg(1), fg(2)],
                                "timeout": [jump(1)],
                                "invalid": [say("0"), jump(1)],
                                "1": [record("a", 3, 3), transfer_var("a"), jump(2)],
                            },
                        },
                        {"id": 2, "options": {"start": [say_var("a")], "timeout": [jump(1, "timeout")], "#": [hangup()]}},
                    ],
                }
            ],
        }
    ),
)
menus = st.one_of(random_menus(), st.sampled_from(HANDMADE))

steps = st.one_of(
    st.tuples(st.just("press"), st.text("0123456789*#", min_size=1, max_size=4)),
    st.tuples(st.just("advance"), st.floats(0.0, 12.0)),
    st.tuples(st.just("hangup")),
    st.tuples(st.just("play_finished"), st.integers(0, 12)),
    st.tuples(st.just("timer"), st.sampled_from(list(TimerKind)), st.integers(0, 40)),
    st.tuples(st.just("transfer_finished"), st.booleans()),
    st.tuples(st.just("switch_failed")),
    st.tuples(st.just("shutdown")),
)


def event_for(step: tuple[Any, ...], now: float) -> Event | None:
    match step:
        case ("hangup",):
            return CallerHungUp(now)
        case ("play_finished", play_id):
            return PlaybackFinished(now, play_id)
        case ("timer", kind, seq):
            return TimerFired(now, Timer(kind, seq))
        case ("transfer_finished", ok):
            return TransferFinished(now, ok, "" if ok else "NO_ANSWER")
        case ("switch_failed",):
            return SwitchFailed(now, "lost the channel")
        case ("shutdown",):
            return ShutdownRequested(now, "draining")
    return None


def inject(sw: VirtualSwitch, event: Event) -> None:
    """Hand the call an event the virtual switch would not have sent (stale, early or out of place)."""
    sw.feed(event)


def run_script(sw: VirtualSwitch, script: list[tuple[Any, ...]], done: Callable[[], bool]) -> int | None:
    """Play the steps until `done()`; return where in the log the caller hung up, if they did."""
    hangup_at: int | None = None
    for step in script:
        if done():
            break
        if step[0] == "press":
            sw.press(step[1])
        elif step[0] == "advance":
            sw.advance(step[1])
        else:
            event = event_for(step, sw.now)
            assert event is not None
            if isinstance(event, CallerHungUp):
                hangup_at = len(sw.log)
            inject(sw, event)
    return hangup_at


def check_outputs(log: list[Output], ended: bool, hangup_at: int | None) -> None:
    finished = [i for i, o in enumerate(log) if isinstance(o, CallFinished)]
    if not ended:
        assert finished == []
        return
    assert finished == [len(log) - 1]
    record = log[-1].record  # type: ignore[union-attr]
    assert record.outcome in OUTCOMES
    assert record.ended_at >= record.started_at
    hangups = [i for i, o in enumerate(log) if isinstance(o, Hangup)]
    assert hangups in ([], [len(log) - 2])
    if hangup_at is not None and record.outcome == "caller_hangup":
        assert all(isinstance(o, (CancelTimer, CallFinished)) for o in log[hangup_at:])
    started = {o.play_id for o in log if isinstance(o, (Play, PlaySilence, SayDigits))}
    assert {o.play_id for o in log if isinstance(o, StopPlayback)} <= started
    assert {o.listen_id for o in log if isinstance(o, StopSpeech)} <= {o.listen_id for o in log if isinstance(o, StartSpeech)}
    transfers = [o for o in log if isinstance(o, Transfer)]
    for o in transfers:
        assert o.destinations and all(DIALABLE.fullmatch(d) for d in o.destinations)
    # the record agrees with what was output along the way
    assert record.transfer_destinations == (transfers[-1].destinations if transfers else ())
    assert dict(record.variables) == {o.name: o.value for o in log if isinstance(o, SetVariable)}
    resolved = [o for o in log if isinstance(o, InputResolved) and o.result != "timeout"]
    assert len(record.entries) == len(resolved)
    event(f"outcome={record.outcome}")


steps_after_end = [
    lambda now: CallerHungUp(now),
    lambda now: SwitchFailed(now, "x"),
    lambda now: ShutdownRequested(now, "x"),
    lambda now: TransferFinished(now, True),
    lambda now: PlaybackFinished(now, 1),
    lambda now: TimerFired(now, Timer(TimerKind.LIFETIME, 1)),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(menu=menus, script=st.lists(steps, max_size=25), transfer_ok=st.booleans())
def test_random_calls_end_once_and_cleanly(menu: Menu, script: list[tuple[Any, ...]], transfer_ok: bool) -> None:
    sw = VirtualSwitch(Call(menu, menu.ivrs[0]), lambda name: 1.0 + len(name) % 3, transfer_ok)
    sw.start()
    hangup_at = run_script(sw, script, lambda: sw.ended)
    log = [o for _, o in sw.log]
    check_outputs(log, sw.ended, hangup_at)
    if sw.ended:
        # nothing more, whatever arrives
        for step in steps_after_end:
            assert sw.call.handle(step(sw.now)) == []
    elif menu.ivrs[0].lifetime > 0:
        sw.run_to_end(limit=menu.ivrs[0].lifetime + 60.0)  # a lifetime ends every call
        check_outputs([o for _, o in sw.log], True, None)


raw_events = st.one_of(
    st.builds(DtmfReceived, st.just(0.0), st.sampled_from(list("0123456789*#"))),
    st.builds(PlaybackFinished, st.just(0.0), st.integers(0, 8), st.sampled_from([None, "gone"])),
    st.builds(TimerFired, st.just(0.0), st.builds(Timer, st.sampled_from(list(TimerKind)), st.integers(0, 12))),
    st.builds(CallerHungUp, st.just(0.0)),
    st.builds(TransferFinished, st.just(0.0), st.booleans(), st.sampled_from(["", "USER_BUSY"])),
    st.builds(SwitchFailed, st.just(0.0), st.just("boom")),
    st.builds(ShutdownRequested, st.just(0.0), st.just("draining")),
    st.builds(CallStarted, st.just(0.0), st.dictionaries(st.sampled_from(VARIABLES), st.sampled_from(["1", "x", "+7"]))),
    st.builds(SpeechDetected, st.just(0.0), st.integers(0, 4), st.sampled_from(["", "one", "two"])),
)
# events at non-decreasing times, as an adapter's monotonic clock gives them
timed_events = st.lists(st.tuples(raw_events, st.floats(0.0, 10.0)), max_size=40).map(
    lambda pairs: [replace(e, at=at) for e, at in zip([e for e, _ in pairs], accumulate(gap for _, gap in pairs))]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(menu=menus, events=timed_events)
def test_any_event_sequence_straight_into_a_call(menu: Menu, events: list[Event]) -> None:
    """No switch at all: events in any order, any play id or timer, before and after the start."""
    call = Call(menu, menu.ivrs[0], CallOptions(speech=SpeechRecognition("engine", "grammar")))  # voice_helper listens
    log: list[Output] = []
    hangup_at: int | None = None
    for e in events:
        ended_before = call.record is not None
        if isinstance(e, CallerHungUp) and hangup_at is None and not ended_before:
            hangup_at = len(log)
        out = call.handle(e)
        if ended_before:
            assert out == []
        log.extend(out)
    check_outputs(log, call.record is not None, hangup_at)
