"""Every row of the scenario table on both switches, and the two switches against each other.

`test_row` checks one adapter against the row; `test_both_switches_agree`
checks that the two adapters' records and metrics have the same shape and
values, except where the row declares a difference (with its reason).
"""

from __future__ import annotations

from typing import Any

import pytest
from ivrflow.calls.info import CallInfo
from ivrflow.calls.records import record_json
from ivrflow.engine import CallRecord

from .switches import Sample, Seen, crowd, run
from .table import ADAPTERS, CONCURRENT, CONCURRENT_CALLS, SCENARIOS, Adapter, Scenario

# The record every call leaves, whichever switch: its keys, as records.py writes them.
RECORD_KEYS = set(record_json(CallInfo("c", "071", "", "", ""), CallRecord("071", "hangup", "", 0.0, 0.0)))
# Metrics one switch alone can fill, in every row where the call reaches the switch's command path.
SWITCH_ONLY_METRICS = {
    # Named for and measured on Event Socket command replies; ARI requests have no reply-to-command pairing to time.
    "ivr_esl_command_seconds": "freeswitch",
}

_seen: dict[tuple[str, Adapter], Seen] = {}


def seen(scenario: Scenario, adapter: Adapter) -> Seen:
    key = (scenario.name, adapter)
    if key not in _seen:
        _seen[key] = run(scenario, adapter)
    return _seen[key]


ROWS = [pytest.param(s, a, id=f"{a}: {s.name}") for s in SCENARIOS for a in ADAPTERS]


def _shape(record: dict[str, Any]) -> dict[str, object]:
    return {
        "outcome": record["outcome"],
        "path": tuple((s["context"], s["option"]) for s in record["path"]),
        "entries": tuple(record["entries"]),
        "destinations": tuple(record["transfer_destinations"]),
        "first_key": record["first_key_s"] is not None,
    }


@pytest.mark.parametrize(("scenario", "adapter"), ROWS)
def test_row(scenario: Scenario, adapter: Adapter) -> None:
    got = seen(scenario, adapter)
    want = scenario.expected(adapter)
    record = got.record
    assert set(record) == RECORD_KEYS
    assert set(record["caller"]) == {"number", "name"}
    assert record["ivr"] == "071"
    shape = _shape(record)
    for key in ("outcome", "path", "entries", "destinations", "first_key"):
        assert shape[key] == want[key], key
    assert str(want["reason_contains"]) in record["reason"]
    assert got.transferred_to == want["transferred_to"]
    assert got.hung_up_by_ivrflow == want["hung_up_by_ivrflow"]
    assert got.stopped == want["stopped"]
    assert got.metrics[("ivr_calls_total", (("ivr", "071"), ("outcome", str(want["outcome"]))))] == 1
    assert got.metrics[("ivr_call_duration_seconds_count", (("ivr", "071"),))] == 1


def _comparable(scenario: Scenario, adapter: Adapter, metrics: dict[Sample, float]) -> dict[Sample, float]:
    extra = scenario.extra_metrics(adapter)
    return {
        (name, labels): value for (name, labels), value in metrics.items()
        if SWITCH_ONLY_METRICS.get(name.removesuffix("_count")) != adapter and (name.removesuffix("_count"), labels) not in extra and (name, labels) not in extra
    }


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s.name) for s in SCENARIOS])
def test_both_switches_agree(scenario: Scenario) -> None:
    fs, ari = seen(scenario, "freeswitch"), seen(scenario, "asterisk")
    assert set(fs.record) == set(ari.record)
    assert {k: type(v) for k, v in fs.record.items()} == {k: type(v) for k, v in ari.record.items()}
    if not scenario.differs:
        assert _shape(fs.record) == _shape(ari.record)
        assert fs.record["reason"] == ari.record["reason"]
        assert (fs.transferred_to, fs.hung_up_by_ivrflow, fs.stopped) == (ari.transferred_to, ari.hung_up_by_ivrflow, ari.stopped)
    # What a scrape shows: family names and types, and the label names of every family both switches fill.
    assert {n: f[0] for n, f in fs.families.items()} == {n: f[0] for n, f in ari.families.items()}
    filled = [n for n in fs.families if n not in SWITCH_ONLY_METRICS and len(fs.families[n]) > 1 and len(ari.families[n]) > 1]
    assert [fs.families[n] for n in filled] == [ari.families[n] for n in filled]
    # Same counters with the same labels and values, ivr_dtmf_to_action_seconds' count among them;
    # a row whose calls end differently by design counts differently, and only its families are compared.
    fs_counts, ari_counts = _comparable(scenario, "freeswitch", fs.metrics), _comparable(scenario, "asterisk", ari.metrics)
    if any(d.outcome is not None for d in scenario.differs):
        assert {n for n, _ in fs_counts} <= {n for n, _ in ari_counts}
    else:
        assert fs_counts == ari_counts
    for adapter, got in (("freeswitch", fs), ("asterisk", ari)):
        for name, labels in scenario.extra_metrics(adapter):  # a declared difference must be real
            assert any(n.removesuffix("_count") == name and lab == labels for n, lab in got.metrics), (adapter, name)


def test_500_concurrent_calls_on_both_switches_end_alike() -> None:
    row, n = CONCURRENT, CONCURRENT_CALLS
    ended = {adapter: crowd(row, adapter, n) for adapter in ADAPTERS}
    for adapter, got in ended.items():
        assert got.left_open == 0, adapter
        assert len(got.records) == n and len({r["call_uuid"] for r in got.records}) == n, adapter
        assert {(_shape(r)["outcome"], _shape(r)["path"], _shape(r)["entries"]) for r in got.records} == {
            (row.outcome, row.path, row.entries)
        }, adapter
        assert got.transferred_to == [row.transferred_to] * n, adapter
        assert got.metrics[("ivr_calls_total", (("ivr", "071"), ("outcome", "transfer")))] == n, adapter
    fs, ari = ended["freeswitch"], ended["asterisk"]
    assert _comparable(row, "freeswitch", fs.metrics) == _comparable(row, "asterisk", ari.metrics)
