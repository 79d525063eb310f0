"""Each call's record: one JSON object, the same whichever switch carried the call."""

from __future__ import annotations

import functools
import json
import threading
import time
from typing import IO, Any

from ..engine import CallRecord, Rating
from .info import CallInfo

# The switch passes caller data on as the caller sent it: a record keeps at most
# this much of each caller-supplied text, and of a notice or error quoting one.
MAX_CALLER_TEXT = 256
MAX_NOTE_TEXT = 512


def _clip(text: str, limit: int = MAX_CALLER_TEXT) -> str:
    return text if len(text) <= limit else f"{text[:limit]}...[{len(text) - limit} more characters]"


def record_json(info: CallInfo, record: CallRecord) -> dict[str, Any]:
    return {
        "call_uuid": _clip(info.call_id),
        "ivr": info.ivr,
        "caller": {"number": _clip(info.caller_number), "name": _clip(info.caller_name)},
        "destination": _clip(info.destination),
        "start": _iso(info.started_wall),
        "end": _iso(info.started_wall + record.duration),
        "duration_s": round(record.duration, 3),
        # Seconds from the call's arrival to the caller's first key; null if none was pressed.
        "first_key_s": None if record.first_digit_at is None else round(record.first_digit_at - record.started_at, 3),
        "path": [{"context": step.context, "option": step.option} for step in record.path],
        "entries": list(record.entries),
        "variables": {name: _clip(value) for name, value in record.variables},
        "outcome": record.outcome,
        "reason": record.reason,
        "transfer_destinations": [_clip(d) for d in record.transfer_destinations],
        # How each destination a bridged transfer rang ended: answered, no_answer, busy or failed, with the switch's cause.
        "destination_outcomes": [
            {"destination": _clip(o.destination), "outcome": o.outcome, "cause": _clip(o.cause)} for o in record.destination_outcomes
        ],
        # Seconds of the voicemail message the caller left (it is in the spool); null: none.
        "voicemail_s": None if record.voicemail_s is None else round(record.voicemail_s, 3),
        "notices": [_clip(n, MAX_NOTE_TEXT) for n in record.notices],
        "errors": [_clip(e, MAX_NOTE_TEXT) for e in record.errors],
        "ratings": [_rating(info, record, n, rating) for n, rating in enumerate(record.ratings, 1)],
    }


def _rating(info: CallInfo, record: CallRecord, n: int, rating: Rating) -> dict[str, Any]:
    call_uuid = _clip(info.call_id)
    return {
        "id": f"{call_uuid}-{n}",  # the call's uuid and the rating's place in the call
        "call_uuid": call_uuid,
        "client_id": rating.client_id,
        "ivr": info.ivr,
        "extension_id": rating.extension_id,
        "datetime": _iso(info.started_wall + rating.at - record.started_at),
        "rate": rating.rate,
        "max_rate": rating.max_rate,
    }


def _iso(wall: float) -> str:
    return _second(int(wall // 1)) + f".{int(wall % 1 * 1000):03d}Z"


@functools.lru_cache(maxsize=64)
def _second(second: int) -> str:
    # Calls end by the hundred each second: strftime runs once a second, not twice a call.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


# One encoder for every line: json.dumps builds a new one for each call given options.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class RecordWriter:
    """One JSON line per call, flushed at once, to a file opened for append or to stdout."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: dict[str, Any]) -> None:
        text = _ENCODE(line)
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()
