"""One outbound Event Socket connection: the socket, its reader and its one writer.

It is a greenswitch `OutboundSession` with the parts that fail on a real
switch replaced: frames come from the sans-I/O `FrameReader` (per-line
decoding, bodies kept apart, bad frames logged and survived), writes use
`sendall` under one lock, every reply wait has a deadline, and EOF or a socket
error fails every waiter at once. greenswitch's own two greenlets (one polls a
queue every second) are not started: one reader greenlet feeds `on_frame`.
"""

from __future__ import annotations

import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence

import gevent
import gevent.event
import gevent.lock
from greenswitch.esl import OutboundSession

from .frames import ApiResponse, ChannelData, Frame, MalformedFrame, Reply
from .framing import FrameReader

log = logging.getLogger("ivrflow.esl")

RECV_BYTES = 65536


class ConnectionLost(Exception):
    """The socket closed or failed; nothing more can be sent or received."""


class CommandTimeout(Exception):
    """The switch did not reply to a command within its deadline."""


Answer = Reply | ApiResponse | ChannelData


class EslConnection(OutboundSession):  # type: ignore[misc]
    """Bytes to frames and back for one call. Replies are matched in the order commands were sent."""

    def __init__(
        self,
        sock: socket.socket,
        address: object,
        on_frame: Callable[[Frame], None],
        on_close: Callable[[str], None],
        on_malformed: Callable[[str], None],
        call_id: str = "-",
    ) -> None:
        self._on_frame = on_frame
        self._on_close = on_close
        self._on_malformed = on_malformed
        self.call_id = call_id
        self._reader = FrameReader()
        self._write_lock = gevent.lock.Semaphore()
        self._waiting: deque[gevent.event.AsyncResult] = deque()
        self.closed_reason: str | None = None
        super().__init__(address, sock)

    def start_event_handlers(self) -> None:
        self._receive_events_greenlet = gevent.spawn(self._read_loop)

    def command(self, data: bytes, timeout: float) -> Answer:
        """Send one command and wait for its reply; raise ConnectionLost or CommandTimeout."""
        return self.pipeline([data], timeout)[0]

    def pipeline(self, commands: Sequence[bytes], timeout: float) -> list[Answer]:
        """Send commands in one write and wait for all their replies, in order, within `timeout`.

        FreeSWITCH reads commands one after another from the socket, so sending
        several at once saves a round trip per command.
        """
        results = [gevent.event.AsyncResult() for _ in commands]
        with self._write_lock:
            if self.closed_reason is not None:
                raise ConnectionLost(self.closed_reason)
            self._waiting.extend(results)
            try:
                self.sock.sendall(b"".join(commands))
            except OSError as exc:
                self._close(f"write failed: {exc}")
        answers: list[Answer] = []
        try:
            with gevent.Timeout(timeout):
                for result in results:
                    answers.append(result.get())
        except gevent.Timeout as exc:
            first_line = commands[len(answers)].split(b"\n", 1)[0]
            raise CommandTimeout(f"no reply within {timeout} s to {first_line!r}") from exc
        return answers

    def send_only(self, data: bytes) -> None:
        """Write a command whose reply nobody waits for (the reply is still consumed in order)."""
        with self._write_lock:
            if self.closed_reason is not None:
                return
            self._waiting.append(gevent.event.AsyncResult())
            try:
                self.sock.sendall(data)
            except OSError as exc:
                self._close(f"write failed: {exc}")

    def close(self, reason: str = "closed by ivrflow") -> None:
        self._close(reason)

    def _read_loop(self) -> None:
        try:
            while self.closed_reason is None:
                try:
                    data = self.sock.recv(RECV_BYTES)
                except OSError as exc:
                    self._close(f"read failed: {exc}")
                    return
                if not data:
                    for frame in self._reader.close():
                        self._dispatch(frame)
                    self._close("switch closed the connection")
                    return
                for frame in self._reader.feed(data):
                    self._dispatch(frame)
        except Exception:  # a bug must not leave the call's waiters hanging
            log.exception("reader failed", extra={"call": self.call_id})
            self._close("reader failed")

    def _dispatch(self, frame: Frame) -> None:
        if isinstance(frame, MalformedFrame):
            log.warning("skipped a malformed frame: %s (%r)", frame.reason, frame.raw[:200], extra={"call": self.call_id})
            self._on_malformed(frame.reason)
            return
        if isinstance(frame, (Reply, ApiResponse, ChannelData)):
            if self._waiting:
                self._waiting.popleft().set(frame)
            else:
                log.warning("reply nobody asked for: %r", frame, extra={"call": self.call_id})
            return
        self._on_frame(frame)

    def _close(self, reason: str) -> None:
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        self.connected = False
        try:
            self.sock_file.close()  # greenswitch's file keeps the descriptor open otherwise
            self.sock.close()
        except OSError:
            pass
        while self._waiting:
            self._waiting.popleft().set_exception(ConnectionLost(reason))
        self._on_close(reason)
