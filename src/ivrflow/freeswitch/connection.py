"""One outbound Event Socket connection: bytes to frames and back, read by the call's own greenlet.

It is a greenswitch `OutboundSession` with the parts that fail on a real
switch replaced: frames come from the sans-I/O `FrameReader` (per-line
decoding, bodies kept apart, bad frames logged and survived), writes use
`sendall` under one lock, and EOF or a socket error ends the connection at
once. greenswitch's own two greenlets (one polls a queue every second) are
not started, nor is any other: the call's greenlet reads when it has nothing
else to do, so a frame costs no queue and no extra greenlet switch.

Replies carry no id: they come in the order commands were sent. Each write
says how many replies it expects and whether anyone waits for them; replies
nobody waits for (to a `uuid_break`, a hangup) are consumed and dropped.
"""

from __future__ import annotations

import logging
import socket
from collections import deque
from collections.abc import Callable

import gevent
import gevent.lock
from gevent.hub import Waiter
from greenswitch.esl import OutboundSession

from .frames import ApiResponse, ChannelData, Frame, MalformedFrame, Reply
from .framing import FrameReader

log = logging.getLogger("ivrflow.freeswitch")

RECV_BYTES = 65536

ReplyFrame = Reply | ApiResponse | ChannelData


class ConnectionLost(Exception):
    """The socket closed or failed; nothing more can be sent or received."""


class CommandTimeout(Exception):
    """The switch did not reply to a command within its deadline."""


class EslConnection(OutboundSession):  # type: ignore[misc]
    def __init__(
        self,
        sock: socket.socket,
        address: object,
        on_malformed: Callable[[str], None],
        call_id: str = "-",
    ) -> None:
        self._on_malformed = on_malformed
        self.call_id = call_id
        self._reader = FrameReader()
        self._write_lock = gevent.lock.Semaphore()
        self._expected: deque[bool] = deque()  # one per reply to come: does someone wait for it?
        self.replies: deque[ReplyFrame] = deque()  # replies someone waits for, in order
        self.closed_reason: str | None = None
        super().__init__(address, sock)
        # greenswitch registered its own bound methods as handlers: reference cycles that only
        # the cyclic collector would free, in long pauses under load. Nothing dispatches to them.
        self.event_handlers: dict[str, list[Callable[..., None]]] = {}
        self._hub = gevent.get_hub()
        self._raw: socket.socket = sock._sock  # type: ignore[attr-defined]  # the non-blocking socket under gevent's; reads wait in _wait_readable
        self._readable = self._hub.loop.io(sock.fileno(), 1)

    def start_event_handlers(self) -> None:
        """greenswitch would start its reader and a polling dispatcher here; the call's greenlet reads instead."""

    def write(self, data: bytes, replies: int = 1, awaited: bool = True) -> None:
        """Send commands that will get `replies` replies; raise ConnectionLost."""
        with self._write_lock:
            if self.closed_reason is not None:
                raise ConnectionLost(self.closed_reason)
            self._expected.extend([awaited] * replies)
            try:
                self.sock.sendall(data)
            except OSError as exc:
                self._close(f"write failed: {exc}")
                raise ConnectionLost(self.closed_reason) from exc

    def read(self, timeout: float | None) -> list[Frame] | None:
        """Wait up to `timeout` for bytes; the events and notices they complete, or None on timeout.

        Replies go to `replies` (or are dropped when nobody waits). Raises
        ConnectionLost at EOF or on a socket error.
        """
        if self.closed_reason is not None:
            raise ConnectionLost(self.closed_reason)
        data = self._recv()
        if data is None:
            if not self._wait_readable(timeout):
                return None
            data = self._recv()
            if data is None:
                return []  # woken with nothing to read after all: no frame, but no timeout either
        if not data:
            self._route(self._reader.close())
            self._close("switch closed the connection")
            raise ConnectionLost(self.closed_reason)
        return self._route(self._reader.feed(data))

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
        """Sleep until the socket is readable (True) or `timeout` passes (False).

        One event-loop wait on a watcher kept for the connection's life, and a
        plain timer: cheaper than a socket timeout, which raises an exception
        each time it expires, and an engine timer expires on most reads.
        """
        waiter = Waiter(self._hub)
        self._readable.start(waiter.switch, True)
        timer = None
        if timeout is not None:
            timer = self._hub.loop.timer(timeout)
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

    def _route(self, frames: list[Frame]) -> list[Frame]:
        others: list[Frame] = []
        for frame in frames:
            if isinstance(frame, MalformedFrame):
                log.warning("skipped a malformed frame: %s (%r)", frame.reason, frame.raw[:200], extra={"call": self.call_id})
                self._on_malformed(frame.reason)
            elif isinstance(frame, (Reply, ApiResponse, ChannelData)):
                if not self._expected:
                    log.warning("reply nobody asked for: %r", frame, extra={"call": self.call_id})
                elif self._expected.popleft():
                    self.replies.append(frame)
            else:
                others.append(frame)
        return others

    def _close(self, reason: str) -> None:
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        self.connected = False
        self._readable.close()
        try:
            self.sock_file.close()  # greenswitch's file keeps the descriptor open otherwise
            self.sock.close()
        except OSError:
            pass
