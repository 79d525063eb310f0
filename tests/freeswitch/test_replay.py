"""The emulator answers the captured application traffic as the real FreeSWITCH did."""

from __future__ import annotations

import gevent
import pytest

from . import replay

STAGGER_SECONDS = 0.05
# Every outbound capture in the transcripts' INDEX.md.
REPLAYED = [f"{n:02d}" for n in range(1, 26)]


@pytest.fixture(scope="module")
def replays() -> dict[str, tuple[replay.Scenario, replay.Replay]]:
    # The calls are independent, so they run side by side: the suite then
    # takes as long as the longest capture (scaled), not their sum.  Starts are
    # staggered so that no call's first milliseconds compete with another's.
    built = {name: replay.build(name) for name in REPLAYED}
    jobs = {
        name: gevent.spawn_later(i * STAGGER_SECONDS, replay.run, scenario)
        for i, (name, scenario) in enumerate(built.items())
    }
    gevent.joinall(list(jobs.values()), timeout=60, raise_error=True)
    return {name: (built[name], jobs[name].get()) for name in REPLAYED}


@pytest.mark.parametrize("scenario", REPLAYED)
def test_replay(scenario: str, replays: dict[str, tuple[replay.Scenario, replay.Replay]]) -> None:
    built, result = replays[scenario]
    problems = replay.differences(built.expected, result.frames)
    assert not problems, "\n".join(problems)
    assert len(result.frames) == len(built.expected) >= 3
