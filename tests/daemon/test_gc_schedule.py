"""The daemon's collection schedule: young collections on a timer, full ones when quiet or at the latest."""

from __future__ import annotations

import gc

import gevent
import gevent.event

from ivrflow.service.gc_schedule import GcSchedule, resident_bytes


class Recorder:
    """Stands in for gc.collect: notes each generation asked for, and wakes the test after `wanted` more."""

    def __init__(self) -> None:
        self.generations: list[int] = []
        self.enabled_meanwhile: list[bool] = []
        self._wanted = 0
        self._enough = gevent.event.Event()

    def __call__(self, generation: int) -> int:
        self.generations.append(generation)
        self.enabled_meanwhile.append(gc.isenabled())
        if len(self.generations) >= self._wanted:
            self._enough.set()
        return 0

    def wait_for(self, more: int) -> list[int]:
        start = len(self.generations)
        self._wanted = start + more
        self._enough.clear()
        assert self._enough.wait(timeout=10), "the schedule stopped collecting"
        return self.generations[start : start + more]


def test_young_collections_while_calls_are_up_then_a_full_one_once_quiet_then_one_at_the_latest() -> None:
    now = [0.0]
    calls_up = [3]
    collect = Recorder()
    schedule = GcSchedule(lambda: calls_up[0], young_every_s=0.001, quiet_full_after_s=60.0, full_every_s=600.0,
                          collect=collect, clock=lambda: now[0], resident=lambda: 100)
    runner = gevent.spawn(schedule.run)
    try:
        assert collect.wait_for(5) == [0] * 5
        now[0] = 100.0  # past the quiet interval, but calls are up
        assert collect.wait_for(5) == [0] * 5
        calls_up[0] = 0
        assert collect.wait_for(1) == [2]
        assert collect.wait_for(3) == [0] * 3  # quiet still, but a full collection was just made
        calls_up[0] = 3
        now[0] = 700.0  # 600 s since the last full one: however busy
        assert collect.wait_for(1) == [2]
        assert collect.wait_for(3) == [0] * 3
    finally:
        runner.kill()
    assert not any(collect.enabled_meanwhile)


def test_a_process_grown_by_a_quarter_since_the_last_full_collection_gets_one() -> None:
    size = [1000]
    collect = Recorder()
    schedule = GcSchedule(lambda: 3, young_every_s=0.001, collect=collect, resident=lambda: size[0])
    runner = gevent.spawn(schedule.run)
    try:
        assert collect.wait_for(3) == [0] * 3
        size[0] = 1250  # a quarter more: not yet
        assert collect.wait_for(3) == [0] * 3
        size[0] = 1251
        assert collect.wait_for(1) == [2]
        assert collect.wait_for(3) == [0] * 3  # measured again after it: 1251 is the new base
        size[0] = 1600
        assert collect.wait_for(1) == [2]
    finally:
        runner.kill()


def test_the_resident_size_is_read_from_the_process() -> None:
    before = resident_bytes()
    ballast = bytearray(64 * 1024 * 1024)
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])  # touched, so resident
    assert resident_bytes() >= before + 60 * 1024 * 1024
    del ballast


def test_automatic_collection_is_off_while_it_runs_and_as_before_after() -> None:
    assert gc.isenabled()
    collect = Recorder()
    runner = gevent.spawn(GcSchedule(lambda: 0, young_every_s=0.001, collect=collect).run)
    collect.wait_for(1)
    assert not gc.isenabled()
    runner.kill()
    assert gc.isenabled()

    gc.disable()
    try:
        runner = gevent.spawn(GcSchedule(lambda: 0, young_every_s=0.001, collect=collect).run)
        collect.wait_for(1)
        runner.kill()
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
