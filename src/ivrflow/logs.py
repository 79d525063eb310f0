"""Structured logs: key=value or JSON lines, with the call's uuid on every line about a call.

Values may come from callers (a caller name) or from a bad menu, so every value
is capped and no control or other non-printable character reaches the log
raw: a log line stays one line, and an ESC cannot drive the reader's terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

# Characters kept in a value; the message and a traceback may be longer than a field.
MAX_FIELD_CHARS = 1024
MAX_MESSAGE_CHARS = 8192
_LONG_FIELDS = frozenset({"msg", "exc"})
# What json.dumps leaves raw although it is not printable: DEL, C1 controls, line separators...
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
    }
    out.update((k, v) for k, v in vars(record).items() if k not in _STANDARD)
    out["msg"] = record.getMessage()
    if record.exc_info:
        out["exc"] = logging.Formatter().formatException(record.exc_info)
    return out


def cap(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more characters]"


def _capped(fields: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None or isinstance(value, (bool, int, float)):
            out[key] = value
        else:
            out[key] = cap(str(value), MAX_MESSAGE_CHARS if key in _LONG_FIELDS else MAX_FIELD_CHARS)
    return out


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{_key(k)}={_kv(v)}" for k, v in _capped(_fields(record)).items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = json.dumps(_capped(_fields(record)), ensure_ascii=False, default=str)
        # Such characters only occur inside JSON strings, where \uXXXX means the same.
        return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _key(name: str) -> str:
    return name if name.isidentifier() else _kv(name)


def _kv(value: object) -> str:
    text = str(value)
    if text and text.isprintable() and not any(c.isspace() or c in '"=\\' for c in text):
        return text
    if text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return '"' + "".join(_escape(c) for c in text) + '"'


def _escape(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if char.isprintable():
        return char
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    )


def configure(log_format: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else KeyValueFormatter())
    root = logging.getLogger("ivrflow")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def for_call(logger: logging.Logger, call_uuid: str) -> logging.LoggerAdapter[logging.Logger]:
    return logging.LoggerAdapter(logger, {"call": call_uuid})
