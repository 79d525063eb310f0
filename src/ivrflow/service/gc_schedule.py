"""The cyclic garbage collector on the daemon's own schedule, not on CPython's allocation count.

A call's objects go by reference counting (no call leaves a cycle: a test
keeps it so), so a collection finds next to nothing; what it costs is the
scan, and CPython's trigger makes the scans long. A young collection starts
when allocations less deallocations pass a threshold, and in a steady state
(as many calls ending as starting) the ending calls' deallocations keep that
count low while the youngest generation fills with the live calls' objects.
Beside 500 webhook waits a young collection scanned 86,000 objects (25 ms of
CPU, the loop stopped), and the middle generation's 71,000 were scanned two
or three times a second (16-34 ms each): the key→command tail.

So while the daemon runs, automatic collection is off. The youngest
generation is collected every `young_every_s`: what it scans is only what
was allocated since and still lives, under a millisecond at 330 calls/s.
Everything is collected, so that a rare cycle is still freed, when no call
is up and `quiet_full_after_s` have passed since the last time, when the
process has grown by a quarter since the last time (CPython's own rule for
its oldest generation, by memory here: garbage never piles up unseen), and at
the latest every `full_every_s`: with 1,000 calls up a full collection stops
the loop for ~75 ms.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import gevent

YOUNG_EVERY_S = 0.02
QUIET_FULL_AFTER_S = 60.0
FULL_EVERY_S = 600.0
GROWTH_FOR_FULL = 1.25


def resident_bytes() -> int:
    """The process's resident memory (Linux), 0 where /proc does not say."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@dataclass(frozen=True)
class GcSchedule:
    calls_up: Callable[[], int]
    young_every_s: float = YOUNG_EVERY_S
    quiet_full_after_s: float = QUIET_FULL_AFTER_S
    full_every_s: float = FULL_EVERY_S
    collect: Callable[[int], int] = gc.collect
    clock: Callable[[], float] = time.monotonic
    resident: Callable[[], int] = resident_bytes

    def run(self) -> None:
        """Collect on schedule until killed, with automatic collection off; it is then as it was before."""
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            last_full, size_then = self.clock(), self.resident()
            while True:
                gevent.sleep(self.young_every_s)
                since = self.clock() - last_full
                if (
                    since >= self.full_every_s
                    or since >= self.quiet_full_after_s and self.calls_up() == 0
                    or self.resident() > size_then * GROWTH_FOR_FULL
                ):
                    self.collect(2)
                    last_full, size_then = self.clock(), self.resident()
                else:
                    self.collect(0)
        finally:
            if was_enabled:
                gc.enable()
