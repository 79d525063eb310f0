"""Issue 11: the ARI events WebSocket killed under 200 calls in flight, through the real `ivrflow serve` process.

Every call must end with exactly one record, either driven to its end (the
record's `outcome` is `transfer`, its path the menu's) or hung up with the
reason recorded (`outcome` and `reason`); no channel may be left in Stasis
with nobody driving it, and no call may be driven twice after the reconnect.
"""

from __future__ import annotations

import collections
from pathlib import Path

from asterisk.socket_drop import run
from ivrflow.asterisk.app import LOST_STATE

CALLS = 200


def test_killing_the_websocket_under_200_calls_orphans_none_and_drives_none_twice(tmp_path: Path) -> None:
    drop = run(tmp_path, CALLS, hold_down=True)
    by_id = collections.defaultdict(list)
    for record in drop.records:
        by_id[record["call_uuid"]].append(record)
    every = {c for ids in drop.groups.values() for c in ids}
    assert set(by_id) == every and len(every) == CALLS
    assert [c for c, found in by_id.items() if len(found) != 1] == []

    # Which reconciliation rule each call met (asterisk/app.py): 1 ended, 2 resumed, 3 lost state.
    expected = {"hang_up": "ended", "prompt_ends": "resumed", "ringing": "lost_state", "untouched": "resumed"}
    for group, decision in expected.items():
        assert {drop.decisions.get(c) for c in drop.groups[group]} == {decision}, group

    for c in drop.groups["hang_up"]:
        assert (by_id[c][0]["outcome"], by_id[c][0]["reason"]) == ("caller_hangup", "caller hung up (NORMAL_CLEARING)")
    for c in drop.groups["ringing"]:
        record = by_id[c][0]
        assert record["outcome"] == "error" and LOST_STATE in record["reason"], record
        assert record["transfer_destinations"] == ["101", "102"]
    for c in drop.groups["prompt_ends"] + drop.groups["untouched"]:
        record = by_id[c][0]
        assert record["outcome"] == "transfer" and record["transfer_destinations"] == ["050"], record
        assert record["path"] == [{"context": 1, "option": "start"}, {"context": 1, "option": "timeout"}]

    assert drop.left_in_stasis == []
    # Driven once: no request that changes a call was sent twice (reconciliation only reads).
    changes = collections.Counter((m, p, tuple(sorted(q.items()))) for m, p, q in drop.requests if m != "GET")
    assert [r for r, n in changes.items() if n > 1] == []
    hung_up = {p.rsplit("/", 1)[-1] for m, p, q in drop.requests if m == "DELETE" and p.startswith("/ari/channels/")}
    ringing_legs = {f"{c}-l{n}" for c in drop.groups["ringing"] for n in (1, 2)}
    assert hung_up == set(drop.groups["ringing"]) | ringing_legs  # ivrflow hung up the lost-state calls and their legs, no other

    assert 503 in drop.ready_while_down and "ARI events WebSocket down" in drop.readyz_body_while_down
    assert drop.reconnects_metric >= 1
    assert drop.calls_active_metric == 0
    assert drop.missed_events > 0  # the gap really lost events
