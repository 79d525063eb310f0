"""The chaos suite's short form; `make chaos` runs the full one (10,000 calls)."""

from __future__ import annotations

import json

from .run import run

SEED = 20261202


def test_a_few_hundred_calls_with_faults_reloads_and_a_drain_leave_nothing_behind() -> None:
    figures = run(calls=200, seed=SEED, concurrency=60, reload_every=70)
    print(json.dumps(figures.__dict__))
    assert figures.problems() == [], json.dumps(figures.__dict__, indent=1)
    assert figures.records > 100 and figures.rejected > 0  # the faults did reach both kinds of end
    assert set(figures.faults) >= {"reset", "half_open", "drop_event", "truncate_frame", "stall", "caller_hangup"}
