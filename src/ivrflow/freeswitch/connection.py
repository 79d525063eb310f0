"""The I/O shell of one outbound Event Socket connection: it reads, writes and closes, nothing more.

Socket errors become `ConnectionLost` here and nowhere else. Writes go to the
non-blocking socket, and through gevent's `sendall` only for what did not fit.
Reads are made by the call's own greenlet, which waits on a watcher kept for
the connection's life and a plain timer: cheaper than a socket timeout, which
raises an exception each time it expires, and an engine timer expires on most reads.
That watcher carries the read's priority (`ReadPriority`).
"""

from __future__ import annotations

import socket
from enum import IntEnum
from typing import Protocol

import gevent
import gevent.lock
from gevent.hub import Waiter

RECV_BYTES = 65536


class ConnectionLost(Exception):
    """The socket closed or failed; nothing more can be sent or received."""


class ReadPriority(IntEnum):
    """A read's turn among the sockets found ready together (libev's watcher priority).

    Each turn of the loop runs every ready watcher, the higher priorities
    first, so a lower one waits for nothing but the higher ones of its turn.
    The webhooks' sockets and the listener keep libev's default, 0.
    """

    IN_MENU = 1  # a caller waits on what this read leads to: a key's command, the next prompt
    LETTING_GO = -1  # the call has left the menu; only the switch's release is left


class Connection(Protocol):
    """What a call's session needs of its connection (EslConnection; a scripted one in tests)."""

    closed_reason: str | None

    def write(self, data: bytes) -> None: ...

    def read(self, timeout: float | None) -> bytes | None: ...

    def close(self, reason: str = "closed by ivrflow") -> None: ...

    def set_priority(self, priority: ReadPriority) -> None: ...


class EslConnection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._write_lock = gevent.lock.Semaphore()
        self.closed_reason: str | None = None
        self._hub = gevent.get_hub()
        # The non-blocking socket under gevent's: reads wait in _wait_readable.
        self._raw: socket.socket = getattr(sock, "_sock", sock)
        self._readable = self._hub.loop.io(sock.fileno(), 1)
        self._readable.priority = ReadPriority.IN_MENU

    def write(self, data: bytes) -> None:
        with self._write_lock:
            if self.closed_reason is not None:
                raise ConnectionLost(self.closed_reason)
            try:
                # Straight to the non-blocking socket first: a command nearly always fits its
                # buffer, and gevent's sendall asks the kernel that buffer's size at every write.
                try:
                    sent = self._raw.send(data)
                except BlockingIOError:
                    sent = 0
                if sent < len(data):
                    self.sock.sendall(memoryview(data)[sent:])  # waits for room
            except OSError as exc:
                self._close(f"write failed: {exc}")
                raise ConnectionLost(self.closed_reason) from exc

    def set_priority(self, priority: ReadPriority) -> None:
        """The priority of the reads from now on; between reads only (libev's rule: gevent raises otherwise)."""
        self._readable.priority = priority

    def read(self, timeout: float | None) -> bytes | None:
        """Bytes within `timeout` (b"" at EOF, after which the connection is closed), or None on timeout."""
        if self.closed_reason is not None:
            raise ConnectionLost(self.closed_reason)
        data = self._recv()
        if data is None:
            if not self._wait_readable(timeout):
                return None
            data = self._recv()
            if data is None:
                return None  # woken with nothing to read after all
        if not data:
            self._close("switch closed the connection")
        return data

    def _recv(self) -> bytes | None:
        """What the socket holds now (b"" at EOF), or None when it holds nothing yet."""
        try:
            return self._raw.recv(RECV_BYTES)
        except BlockingIOError:
            return None
        except OSError as exc:
            self._close(f"read failed: {exc}")
            raise ConnectionLost(self.closed_reason) from exc

    def _wait_readable(self, timeout: float | None) -> bool:
        """Sleep until the socket is readable (True) or `timeout` passes (False)."""
        waiter = Waiter(self._hub)
        self._readable.start(waiter.switch, True)
        timer = None
        if timeout is not None:
            timer = self._hub.loop.timer(max(timeout, 0.0))
            timer.start(waiter.switch, False)
        try:
            readable: bool = waiter.get()
            return readable
        finally:
            self._readable.stop()
            if timer is not None:
                timer.close()

    def close(self, reason: str = "closed by ivrflow") -> None:
        self._close(reason)

    def _close(self, reason: str) -> None:
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        self._readable.close()
        try:
            self.sock.close()
        except OSError:
            pass
