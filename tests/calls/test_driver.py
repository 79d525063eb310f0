"""The call driver without sockets: a recording switch, the real engine, a clock the test moves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from ivrflow.calls.driver import CallDriver
from ivrflow.calls.info import CallInfo
from ivrflow.calls.observer import QuietObserver
from ivrflow.calls.registry import CallRegistry
from ivrflow.calls.switch import Playable, UnsafeValue
from ivrflow.engine import Call, CallRecord, DtmfReceived, Output, PlaybackFinished, TransferFinished
from ivrflow.menu.files import load_menu_text

MENU = load_menu_text(
    """
sounds: [{id: 1, filename: hello.wav}, {id: 2, filename: bye.wav}]
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        digit_len: 1
        timeout: 3000
        options:
          start:
            - {action: play_sound, sound: 1, sound_type: background}
          "2":
            - {action: transfer, transfer_dst: "002"}
          timeout:
            - {action: play_sound, sound: 2}
            - {action: hangup}
""",
    "test.yaml",
).menu


@dataclass
class Recorder:
    """A switch that writes down what it is asked, and can answer from inside a command."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    driver: CallDriver | None = None
    finish_prompts_at_once: bool = False
    refuse: str | None = None

    def answer(self) -> None:
        self.calls.append(("answer",))

    def play(self, prompt: Playable) -> None:
        if self.refuse is not None and getattr(prompt, "filename", None) == self.refuse:
            raise UnsafeValue(f"refusing {self.refuse}")
        self.calls.append(("play", prompt.play_id))
        if self.finish_prompts_at_once and self.driver is not None:
            # Posted while the driver carries out the engine's outputs: it must wait its turn.
            self.driver.post(PlaybackFinished(self.driver.clock(), prompt.play_id))
            self.calls.append(("posted", prompt.play_id))

    def stop_playback(self, play_id: int) -> None:
        self.calls.append(("stop", play_id))

    def set_variable(self, name: str, value: str) -> None:
        self.calls.append(("set", name, value))

    def set_caller_id(self, field: Literal["number", "name"], value: str) -> None:
        self.calls.append(("caller_id", field, value))

    def transfer(
        self, destinations: tuple[str, ...], kind: Literal["transfer", "simple_transfer"], ring_timeout: int | None = None
    ) -> None:
        self.calls.append(("transfer", destinations))

    def hang_up(self, cause: str) -> None:
        self.calls.append(("hangup", cause))

    def finished(self) -> None:
        self.calls.append(("finished",))


@dataclass
class Watcher(QuietObserver):
    outputs_seen: list[Output] = field(default_factory=list)
    records: list[CallRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started: int = 0

    def call_started(self, info: CallInfo) -> None:
        self.started += 1

    def outputs(self, info: CallInfo, outputs: list[Output]) -> None:
        self.outputs_seen.extend(outputs)

    def error(self, kind: str) -> None:
        self.errors.append(kind)

    def call_finished(self, info: CallInfo, record: CallRecord) -> None:
        self.records.append(record)


class Clock:
    now = 10.0

    def __call__(self) -> float:
        return self.now


def driven(switch: Recorder | None = None) -> tuple[CallDriver, Recorder, Watcher, Clock, list[CallDriver]]:
    switch = switch or Recorder()
    watcher, clock, finished = Watcher(), Clock(), []
    ivr = MENU.ivr_for("071")
    assert ivr is not None
    driver = CallDriver(Call(MENU, ivr), CallInfo("c1", "071", "", "", "071"), switch, watcher, clock, finished.append)
    switch.driver = driver
    return driver, switch, watcher, clock, finished


def test_outputs_are_carried_out_in_order_after_the_engine_returns() -> None:
    driver, switch, watcher, _, _ = driven()
    driver.start({})
    assert switch.calls == [("answer",), ("play", 1)]
    assert watcher.started == 1


def test_an_event_posted_while_a_command_runs_waits_for_the_batch_to_finish() -> None:
    driver, switch, _, _, _ = driven(Recorder(finish_prompts_at_once=True))
    driver.start({})
    # The prompt's end, posted from inside `play`, is handled only once `play` has returned.
    assert switch.calls[:3] == [("answer",), ("play", 1), ("posted", 1)]
    assert driver.timers.next_deadline() == 13.0  # the engine took the end: the context timeout runs


def test_timers_fire_on_the_drivers_clock() -> None:
    driver, switch, watcher, clock, finished = driven()
    driver.start({})
    driver.post(PlaybackFinished(10.0, 1))
    assert driver.next_deadline() == 13.0
    clock.now = 12.9
    driver.fire_due_timers()
    assert ("play", 2) not in switch.calls
    clock.now = 13.0
    driver.fire_due_timers()
    assert switch.calls[-1] == ("play", 2)
    driver.post(PlaybackFinished(14.0, 2))
    assert switch.calls[-2:] == [("hangup", "NORMAL_CLEARING"), ("finished",)]
    assert [r.outcome for r in watcher.records] == ["hangup"]
    assert finished == [driver] and driver.finished and driver.next_deadline() is None


def test_a_digit_barges_in_and_the_option_transfers() -> None:
    driver, switch, watcher, _, _ = driven()
    driver.start({})
    driver.post(DtmfReceived(11.0, "2"))
    assert switch.calls[-2:] == [("stop", 1), ("transfer", ("002",))]
    driver.post(PlaybackFinished(11.0, 1))
    driver.post(TransferFinished(11.1, True))
    assert [r.outcome for r in watcher.records] == ["transfer"]


def test_a_refused_value_drops_the_rest_of_its_batch_and_fails_the_call() -> None:
    driver, switch, watcher, _, _ = driven(Recorder(refuse="hello.wav"))
    driver.start({})
    assert ("play", 1) not in switch.calls
    assert switch.calls[-2:] == [("hangup", "NORMAL_TEMPORARY_FAILURE"), ("finished",)]
    [record] = watcher.records
    assert record.outcome == "error" and "unsafe argument: refusing hello.wav" in record.reason
    assert watcher.errors == ["unsafe_argument"]


def test_nothing_reaches_a_finished_call() -> None:
    driver, switch, watcher, _, _ = driven()
    driver.start({})
    driver.shut_down("drain timeout")
    calls = list(switch.calls)
    driver.post(DtmfReceived(12.0, "2"))
    driver.fire_due_timers()
    assert switch.calls == calls
    assert [r.reason for r in watcher.records] == ["ivrflow stopping: drain timeout"]


def test_an_engine_that_raises_is_aborted_with_one_error_record(monkeypatch: pytest.MonkeyPatch) -> None:
    driver, switch, watcher, _, _ = driven()
    driver.start({})

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Call, "_collect", broken)
    driver.post(DtmfReceived(11.0, "2"))
    [record] = watcher.records
    assert record.outcome == "error" and "boom" in record.reason
    assert switch.calls[-2:] == [("hangup", "NORMAL_TEMPORARY_FAILURE"), ("finished",)]
    assert watcher.errors == ["internal"]
    driver.post(DtmfReceived(12.0, "3"))  # refused by the failed engine, never fed
    assert len(watcher.records) == 1


# --- the registry -----------------------------------------------------------------


@dataclass(eq=False)
class Served:
    reasons: list[str] = field(default_factory=list)

    def shut_down(self, reason: str) -> None:
        self.reasons.append(reason)


def test_the_registry_counts_capacity_active_and_held_from_one_set() -> None:
    registry = CallRegistry(max_calls=2)
    idle, closed = [], []
    registry.on_idle.append(lambda: idle.append(1))
    registry.on_all_closed.append(lambda: closed.append(1))
    a, b, c = Served(), Served(), Served()
    assert registry.admit(a) and registry.admit(b)
    assert registry.at_capacity and not registry.admit(c)
    registry.left_menu(a)  # transferred and held
    assert (registry.active, registry.held, registry.open) == (1, 1, 2)
    registry.hang_up_active("drain")
    registry.release_held("stopping")
    assert (a.reasons, b.reasons) == (["stopping"], ["drain"])
    registry.closed(b)
    assert idle == [1] and closed == []
    registry.closed(a)
    assert closed == [1] and registry.open == 0
