"""Caller data and bad menu values reach logs and records escaped and capped."""

from __future__ import annotations

import json
import logging

import pytest

from ivrflow.calls.records import MAX_CALLER_TEXT, MAX_NOTE_TEXT, record_json
from ivrflow.engine.record import CallRecord
from ivrflow.calls.info import CallInfo
from ivrflow.logs import MAX_FIELD_CHARS, MAX_MESSAGE_CHARS, JsonFormatter, KeyValueFormatter

HOSTILE = "evil\x1b[31m\x00\r\nlevel=error \x7f\u2028\x9b\u202e"


def record(message: str = "call started", **extra: object) -> logging.LogRecord:
    out = logging.LogRecord("ivrflow.call", logging.INFO, __file__, 1, message, None, None)
    out.__dict__.update(extra)
    return out


def test_key_value_lines_escape_every_control_character() -> None:
    line = KeyValueFormatter().format(record(f"caller {HOSTILE}", caller=HOSTILE))
    assert line.isprintable()
    assert "\\x1b[31m\\x00\\r\\n" in line and "\\x7f" in line and "\\u2028" in line and "\\u202e" in line
    # the forged pair stays inside the quoted value
    assert " level=error" not in line.replace('caller="evil', "")


def test_json_lines_escape_every_control_character() -> None:
    line = JsonFormatter().format(record(caller=HOSTILE))
    assert line.isprintable()
    assert json.loads(line)["caller"] == HOSTILE


@pytest.mark.parametrize("formatter", [KeyValueFormatter(), JsonFormatter()], ids=["kv", "json"])
def test_values_and_messages_are_capped(formatter: logging.Formatter) -> None:
    line = formatter.format(record("x" * 100_000_000, caller="n" * 100_000))
    assert len(line) < MAX_FIELD_CHARS + MAX_MESSAGE_CHARS + 400
    assert f"...[{100_000 - MAX_FIELD_CHARS} more characters]" in line


def test_numbers_stay_numbers_in_json() -> None:
    assert json.loads(JsonFormatter().format(record(duration=1.5, ok=True)))["duration"] == 1.5


def test_the_call_record_caps_caller_supplied_text() -> None:
    info = CallInfo("u" * 10_000, "071", "1" * 100_000, "N" * 100_000, "0" * 100_000)
    done = CallRecord(
        "071", "error", "e", 0.0, 1.0, variables=(("who", "v" * 5000),),
        notices=("n" * 5000,), errors=("e" * 5000,), transfer_destinations=("9" * 5000,),
    )
    line = json.dumps(record_json(info, done))
    assert len(line) < 12 * MAX_NOTE_TEXT + 200
    data = record_json(info, done)
    assert data["caller"]["name"] == "N" * MAX_CALLER_TEXT + f"...[{100_000 - MAX_CALLER_TEXT} more characters]"
    assert data["variables"]["who"].startswith("v" * MAX_CALLER_TEXT + "...[")
    assert data["errors"][0].startswith("e" * MAX_NOTE_TEXT + "...[")
