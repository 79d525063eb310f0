"""Kill the ARI events WebSocket under N calls in flight, through the real `ivrflow serve` process; count how every call ended.

    python -m bench.ari_socket_drop [--calls 200] [--silent] [--rest-latency-ms 0]

The emulated Asterisk runs in this process, ivrflow as `ivrflow serve --ari-url`
with a call-records file (tests/asterisk/socket_drop.py, which the daemon test
runs too). When the socket is cut abruptly, a quarter of the calls' callers
hang up and a quarter's first prompt ends during the gap, a tenth are ringing
two destinations (state REST cannot tell) and the rest are still in their
first prompt. The daemon reconnects at its own pace (backoff 0.25-0.5 s
first) and reconciles; then every prompt plays out as soon as it starts.
Times are wall seconds from the kill, seen from this process.
`--rest-latency-ms` makes the emulator wait that long before serving each
REST request, as a real Asterisk's round trip takes.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--silent", action="store_true", help="the socket goes quiet (no FIN) instead of closing")
    parser.add_argument("--rest-latency-ms", type=float, default=0.0, help="added before each REST reply")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from asterisk.socket_drop import run

    with tempfile.TemporaryDirectory() as tmp:
        drop = run(Path(tmp), args.calls, hold_down=False, silent=args.silent, rest_latency=args.rest_latency_ms / 1000.0)
    ids = [r["call_uuid"] for r in drop.records]
    outcomes = collections.Counter(r["outcome"] for r in drop.records)
    # Driven to its end: the menu's path ran out (a transfer); hung up with a reason: every other outcome.
    driven = sum(1 for r in drop.records if r["outcome"] == "transfer")
    with_reason = sum(1 for r in drop.records if r["outcome"] != "transfer" and r["reason"])
    changes = collections.Counter((m, p, tuple(sorted(q.items()))) for m, p, q in drop.requests if m != "GET")
    result = {
        "calls": args.calls,
        "kill": "silent" if args.silent else "abrupt",
        "rest_latency_ms": args.rest_latency_ms,
        "records": len(ids),
        "duplicate_records": len(ids) - len(set(ids)),
        "missing_records": args.calls - len(set(ids)),
        "driven_to_end": driven,
        "hung_up_with_reason": with_reason,
        "outcomes": dict(outcomes),
        "reasons": dict(collections.Counter(r["reason"] for r in drop.records if r["outcome"] != "transfer")),
        "decisions": dict(collections.Counter(drop.decisions.values())),
        "orphans_left_in_stasis": len(drop.left_in_stasis),
        "requests_sent_twice": sum(1 for n in changes.values() if n > 1),
        "requests_sent_twice_first": [f"{m} {p} {dict(q)}" for (m, p, q), n in changes.items() if n > 1][:5],
        "records_with_errors": sum(1 for r in drop.records if r["errors"]),
        "missed_events_during_gap": drop.missed_events,
        "readyz_503_seen": 503 in drop.ready_while_down,
        "reconnects_metric": drop.reconnects_metric,
        "seconds": {k: round(v, 3) for k, v in drop.seconds.items()},
    }
    print(json.dumps(result, indent=2))
    ok = len(ids) == len(set(ids)) == args.calls and driven + with_reason == args.calls
    return 0 if ok and not drop.left_in_stasis and not result["requests_sent_twice"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
