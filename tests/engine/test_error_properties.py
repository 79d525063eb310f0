"""Property tests of the error path: random menus and events, a fault at a random point.

The fault is raised from inside the engine at its N-th output (so in the middle
of any handler, between any two outputs). A model of the driver keeps what it
received: the live timers and every output. Whatever happens:

* after the EngineError no event is accepted: every `handle` raises and
  outputs nothing;
* `abort` cancels exactly the timers the driver has live, hangs up unless the
  caller is gone, and ends with CallFinished of outcome `error`;
* every call leaves exactly one CallFinished, as its last output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ivrflow.engine import (
    Call,
    CallerHungUp,
    CallFinished,
    CallStarted,
    CancelTimer,
    EngineError,
    Event,
    Hangup,
    Output,
    StartTimer,
    State,
    Timer,
    TimerFired,
    TransferFinished,
)
from ivrflow.menu import Menu
from ivrflow.tools.virtual_switch import VirtualSwitch

from .test_properties import menus, run_script, steps, timed_events


class Fault(RuntimeError):
    pass


class FaultyCall(Call):
    """A Call whose `fault_at`-th output raises instead (None: never)."""

    def __init__(self, menu: Menu, fault_at: int | None) -> None:
        super().__init__(menu, menu.ivrs[0])
        self.fault_at = fault_at
        self.emitted = 0

    def _emit(self, output: Output) -> None:
        self.emitted += 1
        if self.emitted == self.fault_at:
            raise Fault(f"output {self.emitted}")
        super()._emit(output)


class DriverModel:
    """What a driver knows of the call: only what `handle` returned."""

    def __init__(self, call: FaultyCall, handle: Callable[[Event], list[Output]] | None = None) -> None:
        self.call = call
        self._handle = handle or call.handle
        self.live: set[Timer] = set()
        self.delivered: list[Output] = []
        self.failed: tuple[Event, State] | None = None

    def handle(self, event: Event) -> list[Output]:
        if self.failed is not None:
            with pytest.raises(EngineError):
                self._handle(event)
            assert self.call.state is State.ERROR
            return []
        state = self.call.state
        if isinstance(event, TimerFired):
            self.live.discard(event.timer)  # gone on the driver's side, whatever the engine does
        try:
            out = self._handle(event)
        except EngineError as exc:
            assert isinstance(exc.__cause__, Fault)
            assert self.call.state is State.ERROR
            self.failed = (event, state)
            return []
        self.take(out)
        return out

    def take(self, out: list[Output]) -> None:
        for o in out:
            if isinstance(o, StartTimer):
                self.live.add(o.timer)
            elif isinstance(o, CancelTimer):
                assert o.timer in self.live, o
                self.live.remove(o.timer)
        self.delivered.extend(out)

    def finish(self) -> None:
        """End the call as a driver would; then check the one record."""
        self.call.fault_at = None  # the fault was in handling; abort itself must work
        if self.call.record is not None and self.failed is None:
            with pytest.raises(EngineError):
                self.call.abort(1e6, "late")
            event("ended by itself")
        else:
            live = set(self.live)
            out = self.call.abort(1e6, "engine error")
            self.take(out)
            assert {o.timer for o in out if isinstance(o, CancelTimer)} == live and not self.live
            gone = self.failed is not None and (
                isinstance(self.failed[0], CallerHungUp)
                or isinstance(self.failed[0], TransferFinished)
                and self.failed[0].ok
                and self.failed[1] is State.TRANSFERRING
            )
            hangups = [o for o in out if isinstance(o, Hangup)]
            event(f"aborted {'after a fault' if self.failed else 'live'}{', caller gone' if gone else ''}")
            assert hangups == ([] if gone else [Hangup("NORMAL_TEMPORARY_FAILURE")])
            assert isinstance(out[-1], CallFinished)
            assert (out[-1].record.outcome, out[-1].record.reason) == ("error", "engine error")
            assert self.call.state is State.ERROR
            with pytest.raises(EngineError):
                self.call.abort(1e6, "again")
        finished = [i for i, o in enumerate(self.delivered) if isinstance(o, CallFinished)]
        assert finished == [len(self.delivered) - 1]


class ModelledCall(FaultyCall):
    """For VirtualSwitch, which calls `handle` itself: every call goes through the model."""

    def __init__(self, menu: Menu, fault_at: int | None) -> None:
        super().__init__(menu, fault_at)
        self.model = DriverModel(self, super().handle)

    def handle(self, event: Event) -> list[Output]:
        return self.model.handle(event)


# Most calls output a dozen or so before they wait; a few reach much further.
fault_points = st.one_of(st.none(), st.integers(1, 12), st.integers(13, 60))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(menu=menus, events=timed_events, fault_at=fault_points)
def test_a_fault_anywhere_in_random_events_leaves_one_record(menu: Menu, events: list[Event], fault_at: int | None) -> None:
    model = DriverModel(FaultyCall(menu, fault_at))
    for e in [CallStarted(0.0), *events]:
        model.handle(e)
    model.finish()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(menu=menus, script=st.lists(steps, max_size=25), transfer_ok=st.booleans(), fault_at=fault_points)
def test_a_fault_anywhere_in_a_walk_leaves_one_record(
    menu: Menu, script: list[tuple[Any, ...]], transfer_ok: bool, fault_at: int | None
) -> None:
    """The same through the virtual switch, which walks calls deeper into their menus."""
    call = ModelledCall(menu, fault_at)
    sw = VirtualSwitch(call, lambda name: 1.0 + len(name) % 3, transfer_ok)
    sw.start()
    run_script(sw, script, lambda: call.model.failed is not None or call.record is not None)
    if call.model.failed is not None:  # refused from now on
        call.model.handle(CallerHungUp(sw.now))
    call.model.finish()
