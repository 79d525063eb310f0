"""Access to the captured FreeSWITCH 1.10.12 transcripts (``NN-name.jsonl``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

TRANSCRIPT_DIR = Path(
    os.environ.get("IVRFLOW_TRANSCRIPTS", Path(__file__).resolve().parents[3] / "shared" / "freeswitch" / "transcripts")
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One recv()/send() of the capture; ``sent`` is True for APP->FS bytes."""

    t: float
    sent: bool
    data: bytes


@dataclass(frozen=True, slots=True)
class Note:
    t: float
    text: str


def transcript_path(scenario: str, *, inbound: bool = False) -> Path:
    matches = sorted(TRANSCRIPT_DIR.glob(f"{scenario}-*.jsonl"))
    suffix = ".inbound.jsonl"
    for path in matches:
        if path.name.endswith(suffix) == inbound:
            return path
    raise FileNotFoundError(f"no transcript for scenario {scenario} in {TRANSCRIPT_DIR}")


def load(scenario: str, *, inbound: bool = False) -> list[Chunk | Note]:
    items: list[Chunk | Note] = []
    with transcript_path(scenario, inbound=inbound).open(encoding="utf-8") as fh:
        for line in fh:
            obj = json.loads(line)
            if "note" in obj:
                items.append(Note(obj["t"], obj["note"]))
            else:
                items.append(Chunk(obj["t"], obj["dir"] == "send", obj["data"].encode("latin-1")))
    return items


def chunks(scenario: str, *, sent: bool, inbound: bool = False) -> list[bytes]:
    return [c.data for c in load(scenario, inbound=inbound) if isinstance(c, Chunk) and c.sent == sent]
