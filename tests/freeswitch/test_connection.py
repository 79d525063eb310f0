"""EslConnection, the I/O shell, on a real socket pair: reads, timeouts, EOF, errors mapped once."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import gevent
import pytest
from gevent import socket as gsocket

from ivrflow.freeswitch.connection import ConnectionLost, EslConnection, ReadPriority


@pytest.fixture
def pair() -> Iterator[tuple[EslConnection, gsocket.socket]]:
    ours, switch = gsocket.socketpair()
    conn = EslConnection(ours)
    yield conn, switch
    conn.close()
    switch.close()


def test_a_read_with_nothing_to_read_times_out(pair: tuple[EslConnection, gsocket.socket]) -> None:
    conn, _ = pair
    assert conn.read(0.01) is None


def test_bytes_come_as_they_arrive(pair: tuple[EslConnection, gsocket.socket]) -> None:
    conn, switch = pair
    switch.sendall(b"Content-Type: comm")
    assert conn.read(1.0) == b"Content-Type: comm"


def test_written_bytes_reach_the_switch(pair: tuple[EslConnection, gsocket.socket]) -> None:
    conn, switch = pair
    conn.write(b"exit\n\n")
    assert switch.recv(100) == b"exit\n\n"


def test_a_write_larger_than_the_socket_buffer_arrives_whole(pair: tuple[EslConnection, gsocket.socket]) -> None:
    conn, switch = pair
    data = bytes(range(256)) * 8192  # 2 MiB: more than the kernel takes in one send

    def read_all() -> bytes:
        got = bytearray()
        while len(got) < len(data):
            got += switch.recv(65536)
        return bytes(got)

    reader = gevent.spawn(read_all)
    conn.write(data)
    assert reader.get(timeout=10) == data


def test_eof_closes_the_connection(pair: tuple[EslConnection, gsocket.socket]) -> None:
    conn, switch = pair
    switch.close()
    assert conn.read(1.0) == b""
    assert conn.closed_reason == "switch closed the connection"
    with pytest.raises(ConnectionLost):
        conn.read(1.0)
    with pytest.raises(ConnectionLost):
        conn.write(b"exit\n\n")


def test_a_reset_is_connection_lost() -> None:
    listener = gsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    peer = gsocket.create_connection(listener.getsockname())
    ours, _ = listener.accept()
    conn = EslConnection(ours)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()  # linger 0: the peer sends RST
    with pytest.raises(ConnectionLost, match="read failed"):
        while conn.read(1.0) is not None:
            pass
    listener.close()


@pytest.mark.parametrize("first_ready", ["in menu", "letting go"])
def test_a_call_in_its_menu_reads_before_one_letting_go_when_both_are_ready(first_ready: str) -> None:
    pairs = {name: gsocket.socketpair() for name in ("in menu", "letting go")}
    conns = {name: EslConnection(ours) for name, (ours, _) in pairs.items()}
    conns["letting go"].set_priority(ReadPriority.LETTING_GO)
    order: list[str] = []

    def read(name: str) -> None:
        assert conns[name].read(5.0) == b"x"
        order.append(name)

    readers = [gevent.spawn(read, name) for name in conns]
    gevent.sleep(0)  # both wait in their reads
    for name in sorted(pairs, key=lambda name: name != first_ready):
        pairs[name][1].sendall(b"x")  # both ready before the loop polls again
    gevent.joinall(readers, timeout=5, raise_error=True)
    assert order == ["in menu", "letting go"]
    for conn in conns.values():
        conn.close()
    for _, switch in pairs.values():
        switch.close()
