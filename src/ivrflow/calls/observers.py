"""What the daemon does with what happens to calls: metrics, records, logs.

The engine knows nothing of this; the call driver reports to an Observer, which
maps the engine's outputs to Prometheus metrics and writes each call's record.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from ..engine import (
    ActionDone,
    CallRecord,
    ContextEntered,
    InputResolved,
    Output,
    Transfer,
)
from .info import CallInfo
from ..service.metrics import Metrics

log = logging.getLogger("ivrflow.call")


def record_json(info: CallInfo, record: CallRecord) -> dict[str, Any]:
    return {
        "call_uuid": info.call_id,
        "ivr": info.ivr,
        "caller": {"number": info.caller_number, "name": info.caller_name},
        "destination": info.destination,
        "start": _iso(info.started_wall),
        "end": _iso(info.started_wall + record.duration),
        "duration_s": round(record.duration, 3),
        # Seconds from the call's arrival to the caller's first key; null if none was pressed.
        "first_key_s": None if record.first_digit_at is None else round(record.first_digit_at - record.started_at, 3),
        "path": [{"context": step.context, "option": step.option} for step in record.path],
        "entries": list(record.entries),
        "variables": dict(record.variables),
        "outcome": record.outcome,
        "reason": record.reason,
        "transfer_destinations": list(record.transfer_destinations),
        "notices": list(record.notices),
        "errors": list(record.errors),
    }


def _iso(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall % 1 * 1000):03d}Z"


class RecordWriter:
    """One JSON line per call, flushed at once, to a file opened for append or to stdout."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: dict[str, Any]) -> None:
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()


class Observer:
    def __init__(self, metrics: Metrics, write_record: Callable[[dict[str, Any]], None]) -> None:
        self.metrics = metrics
        self.write_record = write_record
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def call_rejected(self, reason: str, message: str) -> None:
        self.metrics.rejected.labels(reason=reason).inc()
        log.warning("connection not served (%s): %s", reason, message)

    def call_started(self, info: CallInfo) -> None:
        self.metrics.calls_active.inc()
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
        self.metrics.calls_active.dec()
        self._child(self.metrics.calls, info.ivr, record.outcome).inc()
        self._child(self.metrics.call_duration, info.ivr).observe(record.duration)
        log.info(
            "call finished",
            extra={"call": info.call_id, "ivr": info.ivr, "outcome": record.outcome, "reason": record.reason,
                   "duration": round(record.duration, 3)},
        )
        self.write_record(record_json(info, record))
