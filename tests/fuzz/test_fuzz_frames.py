"""Fuzz the ESL reader and event decoder: random and mutated real frames never raise.

Bounded for CI by hypothesis settings (a few seconds); `tests/fuzz/atheris_frames.py`
runs the same target coverage-guided.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivrflow.freeswitch import FrameReader, Reply
from ivrflow.freeswitch.frames import ChannelData, EslEvent, Frame

from .seeds import fs_streams

GOOD = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
MAX_HEADER, MAX_BODY = 4096, 8192
# Tokens a hostile peer would try where the reader makes decisions.
HOSTILE = [
    b"\n\n", b"\n", b":", b"Content-Length: ", b"Content-Length: \xc2\xb2\n", b"Content-Length: 99999999999\n",
    b"Content-Length: 9000\n", b"Content-Length: -1\n", b"Content-Type: text/event-json\n", b"%", b"%0A", b"%ZZ",
    b"%C3", b"\xff\xfe", b"[" * 200, b"{" * 200, b'"', b"\\", b"Event-Name: ", b"_undef_", b"\x00", b"\r\n",
    b"Content-Type: text/event-plain\n", b"Content-Type: command/reply\nEvent-Name: CHANNEL_DATA\n",
    "\uff11\uff12".encode(), b"Linger-Time: \xc2\xb2\n",
]


def touch(frame: Frame) -> None:
    """Read a frame the way the call layer may: every header, decoded."""
    if isinstance(frame, (EslEvent, ChannelData)):
        headers = frame.headers
        for name in list(headers):
            headers.get(name)
            assert isinstance(headers[name], str)
        len(headers)
        repr(headers)
        headers.get("Event-Name")
        headers.get("no-such-header")


def run(stream: bytes, cuts: list[int]) -> None:
    reader = FrameReader(max_header_bytes=MAX_HEADER, max_body_bytes=MAX_BODY)
    start = 0
    for cut in sorted(c % (len(stream) + 1) for c in cuts) + [len(stream)]:
        for frame in reader.feed(stream[start:cut]):
            touch(frame)
        start = max(start, cut)
        assert reader.buffered <= MAX_HEADER + MAX_BODY + len(stream)
    for frame in reader.close():
        touch(frame)
    # whatever came before, the reader is ready for the next frame
    assert reader.feed(GOOD) == [Reply("+OK", {"Content-Type": "command/reply"})]


mutation = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "repeat"]),
    st.integers(min_value=0),
    st.one_of(st.sampled_from(HOSTILE), st.binary(min_size=1, max_size=8)),
)


def mutate(stream: bytes, mutations: list[tuple[str, int, bytes]]) -> bytes:
    data = bytearray(stream)
    for kind, position, token in mutations:
        at = position % (len(data) + 1)
        if kind == "flip" and data:
            data[at % len(data)] ^= token[0] or 1
        elif kind == "insert":
            data[at:at] = token
        elif kind == "delete":
            del data[at : at + len(token)]
        else:
            data[at:at] = bytes(data[at : at + 64]) * 3
    return bytes(data)


# IVRFLOW_FUZZ_EXAMPLES raises the bound for a longer campaign than CI's few seconds.
FUZZ = settings(max_examples=int(os.environ.get("IVRFLOW_FUZZ_EXAMPLES", 200)), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0), max_size=8))
def test_random_bytes(stream: bytes, cuts: list[int]) -> None:
    run(stream, cuts)


@FUZZ
@given(
    st.sampled_from(range(len(fs_streams()))),
    st.lists(mutation, min_size=1, max_size=12),
    st.lists(st.integers(min_value=0), max_size=6),
)
def test_mutated_real_frames(which: int, mutations: list[tuple[str, int, bytes]], cuts: list[int]) -> None:
    # the first 16 KiB of a stream hold every kind of frame it has (connect reply, replies, events)
    run(mutate(fs_streams()[which][:16384], mutations), cuts)


@FUZZ
@given(st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=30), st.lists(st.integers(min_value=0), max_size=6))
def test_streams_of_hostile_tokens(tokens: list[bytes], cuts: list[int]) -> None:
    run(b"".join(tokens), cuts)


def test_every_seed_stream_parses_without_a_malformed_frame() -> None:
    from ivrflow.freeswitch import MalformedFrame

    for stream in fs_streams():
        frames = FrameReader().feed(stream)
        assert frames and not [f for f in frames if isinstance(f, MalformedFrame)]
