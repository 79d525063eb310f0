"""How FreeSWITCH reads what a client writes on an event socket (``read_packet``).

Rules kept from mod_event_socket: leading blank lines are skipped, ``\\r`` is
ignored, the first line is the command, header values are *not* URL-decoded,
header names are case-insensitive, and ``Content-Length`` announces a body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping

__all__ = ["ClientCommand", "CommandReader", "ProtocolViolation"]

# FreeSWITCH's MAX_CONTENT_LENGTH; a bigger body drops the connection.
MAX_BODY = 16 << 20
MAX_HEADER_BLOCK = 10 << 20


class ProtocolViolation(Exception):
    """Input FreeSWITCH would answer by dropping the connection."""


@dataclass(frozen=True, slots=True)
class ClientCommand:
    """One command as received: its first line, headers (lower-cased names) and body."""

    line: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    raw: bytes = b""

    @property
    def name(self) -> str:
        return self.line.split(" ", 1)[0].lower()

    @property
    def args(self) -> list[str]:
        return self.line.split()[1:]


class CommandReader:
    """Incremental parser of client commands."""

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> bool:
        """True while part of a command is buffered (FreeSWITCH writes no events then)."""
        return bool(self._buf.strip(b"\r\n"))

    def feed(self, data: bytes) -> list[ClientCommand]:
        self._buf += data
        out: list[ClientCommand] = []
        while True:
            command = self._next()
            if command is None:
                return out
            out.append(command)

    def _next(self) -> ClientCommand | None:
        start = 0
        while start < len(self._buf) and self._buf[start] in b"\r\n":
            start += 1
        if start:
            del self._buf[:start]
        end = _find_blank_line(self._buf)
        if end is None:
            if len(self._buf) > MAX_HEADER_BLOCK:
                raise ProtocolViolation("command header block too long")
            return None
        block = bytes(self._buf[:end[0]])
        lines = block.replace(b"\r", b"").split(b"\n")
        first = lines[0].decode("utf-8", "replace")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                continue
            headers[name.decode("utf-8", "replace").strip().lower()] = value.lstrip(b" ").decode("utf-8", "replace")
        length_text = headers.get("content-length")
        length = 0
        if length_text is not None:
            if not length_text.strip().isdigit() or int(length_text) > MAX_BODY:
                raise ProtocolViolation(f"bad Content-Length {length_text!r}")
            length = int(length_text)
        total = end[1] + length
        if len(self._buf) < total:
            return None
        raw = bytes(self._buf[:total])
        body = raw[end[1]:]
        del self._buf[:total]
        return ClientCommand(first, headers, body, raw)


def _find_blank_line(buf: bytearray) -> tuple[int, int] | None:
    """(end of header block, start of body); FreeSWITCH counts \\n and ignores \\r."""
    i = 0
    newlines = 0
    block_end = 0
    while i < len(buf):
        c = buf[i]
        if c == 0x0A:
            newlines += 1
            if newlines == 1:
                block_end = i
            if newlines == 2:
                return block_end, i + 1
        elif c != 0x0D:
            newlines = 0
        i += 1
    return None
