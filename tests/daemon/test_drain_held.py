"""A stop with transferred calls still held: only those whose target is safe are let go."""

from __future__ import annotations

import signal
from pathlib import Path

from ivrflow.testing import start_call

from .test_daemon import script
from .harness import daemon

TONE = "long-tone.wav"


def test_a_stop_lets_go_of_the_held_calls_whose_target_is_safe_and_says_what_became_of_the_rest(tmp_path: Path) -> None:
    # A 2 s quiet time keeps the playing target held until the stop comes.
    with daemon(tmp_path, "--release-quiet-time", "2") as d:
        playing = start_call(
            d.esl, script(default_transfer_extension=(("answer", ""), ("playback", TONE)), sounds={TONE: 1000.0}, keep_after_close=40.0)
        )
        parked = start_call(d.esl, script(default_transfer_extension=(("answer", ""), ("park", ""))))
        d.wait_log(r"call finished", count=2)  # both transferred: records written, sockets held
        d.signal(signal.SIGTERM)
        assert d.process.wait(timeout=20) == 0
        d.wait_log(r"holding the transferred call's socket \(the channel is parked\)")
        d.wait_log(r"1 transferred call\(s\) still held \(parked at their target\)")
        left, knocked_out = playing.get(timeout=10), parked.get(timeout=10)
    assert left.closed_by == "exit" and left.final_state == "transferred:050"  # let go, and still playing
    assert any(c.line.startswith("api uuid_getvar") for _, c in left.received)
    # The parked one was held to the end; its socket closed with the process, which ended it there.
    assert knocked_out.closed_by == "app" and not any(c.name == "exit" for _, c in knocked_out.received)
    assert knocked_out.hangup_cause == "NORMAL_CLEARING"
