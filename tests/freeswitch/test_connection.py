"""EslConnection on a real socket pair: reads, timeouts, replies in order, EOF."""

from __future__ import annotations

import pytest
from gevent import socket as gsocket

from ivrflow.freeswitch.connection import ConnectionLost, EslConnection
from ivrflow.freeswitch.frames import EslEvent, Reply

EVENT_BODY = b"Event-Name: DTMF\nDTMF-Digit: 5\nUnique-ID: abc\n\n"
EVENT = b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(EVENT_BODY), EVENT_BODY)


@pytest.fixture
def pair():
    ours, switch = gsocket.socketpair()
    malformed: list[str] = []
    conn = EslConnection(ours, ("peer", 0), malformed.append)
    yield conn, switch, malformed
    conn.close()
    switch.close()


def test_a_read_with_nothing_to_read_times_out(pair) -> None:
    conn, _, _ = pair
    assert conn.read(0.01) is None


def test_half_a_frame_is_no_frame_and_no_timeout(pair) -> None:
    conn, switch, _ = pair
    switch.sendall(EVENT[:20])
    assert conn.read(1.0) == []
    switch.sendall(EVENT[20:])
    [event] = conn.read(1.0) or []
    assert isinstance(event, EslEvent) and event.get("DTMF-Digit") == "5"


def test_replies_go_in_order_to_whoever_waits_for_them(pair) -> None:
    conn, switch, _ = pair
    conn.write(b"api uuid_break abc\n\n", awaited=False)
    conn.write(b"sendmsg\ncall-command: execute\n\n")
    switch.sendall(b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n" + EVENT)
    switch.sendall(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    frames: list[object] = []
    while not conn.replies:
        frames += conn.read(1.0) or []
    assert [type(f) for f in frames] == [EslEvent]  # the event is handed over, the api reply dropped
    assert isinstance(conn.replies[0], Reply) and conn.replies[0].ok


def test_a_malformed_frame_is_reported_and_survived(pair) -> None:
    conn, switch, malformed = pair
    switch.sendall(b"no colon here\n\n" + EVENT)
    frames: list[object] = []
    while not frames:
        frames += conn.read(1.0) or []
    assert malformed and isinstance(frames[0], EslEvent)


def test_eof_ends_the_connection(pair) -> None:
    conn, switch, _ = pair
    switch.close()
    with pytest.raises(ConnectionLost):
        conn.read(1.0)
    with pytest.raises(ConnectionLost):
        conn.write(b"exit\n\n")
