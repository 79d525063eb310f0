"""Prometheus metrics, on a registry the daemon passes in.

Labels are bounded: ivr extensions, context ids and option keys come from the
menu; outcomes, results, kinds and reasons from fixed sets. Never a caller
number, a call uuid or the digits a caller typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .. import __version__
from ..engine import Outcome
from ..webhooks.outcome import RESULTS, WebhookOutcome
from .rating_post import RESULTS as RATING_POST_RESULTS

# Seconds: a call lasts seconds to many minutes.
CALL_DURATION_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
# Seconds: reaction to a key or a command reply, expected in milliseconds.
FAST_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Seconds: a webhook answers in milliseconds to its deadline (5 s by default).
WEBHOOK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
# A rating is a whole number 1..9: one bucket per value.
RATE_BUCKETS = (1, 2, 3, 4, 5, 6, 7, 8, 9)


# The label values counters are created with, so that /metrics shows them at 0 from the start.
OUTCOMES: tuple[str, ...] = get_args(Outcome)
RELOAD_RESULTS = ("success", "failure")
ERROR_KINDS = (
    "malformed_frame", "connection_lost", "command_timeout", "internal", "bad_dtmf", "unsafe_argument", "switch_refused",
    "bad_speech_result",
)
REJECTION_REASONS = ("capacity", "handshake_failed", "not_async_full", "no_ivr")


class _CallsActive(Collector):
    """`ivr_calls_active` read at scrape time from whoever holds the calls: one source of truth."""

    def __init__(self, count: Callable[[], int]) -> None:
        self._count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("ivr_calls_active", "Calls in a menu right now", value=self._count())


class Metrics:
    def __init__(self, registry: CollectorRegistry, calls_active: Callable[[], int]) -> None:
        self.registry = registry
        registry.register(_CallsActive(calls_active))
        self.calls = Counter("ivr_calls_total", "Finished calls by how they left the menu", ["ivr", "outcome"], registry=registry)
        self.call_duration = Histogram(
            "ivr_call_duration_seconds", "Time from a call's arrival to its leaving the menu", ["ivr"],
            buckets=CALL_DURATION_BUCKETS, registry=registry,
        )
        self.context_entries = Counter(
            "ivr_context_entries_total", "Entries into a context (the entry context and jumps)", ["ivr", "context"], registry=registry
        )
        self.inputs = Counter(
            "ivr_input_total", "Caller entries by how they resolved", ["ivr", "context", "result"], registry=registry
        )
        self.options = Counter(
            "ivr_option_selected_total", "Menu options chosen by callers", ["ivr", "context", "option"], registry=registry
        )
        self.actions = Counter("ivr_actions_total", "Rule actions run", ["ivr", "action", "result"], registry=registry)
        self.transfers = Counter("ivr_transfers_total", "Transfers started", ["ivr", "kind"], registry=registry)
        self.dtmf_to_action = Histogram(
            "ivr_dtmf_to_action_seconds",
            "From a DTMF event's arrival to the switch command it caused (or to finding the switch had already done it)",
            buckets=FAST_BUCKETS, registry=registry,
        )
        self.esl_command = Histogram(
            "ivr_esl_command_seconds", "From sending an Event Socket command to its reply", ["command"],
            buckets=FAST_BUCKETS, registry=registry,
        )
        self.rejected = Counter(
            "ivr_esl_connections_rejected_total", "Connections from FreeSWITCH not served", ["reason"], registry=registry
        )
        self.ari_reconnects = Counter(
            "ivr_ari_reconnects_total", "Times the ARI events WebSocket came back after it was lost", registry=registry
        )
        self.errors = Counter("ivr_errors_total", "Errors survived, by kind", ["kind"], registry=registry)
        self.reloads = Counter("ivr_config_reloads_total", "Menu reloads by result", ["result"], registry=registry)
        self.config_last_success = Gauge(
            "ivr_config_last_success_timestamp_seconds", "When a menu was last loaded successfully", registry=registry
        )
        self.build_info = Gauge("ivr_build_info", "ivrflow's version", ["version"], registry=registry)
        self.build_info.labels(version=__version__).set(1)
        for result in RELOAD_RESULTS:
            self.reloads.labels(result=result)
        for kind in ERROR_KINDS:
            self.errors.labels(kind=kind)
        for reason in REJECTION_REASONS:
            self.rejected.labels(reason=reason)
        self.webhook_requests = Counter(
            "ivr_webhook_requests_total", "call_interactive requests by result", ["result"], registry=registry
        )
        for webhook_result in RESULTS:
            self.webhook_requests.labels(result=webhook_result)
        self.webhook_seconds = Histogram(
            "ivr_webhook_seconds", "From a call_interactive request's start to its outcome",
            buckets=WEBHOOK_BUCKETS, registry=registry,
        )

        self.quality_rate = Histogram(
            "ivr_quality_rate", "Callers' ratings (quality_rate), on a scale of 1..max_rate", ["ivr", "max_rate"],
            buckets=RATE_BUCKETS, registry=registry,
        )
        self.rating_posts = Counter(
            "ivr_quality_rate_posts_total", "Ratings posted to the menu API, by result", ["result"], registry=registry
        )
        for post_result in RATING_POST_RESULTS:
            self.rating_posts.labels(result=post_result)

    def rating_posted(self, result: str) -> None:
        self.rating_posts.labels(result=result).inc()

    def webhook_done(self, outcome: WebhookOutcome) -> None:
        self.webhook_requests.labels(result=outcome.result).inc()
        self.webhook_seconds.observe(outcome.seconds)

    def known_ivrs(self, extensions: Iterable[str]) -> None:
        """Show each ivr's outcome counters from the start (a reload may add ivrs: call it again)."""
        for ivr in extensions:
            for outcome in OUTCOMES:
                self.calls.labels(ivr=ivr, outcome=outcome)
