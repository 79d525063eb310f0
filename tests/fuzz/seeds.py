"""Seed inputs for the fuzzers: real FreeSWITCH byte streams and the menus ivrflow ships."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ivrflow.testing.fs_frames import (
    api_response_frame,
    channel_data_frame,
    disconnect_notice_frame,
    event_frame_head,
    json_event_body,
    plain_event_body,
    reply_frame,
)

from freeswitch.transcripts import TRANSCRIPT_DIR, chunks  # tests/ is on sys.path, as for every test package

ROOT = Path(__file__).resolve().parents[2]
UUID = "5158e59e-5519-47c6-ba4c-1ff59fcbe301"
CHANNEL = [("Event-Name", "CHANNEL_DATA"), ("Unique-ID", UUID), ("Caller-Caller-ID-Name", "M\u00fcller & Co"),
           ("Caller-Destination-Number", "071"), ("variable_ivr_extension", "071"), ("variable_empty", "")]
DTMF = [("Event-Name", "DTMF"), ("Unique-ID", UUID), ("DTMF-Digit", "5"), ("DTMF-Duration", "2000")]
JOB = [("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", UUID)]


def _rendered() -> list[bytes]:
    """Every kind of frame, as the project's emulator writes them (always available)."""
    plain, job, as_json = plain_event_body(DTMF), plain_event_body(JOB, "+OK done\n"), json_event_body(DTMF, "x")
    return [
        channel_data_frame(CHANNEL, socket_mode="async", control="full"),
        reply_frame("+OK Events Enabled"),
        event_frame_head(plain) + plain,
        event_frame_head(job) + job,
        event_frame_head(as_json, "text/event-json") + as_json,
        api_response_frame("+OK 5158e59e\n"),
        disconnect_notice_frame(UUID, linger_time=30, channel_name="sofia/internal/1000"),
        disconnect_notice_frame(UUID),
    ]


@lru_cache(maxsize=1)
def fs_streams() -> tuple[bytes, ...]:
    """Whole FS->ivrflow streams: each captured transcript (when present) and the emulator's frames."""
    captured = [
        b"".join(chunks(path.name[:2], sent=False))
        for path in sorted(TRANSCRIPT_DIR.glob("[0-9][0-9]-*.jsonl"))
        if not path.name.endswith(".inbound.jsonl")
    ]
    return tuple(stream for stream in captured if stream) + (b"".join(_rendered()),) + tuple(_rendered())


def menu_texts() -> list[str]:
    return [(ROOT / "config" / "example.yaml").read_text(), (ROOT / "bench" / "menu.yaml").read_text()] + [
        path.read_text() for path in sorted((ROOT / "tests" / "menu" / "broken").glob("*.yaml"))
    ]
