"""Per-call records (one JSON line per finished call) and call logging."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from .engine import CallRecord, Notice, Output
from .engine import Event as EngineEvent
from .esl.call_session import CallInfo

log = logging.getLogger("ivrflow.call")


def record_json(info: CallInfo, record: CallRecord) -> dict[str, Any]:
    started = info.started_wall
    return {
        "call_uuid": info.channel_uuid,
        "ivr": info.ivr,
        "caller": {"number": info.caller_number, "name": info.caller_name},
        "destination": info.destination,
        "start": _iso(started),
        "end": _iso(started + record.duration),
        "duration_s": round(record.duration, 3),
        "path": [{"context": s.context, "option": s.option} for s in record.path],
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
    """Writes one JSON line per call to a stream (a file opened for append, or stdout)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: dict[str, Any]) -> None:
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()


class LoggingObserver:
    """Logs every call's start, notices and end, and hands its record to `write_record`."""

    def __init__(self, write_record: Callable[[dict[str, Any]], None]) -> None:
        self.write_record = write_record
        self.finished = 0

    def call_rejected(self, reason: str) -> None:
        log.warning("call rejected: %s", reason)

    def call_started(self, info: CallInfo) -> None:
        log.info("call=%s ivr=%s caller=%s started", info.channel_uuid, info.ivr, info.caller_number)

    def outputs(self, info: CallInfo, outputs: list[Output], caused_by: EngineEvent) -> None:
        for output in outputs:
            if isinstance(output, Notice):
                log.warning("call=%s %s", info.channel_uuid, output.message)

    def command_timed(self, command: str, seconds: float) -> None:
        pass

    def call_finished(self, info: CallInfo, record: CallRecord) -> None:
        self.finished += 1
        log.info(
            "call=%s ivr=%s outcome=%s reason=%r duration=%.3f",
            info.channel_uuid, info.ivr, record.outcome, record.reason, record.duration,
        )
        self.write_record(record_json(info, record))
