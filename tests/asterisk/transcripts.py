"""The captured Asterisk 22.10.1 ARI transcripts (``NN-name.jsonl``), cut into scenario sections."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

# shared/ lies beside the checkout.
TRANSCRIPT_DIR = Path(
    os.environ.get("IVRFLOW_ARI_TRANSCRIPTS", Path(__file__).resolve().parents[3] / "shared" / "asterisk" / "transcripts")
)
_SECTION = re.compile(r"^(\d\d[a-z]?(?:-\d)?): ")

Line = dict[str, Any]


def load(scenario: str) -> list[Line]:
    matches = sorted(TRANSCRIPT_DIR.glob(f"{scenario}-*.jsonl"))
    if not matches:
        raise FileNotFoundError(f"no ARI transcript {scenario} in {TRANSCRIPT_DIR}")
    return [json.loads(line) for line in matches[0].read_text().splitlines() if line.strip()]


def section(lines: list[Line], names: set[str]) -> list[Line]:
    """The lines of the named sections (a section runs from its `NN: ...` note to the next one)."""
    out: list[Line] = []
    current: str | None = None
    for line in lines:
        if line["kind"] == "note":
            m = _SECTION.match(line["text"])
            if m:
                current = m.group(1)
        # The sockets opened before the first section serve them all.
        if current in names or current is None and line["kind"] == "ws-open" and line["app"].startswith("ivrflow"):
            out.append(line)
    return out


_LOCAL_NAME = re.compile(r"-[0-9a-f]{8};")
_EPOCH = re.compile(r"(?<=@)1[0-9]{9}\b")  # epoch seconds the dialplan wrote into a value (${EPOCH})
_DROP = {"timestamp", "creationtime", "startup_time", "last_reload_time"}


def normalize(value: Any, ids: dict[str, str]) -> Any:
    """Ids mapped, timestamps and Local channel numbers dropped: what two runs must share."""
    if isinstance(value, dict):
        return {k: normalize(v, ids) for k, v in value.items() if k not in _DROP and not (k == "name" and "id" in value and "state" in value)}
    if isinstance(value, list):
        return [normalize(v, ids) for v in value]
    if isinstance(value, str):
        for theirs, ours in ids.items():
            value = value.replace(theirs, ours)
        return _EPOCH.sub("<epoch>", _LOCAL_NAME.sub("-N;", value))
    return value
