"""What the daemon does with what happens to calls: metrics, records, logs.

The engine knows nothing of this; the call driver reports to an Observer, which
maps the engine's outputs to Prometheus metrics and hands each call's record on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..calls.info import CallInfo
from ..calls.records import record_json
from ..engine import ActionDone, CallRecord, ContextEntered, InputResolved, Output, Rating, RatingGiven, Transfer
from .metrics import Metrics

log = logging.getLogger("ivrflow.call")


class Observer:
    def __init__(
        self,
        metrics: Metrics,
        write_record: Callable[[dict[str, Any]], None],
        post_rating: Callable[[CallInfo, Rating], None] | None = None,
    ) -> None:
        """`post_rating` gets each rating as it is given (menus from the API post them there)."""
        self.metrics = metrics
        self.write_record = write_record
        self.post_rating = post_rating
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def call_rejected(self, reason: str, message: str) -> None:
        self.metrics.rejected.labels(reason=reason).inc()
        log.warning("connection not served (%s): %s", reason, message)

    def call_started(self, info: CallInfo) -> None:
        log.info("call started", extra={"call": info.call_id, "ivr": info.ivr, "caller": info.caller_number})

    def outputs(self, info: CallInfo, outputs: list[Output]) -> None:
        m, ivr, child = self.metrics, info.ivr, self._child
        for output in outputs:
            match output:
                case ContextEntered(context=context):
                    child(m.context_entries, ivr, str(context)).inc()
                case InputResolved(context=context, result=result, option=option):
                    child(m.inputs, ivr, str(context), result).inc()
                    if result == "option" and option is not None:
                        child(m.options, ivr, str(context), option).inc()
                case ActionDone(action=action, result=result):
                    child(m.actions, ivr, action, result).inc()
                case Transfer(kind=kind):
                    child(m.transfers, ivr, kind).inc()
                case RatingGiven(rating=rating):
                    child(m.quality_rate, ivr, str(rating.max_rate)).observe(rating.rate)
                    if self.post_rating is not None:
                        self.post_rating(info, rating)

    def _child(self, metric: Any, *labels: str) -> Any:
        # Label values are bounded (they come from the menu), so the children can be kept;
        # looking them up here is cheaper than prometheus_client's locked `labels()`.
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def dtmf_handled(self, seconds: float) -> None:
        self.metrics.dtmf_to_action.observe(seconds)

    def command_timed(self, command: str, seconds: float) -> None:
        self._child(self.metrics.esl_command, command).observe(seconds)

    def error(self, kind: str) -> None:
        self.metrics.errors.labels(kind=kind).inc()

    def call_finished(self, info: CallInfo, record: CallRecord) -> None:
        self._child(self.metrics.calls, info.ivr, record.outcome).inc()
        self._child(self.metrics.call_duration, info.ivr).observe(record.duration)
        log.info(
            "call finished",
            extra={"call": info.call_id, "ivr": info.ivr, "outcome": record.outcome, "reason": record.reason,
                   "duration": round(record.duration, 3)},
        )
        self.write_record(record_json(info, record))
