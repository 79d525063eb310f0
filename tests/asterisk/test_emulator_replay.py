"""The ARI emulator replays the captured Asterisk exchanges: same replies, same events, same order."""

from __future__ import annotations

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
    "04-ring-by-originate": ("04", {"04g"}, frozenset()),
    "05-caller-hangup": ("05", {"05a", "05b", "05c", "05d"}, frozenset()),
    "06-variables": ("06", {"06a", "06c"}, frozenset()),
    "06-originate-into-stasis": ("06", {"06b"}, frozenset()),
    "07-websocket-loss": ("07", {"07a", "07b", "07c", "07d"}, frozenset()),
    "08-errors": ("08", {"08", "08a", "08b", "08c", "08d", "08e", "08f", "08g"}, frozenset()),
    "08-originate-and-auth": ("08", {"08h", "08i"}, frozenset()),
}




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
        assert [e["type"] for e in got] == [e["type"] for e in expected], label
        assert got == expected, label
