"""Every byte FreeSWITCH sent in the captures parses into well-formed frames."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from ivrflow.freeswitch import (
    ApiResponse,
    ChannelData,
    DisconnectNotice,
    EslEvent,
    FrameReader,
    MalformedFrame,
    OtherFrame,
    Reply,
)

from .transcripts import TRANSCRIPT_DIR, chunks

SCENARIOS = sorted({p.name[:2] for p in TRANSCRIPT_DIR.glob("[0-9][0-9]-*.jsonl")})


def _parse(data: list[bytes]) -> list[object]:
    reader = FrameReader()
    frames = [frame for chunk in data for frame in reader.feed(chunk)]
    assert reader.buffered == 0
    return frames


def test_all_scenarios_are_present() -> None:
    assert len(SCENARIOS) == 25


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_outbound_stream_parses(scenario: str) -> None:
    frames = _parse(chunks(scenario, sent=False))
    kinds = Counter(type(f) for f in frames)
    assert not [f for f in frames if isinstance(f, (MalformedFrame, OtherFrame))]
    assert kinds[ChannelData] == 1
    assert isinstance(frames[0], ChannelData)
    assert frames[0].headers["Reply-Text"] == "+OK\n"  # the one URL-encoded reply, decoded
    assert frames[0].headers["Unique-ID"] == frames[0].headers["variable_uuid"]
    assert kinds[Reply] >= 1
    notices = [f for f in frames if isinstance(f, DisconnectNotice)]
    assert notices[-1].disposition == "disconnect"
    assert frames[-1] is notices[-1]
    uuid = frames[0].unique_id
    for frame in frames:
        if isinstance(frame, EslEvent) and frame.name != "BACKGROUND_JOB":
            assert frame.headers["Unique-ID"] == uuid


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_inbound_stream_parses(scenario: str) -> None:
    frames = _parse(chunks(scenario, sent=False, inbound=True))
    assert not [f for f in frames if isinstance(f, MalformedFrame)]
    assert isinstance(frames[0], OtherFrame) and frames[0].content_type == "auth/request"


@pytest.mark.parametrize("scenario", ["02", "05", "15", "16", "22"])
def test_random_rechunking_gives_the_same_frames(scenario: str) -> None:
    data = b"".join(chunks(scenario, sent=False))
    expected = _parse([data])
    rng = random.Random(int(scenario))
    for _ in range(5):
        cuts = sorted(rng.sample(range(1, len(data)), 60))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
        assert _parse(pieces) == expected


def test_background_job_body_is_kept_apart() -> None:
    jobs = [
        f for f in _parse(chunks("05", sent=False, inbound=True)) if isinstance(f, EslEvent) and f.name == "BACKGROUND_JOB"
    ]
    assert jobs
    assert jobs[-1].headers["Job-Command"] == "uuid_break"
    assert jobs[-1].body == "+OK\n"
    assert "+OK" not in jobs[-1].headers


def test_api_responses_and_special_values() -> None:
    frames = _parse(chunks("23", sent=False))
    assert ApiResponse("a%41b%zz c") in frames
    assert ApiResponse("1") in frames
    assert Reply("-ERR aready enabled.", {"Content-Type": "command/reply"}) in frames
    sets = [f for f in frames if isinstance(f, EslEvent) and f.get("Application") == "set"]
    # The lossy encoding: FreeSWITCH did not escape the valid "%41".
    assert sets[0].headers["Application-Data"] == "ivr_pct=aAb%zz c"


def test_url_encoded_values_survive() -> None:
    frames = _parse(chunks("15", sent=False))
    data = [f.headers["Application-Data"] for f in frames if isinstance(f, EslEvent) and f.get("Application") == "set"]
    assert "ivr_note=hello world 100% ü/&=?+:'\"x" in data
    assert any(d.startswith("ivr_long=") and len(d) == 3009 for d in data)


def test_json_events() -> None:
    frames = _parse(chunks("16", sent=False))
    names = [f.name for f in frames if isinstance(f, EslEvent)]
    assert "DTMF" in names and "CHANNEL_HANGUP_COMPLETE" in names
    dtmf = next(f for f in frames if isinstance(f, EslEvent) and f.name == "DTMF")
    assert dtmf.headers["DTMF-Digit"] == "4"
