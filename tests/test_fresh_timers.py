"""The emulators' timers count from the real now: a key is never early because the loop's clock was stale."""

from __future__ import annotations

import time

import gevent

from ivrflow.testing.fresh_timers import spawn_after


def test_a_timer_started_after_a_long_stretch_without_yielding_is_not_early() -> None:
    gevent.sleep(0.001)  # the loop has just iterated: its clock is fresh
    time.sleep(0.05)  # this greenlet works 50 ms without yielding: the loop's clock is now 50 ms behind
    started = time.monotonic()
    fired_at = spawn_after(0.1, time.monotonic).get(timeout=5)
    assert fired_at - started >= 0.1
