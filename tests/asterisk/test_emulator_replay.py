"""The ARI emulator replays the captured Asterisk exchanges: same replies, same events, same order."""

from __future__ import annotations

from typing import Any

import pytest

from .replay import replay
from .transcripts import load, section

# (transcript, its sections to replay (None: all of it, it has no sections), dialplan extensions that exist there)
CASES: dict[str, tuple[str, set[str] | None, frozenset[tuple[str, str]]]] = {
    "00-info": ("00", None, frozenset()),
    "01-basic-play": ("01", {"01", "01b"}, frozenset()),
    "02-dtmf": ("02", {"02a", "02a-2", "02a-3", "02a-4"}, frozenset()),
    "02-dtmf-from-dialplan": ("02", {"02b"}, frozenset()),
    "03-queued-playbacks": ("03", {"03a", "03b", "03c", "03c-2", "03d", "03e"}, frozenset()),
    "04-continue": ("04", {"04a", "04a-2", "04b", "04c", "04d", "04e"}, frozenset()),
    "04-ring-by-create-and-dial": ("04", {"04f"}, frozenset()),
    "04-ring-by-originate": ("04", {"04g"}, frozenset()),
    "05-caller-hangup": ("05", {"05a", "05b", "05c", "05d"}, frozenset()),
    "06-variables": ("06", {"06a", "06c"}, frozenset()),
    "06-originate-into-stasis": ("06", {"06b"}, frozenset()),
    "07-websocket-loss": ("07", {"07a", "07b", "07c", "07d"}, frozenset()),
    "08-errors": ("08", {"08", "08a", "08b", "08c", "08d", "08e", "08f", "08g"}, frozenset()),
    "08-originate-and-auth": ("08", {"08h", "08i"}, frozenset()),
}
# Where the capture's order across channels is a race of Asterisk's threads, not ARI's behaviour: each
# channel's events are compared in order, not their interleaving. In 04f the second /dial request's
# ChannelConnectedLine came before the first leg's ringing, which its dialing thread reported a few ms later.
INTERLEAVED = {"04-ring-by-create-and-dial"}


def _by_channel(events: list[Any]) -> dict[str, list[Any]]:
    """Each channel's (or bridge's) events, in their order."""
    out: dict[str, list[Any]] = {}
    for e in events:
        key = (e.get("channel") or e.get("peer") or e.get("bridge") or {}).get("id", "")
        out.setdefault(key, []).append(e)
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_replay_matches_capture(case: str) -> None:
    scenario, sections, extensions = CASES[case]
    lines = load(scenario) if sections is None else section(load(scenario), sections)
    result = replay(lines, extensions=extensions)
    assert result.exchanges, "nothing was replayed"
    for exchange in result.exchanges:
        assert exchange.got == exchange.expected, f"{exchange.method} {exchange.path}"
    assert result.got_events.keys() == result.expected_events.keys()
    for label, expected in result.expected_events.items():
        got = result.got_events[label]
        if case in INTERLEAVED:
            assert _by_channel(got) == _by_channel(expected), label
            continue
        assert [e["type"] for e in got] == [e["type"] for e in expected], label
        assert got == expected, label
