"""FreeSWITCH's URL encoding, checked against values seen on the wire."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivrflow.freeswitch.urlcode import fs_url_decode, fs_url_encode

ENCODE_TABLE = [
    # 15-variables-url-encoding: Application-Data of the set.
    (
        "ivr_note=hello world 100% ü/&=?+:'\"x",
        "ivr_note%3Dhello%20world%20100%25%20%C3%BC/%26%3D%3F%2B%3A'%22x",
    ),
    # 23: a valid %XX is copied, an invalid one is escaped.
    ("ivr_pct=a%41b%zz c", "ivr_pct%3Da%41b%25zz%20c"),
    ("Fri, 27 Nov 2026 02:33:31 GMT", "Fri,%2027%20Nov%202026%2002%3A33%3A31%20GMT"),
    ("+OK\n", "%2BOK%0A"),
    ("ARRAY::ivr-8084|:8084", "ARRAY%3A%3Aivr-8084%7C%3A8084"),
    ("tone_stream://%(500,500,440);loops=20", "tone_stream%3A//%25(500,500,440)%3Bloops%3D20"),
    ("only lowercase hex %4a is escaped", "only%20lowercase%20hex%20%254a%20is%20escaped"),
    ("%4", "%254"),
    ("%", "%25"),
    ("a!$'()*,-./_~", "a!$'()*,-./_~"),
    ("\t\x7f", "%09%7F"),
]


@pytest.mark.parametrize(("raw", "wire"), ENCODE_TABLE)
def test_encode(raw: str, wire: str) -> None:
    assert fs_url_encode(raw) == wire


@pytest.mark.parametrize(
    ("wire", "text"),
    [
        (b"%2BOK%0A", "+OK\n"),
        (b"M%C3%BCller%20%26%20Co", "Müller & Co"),
        (b"m%c3%bcller", "müller"),
        (b"ivr_pct%3Da%41b%25zz%20c", "ivr_pct=aAb%zz c"),
        (b"%zz%4", "%zz%4"),
        (b"plain", "plain"),
    ],
)
def test_decode(wire: bytes, text: str) -> None:
    assert fs_url_decode(wire) == text


@given(st.text().filter(lambda s: "%" not in s))
def test_round_trip_without_percent(value: str) -> None:
    assert fs_url_decode(fs_url_encode(value).encode("ascii")) == value


@given(st.text())
def test_encoded_value_is_one_printable_ascii_line(value: str) -> None:
    wire = fs_url_encode(value)
    assert wire.isascii()
    assert all(0x20 < ord(c) < 0x7F for c in wire)
