"""config/grafana/ivrflow.json queries only ivrflow's metrics, all of them, and filters by instance."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DASHBOARD = Path(__file__).resolve().parents[1] / "config" / "grafana" / "ivrflow.json"

COUNTERS_AND_GAUGES = {
    "ivr_calls_active",
    "ivr_calls_total",
    "ivr_context_entries_total",
    "ivr_input_total",
    "ivr_option_selected_total",
    "ivr_actions_total",
    "ivr_transfers_total",
    "ivr_esl_connections_rejected_total",
    "ivr_errors_total",
    "ivr_config_reloads_total",
    "ivr_config_last_success_timestamp_seconds",
    "ivr_build_info",
}
HISTOGRAMS = {"ivr_call_duration_seconds", "ivr_dtmf_to_action_seconds", "ivr_esl_command_seconds"}
METRICS = COUNTERS_AND_GAUGES | HISTOGRAMS

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
# Parts of an expression that hold no metric names: strings, label matchers, range/subquery
# brackets, and the label lists of by/without/on/ignoring/group_left/group_right.
NOT_METRICS = re.compile(
    r'"(?:[^"\\]|\\.)*"|\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)'
)
IDENTIFIER = re.compile(r"(?<![\w.$])([a-zA-Z_:][\w:]*)\b(?!\s*\()")
SELECTOR = re.compile(r"\b(ivr_[\w:]*)\s*(\{[^}]*\})?")
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$")


def dashboard() -> dict[str, Any]:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return board


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def expressions(board: dict[str, Any]) -> Iterator[str]:
    """Every PromQL expression: panel targets, annotations, and template variable queries."""
    for panel in all_panels(board["panels"]):
        for target in panel.get("targets", []):
            yield target["expr"]
    for annotation in board["annotations"]["list"]:
        if "expr" in annotation:
            yield annotation["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            selector = LABEL_VALUES.match(query)
            yield selector.group(1) if selector else query


def metric_names(expr: str) -> set[str]:
    """Series names in an expression, histogram series (_bucket, _sum, _count) under their histogram's name."""
    bare = NOT_METRICS.sub(" ", expr)
    names = {name for name in IDENTIFIER.findall(bare) if name not in PROMQL_WORDS}
    return {_histogram(name) for name in names}


def _histogram(name: str) -> str:
    base, _, suffix = name.rpartition("_")
    return base if suffix in ("bucket", "sum", "count") and base in HISTOGRAMS else name


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, command) (rate(ivr_esl_command_seconds_bucket{instance=~"a|b"}[5m])))'
        ' / ignoring(result) group_left sum(rate(process_cpu_seconds_total[$__rate_interval])) > bool 2'
    )
    assert metric_names(expr) == {"ivr_esl_command_seconds", "process_cpu_seconds_total"}
    assert metric_names("time() - up offset 5m") == {"up"}


def test_every_expression_uses_only_ivrflow_metrics() -> None:
    unknown = {expr: metric_names(expr) - METRICS for expr in expressions(dashboard())}
    assert {expr: names for expr, names in unknown.items() if names} == {}


def test_every_ivrflow_metric_is_on_some_panel() -> None:
    board = dashboard()
    used = set().union(
        *(metric_names(target["expr"]) for panel in all_panels(board["panels"]) for target in panel.get("targets", []))
    )
    assert METRICS - used == set()


def test_histograms_are_read_through_their_buckets_or_sums() -> None:
    # A bare histogram name matches no series: Prometheus stores _bucket, _sum and _count.
    for expr in expressions(dashboard()):
        for name in re.findall(r"\bivr_[\w:]*", expr):
            assert name not in HISTOGRAMS, expr


def test_panel_ids_are_unique() -> None:
    ids = [panel["id"] for panel in all_panels(dashboard()["panels"])]
    assert len(ids) == len(set(ids))


def test_every_selector_follows_the_instance_variable() -> None:
    for expr in expressions(dashboard()):
        for name, matchers in SELECTOR.findall(expr):
            if name == "ivr_build_info" and not matchers:
                continue  # the instance variable's own query lists every instance
            assert 'instance=~"$instance"' in matchers, f"{name} in {expr}"


def test_the_dashboard_is_importable_anywhere() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 36
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    assert variables["instance"]["type"] == "query"
    sources = [panel["datasource"] for panel in all_panels(board["panels"]) if panel["type"] != "row"]
    sources += [target["datasource"] for panel in all_panels(board["panels"]) for target in panel.get("targets", [])]
    assert all(source == {"type": "prometheus", "uid": "${datasource}"} for source in sources)


@pytest.mark.parametrize(
    ("title", "metric"),
    [
        ("Active calls", "ivr_calls_active"),
        ("Call rate by outcome", "ivr_calls_total"),
        ("Call duration", "ivr_call_duration_seconds"),
        ("Input results", "ivr_input_total"),
        ("Top options", "ivr_option_selected_total"),
        ("DTMF → action latency p99", "ivr_dtmf_to_action_seconds"),
        ("ESL command latency p99 by command", "ivr_esl_command_seconds"),
        ("Rejected connections", "ivr_esl_connections_rejected_total"),
        ("Errors by kind", "ivr_errors_total"),
        ("Menu reloads", "ivr_config_reloads_total"),
        ("Menu age", "ivr_config_last_success_timestamp_seconds"),
        ("Build version", "ivr_build_info"),
    ],
)
def test_the_asked_for_panels_exist(title: str, metric: str) -> None:
    panels = [panel for panel in all_panels(dashboard()["panels"]) if panel["title"] == title]
    assert panels, f"no panel titled {title!r}"
    assert any(metric in metric_names(target["expr"]) for panel in panels for target in panel["targets"])


def test_call_duration_shows_p50_p95_p99() -> None:
    (panel,) = [panel for panel in all_panels(dashboard()["panels"]) if panel["title"] == "Call duration"]
    quantiles = [re.match(r"histogram_quantile\(([\d.]+),", target["expr"]) for target in panel["targets"]]
    assert {match.group(1) for match in quantiles if match} == {"0.5", "0.95", "0.99"}
