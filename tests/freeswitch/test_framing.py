"""Byte-table tests of the ESL reader."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
from ivrflow.freeswitch.framing import HeaderError, parse_header_lines

DTMF_BODY = (
    b"Event-Name: DTMF\n"
    b"Unique-ID: 5e6c1a9e-7d1f-4b5c-9a9e-2f4b7c0d1e23\n"
    b"Channel-Name: sofia/internal/1000%4010.0.0.5\n"
    b"DTMF-Digit: 5\n"
    b"DTMF-Duration: 2000\n"
    b"\n"
)
DTMF = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(DTMF_BODY) + DTMF_BODY

JOB_BODY = (
    b"Event-Name: BACKGROUND_JOB\n"
    b"Job-UUID: 7f3e0000-0000-4000-8000-000000000042\n"
    b"Job-Command-Arg: 5e6c%20caller_id_name\n"
    b"Content-Length: 17\n"
    b"\n"
    b"M\xc3\xbcller & Co\nx: y"
)
JOB = b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(JOB_BODY) + JOB_BODY

CONNECT = (
    b"Event-Name: CHANNEL_DATA\n"
    b"Unique-ID: 5158e59e-5519-47c6-ba4c-1ff59fcbe301\n"
    b"Caller-Caller-ID-Name: M%C3%BCller%20%26%20Co\n"
    b"variable_current_application_data: 127.0.0.1%3A8084%20async%20full\n"
    b"Content-Type: command/reply\n"
    b"Reply-Text: %2BOK%0A\n"
    b"Socket-Mode: async\n"
    b"Control: full\n"
    b"\n"
)

LINGER = (
    b"Content-Type: text/disconnect-notice\n"
    b"Controlled-Session-UUID: 5158e59e-5519-47c6-ba4c-1ff59fcbe301\n"
    b"Content-Disposition: linger\n"
    b"Channel-Name: loopback/ivr-8084-b\n"
    b"Linger-Time: -1\n"
    b"Content-Length: 0\n\n"
)
FINAL = (
    b"Content-Type: text/disconnect-notice\n"
    b"Controlled-Session-UUID: 5158e59e-5519-47c6-ba4c-1ff59fcbe301\n"
    b"Content-Disposition: disconnect\n"
    b"Content-Length: 67\n\n"
    b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
)
JSON_BODY = b'{"Event-Name":"DTMF","DTMF-Digit":"4","Caller-Caller-ID-Name":"Test Caller","variable_DP_MATCH":["a","b"]}'
JSON = b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(JSON_BODY) + JSON_BODY

TABLE = [
    (
        "reply",
        b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n",
        [Reply("+OK Events Enabled", {"Content-Type": "command/reply"})],
    ),
    (
        "reply text is not url-decoded",
        b"Content-Type: command/reply\nReply-Text: a%41b%zz c\n\n",
        [Reply("a%41b%zz c", {"Content-Type": "command/reply"})],
    ),
    (
        "bgapi reply keeps Job-UUID",
        b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: 42\nJob-UUID: 42\n\n",
        [Reply("+OK Job-UUID: 42", {"Content-Type": "command/reply", "Job-UUID": "42"})],
    ),
    (
        "api response without trailing newline",
        b"Content-Type: api/response\nContent-Length: 1\n\n1",
        [ApiResponse("1")],
    ),
    (
        "api error",
        b"Content-Type: api/response\nContent-Length: 22\n\n-ERR No such channel!\n",
        [ApiResponse("-ERR No such channel!\n")],
    ),
    (
        "dtmf event",
        DTMF,
        [
            EslEvent(
                "DTMF",
                {
                    "Event-Name": "DTMF",
                    "Unique-ID": "5e6c1a9e-7d1f-4b5c-9a9e-2f4b7c0d1e23",
                    "Channel-Name": "sofia/internal/1000@10.0.0.5",
                    "DTMF-Digit": "5",
                    "DTMF-Duration": "2000",
                },
            )
        ],
    ),
    (
        "event with its own body, which may contain ': ' and newlines",
        JOB,
        [
            EslEvent(
                "BACKGROUND_JOB",
                {
                    "Event-Name": "BACKGROUND_JOB",
                    "Job-UUID": "7f3e0000-0000-4000-8000-000000000042",
                    "Job-Command-Arg": "5e6c caller_id_name",
                    "Content-Length": "17",
                },
                "Müller & Co\nx: y",
            )
        ],
    ),
    (
        "connect reply",
        CONNECT,
        [
            ChannelData(
                {
                    "Event-Name": "CHANNEL_DATA",
                    "Unique-ID": "5158e59e-5519-47c6-ba4c-1ff59fcbe301",
                    "Caller-Caller-ID-Name": "Müller & Co",
                    "variable_current_application_data": "127.0.0.1:8084 async full",
                    "Content-Type": "command/reply",
                    "Reply-Text": "+OK\n",
                    "Socket-Mode": "async",
                    "Control": "full",
                }
            )
        ],
    ),
    (
        "linger notice",
        LINGER,
        [
            DisconnectNotice(
                "linger",
                -1,
                {
                    "Content-Type": "text/disconnect-notice",
                    "Controlled-Session-UUID": "5158e59e-5519-47c6-ba4c-1ff59fcbe301",
                    "Content-Disposition": "linger",
                    "Channel-Name": "loopback/ivr-8084-b",
                    "Linger-Time": "-1",
                    "Content-Length": "0",
                },
            )
        ],
    ),
    (
        "final notice",
        FINAL,
        [
            DisconnectNotice(
                "disconnect",
                None,
                {
                    "Content-Type": "text/disconnect-notice",
                    "Controlled-Session-UUID": "5158e59e-5519-47c6-ba4c-1ff59fcbe301",
                    "Content-Disposition": "disconnect",
                    "Content-Length": "67",
                },
                "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n",
            )
        ],
    ),
    (
        "json event",
        JSON,
        [
            EslEvent(
                "DTMF",
                {
                    "Event-Name": "DTMF",
                    "DTMF-Digit": "4",
                    "Caller-Caller-ID-Name": "Test Caller",
                    "variable_DP_MATCH": "ARRAY::a|:b",
                },
            )
        ],
    ),
    (
        "other content type",
        b"Content-Type: auth/request\n\n",
        [OtherFrame("auth/request", {"Content-Type": "auth/request"})],
    ),
    (
        "several frames in one chunk",
        LINGER + FINAL,
        [
            DisconnectNotice("linger", -1, dict(parse_header_lines(LINGER[:-2], url_decoded=False))),
            DisconnectNotice(
                "disconnect",
                None,
                dict(parse_header_lines(FINAL.split(b"\n\n")[0], url_decoded=False)),
                FINAL.split(b"\n\n", 1)[1].decode(),
            ),
        ],
    ),
]


@pytest.mark.parametrize(("data", "expected"), [(d, e) for _, d, e in TABLE], ids=[n for n, _, _ in TABLE])
def test_reader_table(data: bytes, expected: list[object]) -> None:
    reader = FrameReader()
    assert reader.feed(data) == expected
    assert reader.buffered == 0


@pytest.mark.parametrize("data", [DTMF, JOB, CONNECT, FINAL, JSON], ids=["dtmf", "job", "connect", "final", "json"])
def test_split_at_every_boundary(data: bytes) -> None:
    whole = FrameReader().feed(data)
    for cut in range(1, len(data)):
        reader = FrameReader()
        assert reader.feed(data[:cut]) == []
        assert reader.feed(data[cut:]) == whole, cut


@pytest.mark.parametrize("data", [DTMF + JOB, LINGER + FINAL])
def test_byte_by_byte(data: bytes) -> None:
    reader = FrameReader()
    frames = [f for b in data for f in reader.feed(bytes([b]))]
    assert frames == FrameReader().feed(data)


def test_value_with_encoded_newline_and_colon_cannot_forge_a_header() -> None:
    forged = "x\nDTMF-Digit: 9\nÄ: ü"
    body = (
        b"Event-Name: CHANNEL_EXECUTE\n"
        b"variable_x: x%0ADTMF-Digit%3A%209%0A%C3%84%3A%20%C3%BC\n"
        b"Application: playback\n\n"
    )
    frame = FrameReader().feed(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body)
    assert frame == [
        EslEvent(
            "CHANNEL_EXECUTE",
            {"Event-Name": "CHANNEL_EXECUTE", "variable_x": forged, "Application": "playback"},
        )
    ]
    assert "DTMF-Digit" not in frame[0].headers  # type: ignore[union-attr]


def test_invalid_utf8_falls_back_without_losing_bytes() -> None:
    body = b"Event-Name: CUSTOM\nx: %FF%FEab\n\n"
    (event,) = FrameReader().feed(b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body)
    assert isinstance(event, EslEvent)
    assert event.headers["x"].encode("latin-1") == b"\xff\xfeab"


GOOD = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b"Content-Type: command/reply\nthis line has no colon\n\n", "header line without"),
        (b"Content-Type: api/response\nContent-Length: ten\n\n", "Content-Length is not a number"),
        (b"Content-Type: api/response\nContent-Length: -4\n\n", "Content-Length is not a number"),
        (b"Reply-Text: +OK\n\n", "without Content-Type"),
        (b"Content-Length: 12\nContent-Type: text/event-plain\n\nno-colon\n\n\n\n", "event body"),
        (b"Content-Length: 15\nContent-Type: text/event-plain\n\nDTMF-Digit: 1\n\n", "without Event-Name"),
        (b"Content-Length: 5\nContent-Type: text/event-json\n\n[1,2]", "not an event object"),
        (b"Content-Length: 3\nContent-Type: text/event-json\n\n{{{", "not JSON"),
        (b"Content-Type: command/reply\nEvent-Name: CHANNEL_DATA\nbroken\n\n", "header line without"),
    ],
)
def test_malformed_frame_is_reported_and_reader_resynchronises(bad: bytes, reason: str) -> None:
    reader = FrameReader()
    frames = reader.feed(bad + GOOD)
    assert isinstance(frames[0], MalformedFrame)
    assert reason in frames[0].reason
    assert frames[-1] == Reply("+OK", {"Content-Type": "command/reply"})
    assert all(isinstance(f, MalformedFrame) for f in frames[:-1])


def test_oversized_header_block_is_dropped_until_the_next_blank_line() -> None:
    reader = FrameReader(max_header_bytes=64)
    frames = reader.feed(b"X: " + b"a" * 100)
    assert [type(f) for f in frames] == [MalformedFrame]
    assert "longer than 64" in frames[0].reason  # type: ignore[union-attr]
    assert reader.buffered <= 1
    assert reader.feed(b"a" * 1000) == []
    assert reader.buffered <= 1
    assert reader.feed(b"\n\n" + GOOD) == [Reply("+OK", {"Content-Type": "command/reply"})]


def test_oversized_complete_header_block() -> None:
    reader = FrameReader(max_header_bytes=16)
    frames = reader.feed(b"Content-Type: command/reply\nReply-Text: +OK\n\n" + b"Content-Type: x\n\n")
    assert isinstance(frames[0], MalformedFrame)
    assert frames[1] == OtherFrame("x", {"Content-Type": "x"})


def test_body_too_large_is_refused() -> None:
    reader = FrameReader(max_body_bytes=10)
    frames = reader.feed(b"Content-Type: api/response\nContent-Length: 11\n\n" + GOOD)
    assert isinstance(frames[0], MalformedFrame)
    assert "exceeds" in frames[0].reason


def test_close_in_the_middle_of_a_frame() -> None:
    reader = FrameReader()
    assert reader.feed(DTMF[:40]) == []
    (frame,) = reader.close()
    assert isinstance(frame, MalformedFrame)
    assert frame.raw == DTMF[:40]
    assert reader.close() == []


def test_close_between_frames_reports_nothing() -> None:
    reader = FrameReader()
    reader.feed(GOOD)
    assert reader.close() == []


def test_parse_header_lines_rejects_empty_name() -> None:
    with pytest.raises(HeaderError):
        parse_header_lines(b": value", url_decoded=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_fuzz_never_raises_and_stays_bounded(parts: list[bytes]) -> None:
    reader = FrameReader(max_header_bytes=256, max_body_bytes=512)
    for part in parts:
        reader.feed(part)
        assert reader.buffered <= 256 + 512 + 200
    reader.close()
    assert reader.feed(GOOD) == [Reply("+OK", {"Content-Type": "command/reply"})]


def plain(body: bytes) -> bytes:
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body


def test_an_event_is_read_where_asked_so_a_line_without_a_colon_is_no_header() -> None:
    body = b"Event-Name: CHANNEL_EXECUTE_COMPLETE\nno colon here\nApplication-UUID: 42\n\n"
    (event,) = FrameReader().feed(plain(body) + GOOD)[:1]
    assert isinstance(event, EslEvent) and event.name == "CHANNEL_EXECUTE_COMPLETE"
    assert event.get("Application-UUID") == "42" and "no colon here" not in event.headers
    assert dict(event.headers) == {"Event-Name": "CHANNEL_EXECUTE_COMPLETE", "Application-UUID": "42"}


def test_a_connect_reply_with_a_body_has_its_body_read_past() -> None:
    frames = FrameReader().feed(CONNECT[:-1] + b"Content-Length: 9\n\nX: y\n\nZ\n\n" + GOOD)
    assert isinstance(frames[0], ChannelData) and frames[0].unique_id == "5158e59e-5519-47c6-ba4c-1ff59fcbe301"
    assert frames[1:] == [Reply("+OK", {"Content-Type": "command/reply"})]


@pytest.mark.parametrize("text", [b"", b"+OK", b" \t+OK x", b"-ERR M\xc3\xbcller", b"+OK a: b", b"%2BOK"])
def test_a_two_line_reply_reads_as_the_general_parser_reads_it(text: bytes) -> None:
    block = b"Content-Type: command/reply\nReply-Text:" + text
    general = dict(parse_header_lines(block, url_decoded=False))
    assert FrameReader().feed(block + b"\n\n") == [Reply(general.pop("Reply-Text"), general)]


def json_event(body: bytes) -> bytes:
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(body) + body


HOSTILE_LENGTHS = [
    ("superscript two", "\u00b2".encode()),
    ("fullwidth digits", "\uff11\uff12".encode()),
    ("arabic-indic digit", "\u0663".encode()),
    ("plus sign", b"+5"),
    ("minus sign", b"-4"),
    ("trailing blank", b"5 "),
    ("underscore", b"1_0"),
    ("eleven digits", b"12345678901"),
    ("a thousand digits", b"9" * 1000),
]


@pytest.mark.parametrize("value", [v for _, v in HOSTILE_LENGTHS], ids=[n for n, _ in HOSTILE_LENGTHS])
@pytest.mark.parametrize(
    "head",
    [
        b"Content-Type: api/response\nContent-Length: ",
        b"Content-Type: command/reply\nEvent-Name: CHANNEL_DATA\nSocket-Mode: async\nContent-Length: ",  # handshake
        b"Content-Type: text/event-plain\nContent-Length: ",
    ],
    ids=["frame", "connect reply", "event"],
)
def test_a_length_that_is_not_ascii_digits_is_a_malformed_frame(head: bytes, value: bytes) -> None:
    frames = FrameReader().feed(head + value + b"\n\n" + GOOD)
    assert isinstance(frames[0], MalformedFrame)
    assert "Content-Length is not a number of 1 to 10 ASCII digits" in frames[0].reason
    assert frames[-1] == Reply("+OK", {"Content-Type": "command/reply"})


@pytest.mark.parametrize("value", [b"%C2%B2", b"%EF%BC%91", b"+3", b"99999999999"])
def test_an_inner_event_length_that_is_not_ascii_digits_gives_no_body(value: bytes) -> None:
    (event,) = FrameReader().feed(plain(b"Event-Name: BACKGROUND_JOB\nContent-Length: " + value + b"\n\n+OK done"))
    assert isinstance(event, EslEvent) and event.body is None


@pytest.mark.parametrize("value", ["\u00b2".encode(), b"+5", b"9" * 40])
def test_a_bad_linger_time_is_no_linger_time(value: bytes) -> None:
    (notice,) = FrameReader().feed(
        b"Content-Type: text/disconnect-notice\nContent-Disposition: linger\nLinger-Time: " + value + b"\n\n"
    )
    assert isinstance(notice, DisconnectNotice) and notice.linger_time is None


def test_the_body_cap_holds_on_the_fast_path_and_the_body_is_never_held() -> None:
    reader = FrameReader(max_body_bytes=1000)
    # FreeSWITCH's own header order, which the fast path reads
    frames = reader.feed(b"Content-Length: 90000000\nContent-Type: text/event-plain\n\n")
    assert isinstance(frames[0], MalformedFrame) and "exceeds 1000" in frames[0].reason
    chunk = b"Event-Name: DTMF\n\n" * 50_000  # 900,000 bytes that look like frames
    for _ in range(100):
        assert reader.feed(chunk) == []
        assert reader.buffered == 0
    assert reader.feed(GOOD) == [Reply("+OK", {"Content-Type": "command/reply"})]


def test_a_refused_body_split_across_feeds_is_counted_off_exactly() -> None:
    reader = FrameReader(max_body_bytes=200)
    frames = reader.feed(b"Content-Length: 300\nContent-Type: text/event-plain\n\n" + b"y" * 120)
    assert [type(f) for f in frames] == [MalformedFrame]
    assert reader.feed(b"y" * 179) == []
    assert reader.feed(b"y" + DTMF) == FrameReader().feed(DTMF)


def test_event_json_nested_100000_deep_is_a_malformed_frame() -> None:
    body = b'{"Event-Name":"DTMF","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    frames = FrameReader(max_body_bytes=1 << 20).feed(json_event(body) + GOOD)
    assert isinstance(frames[0], MalformedFrame) and "nested more than 32 levels" in frames[0].reason
    assert frames[1] == Reply("+OK", {"Content-Type": "command/reply"})


def test_brackets_inside_json_strings_are_not_nesting() -> None:
    body = b'{"Event-Name":"DTMF","x":"' + b"[{" * 500 + b'\\"","y":["a","b"]}'
    (event,) = FrameReader().feed(json_event(body))
    assert isinstance(event, EslEvent) and event.headers["x"] == "[{" * 500 + '"'


def test_an_empty_caller_value_reads_as_empty_not_undef() -> None:
    from ivrflow.freeswitch.frames import caller_value

    (data,) = FrameReader().feed(CONNECT.replace(b"Caller-Caller-ID-Name: M%C3%BCller%20%26%20Co", b"Caller-Caller-ID-Name: _undef_"))
    assert isinstance(data, ChannelData)
    assert caller_value(data.headers["Caller-Caller-ID-Name"]) == ""
    assert caller_value("M\u00fcller & Co") == "M\u00fcller & Co"
    assert caller_value("_undef_x") == "_undef_x"


def test_close_forgets_a_refused_body_and_a_dropped_header_block() -> None:
    reader = FrameReader(max_header_bytes=64, max_body_bytes=100)
    reader.feed(b"Content-Length: 9000\n\n")
    reader.close()
    assert reader.feed(GOOD) == [Reply("+OK", {"Content-Type": "command/reply"})]
    reader.feed(b"X: " + b"a" * 100)
    reader.close()
    assert reader.feed(GOOD) == [Reply("+OK", {"Content-Type": "command/reply"})]
