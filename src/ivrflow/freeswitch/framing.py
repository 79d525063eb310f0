"""Sans-I/O reader for the Event Socket byte stream: bytes in, frames out.

Theory of operation.  Every message is a block of ``Name: value`` lines ended
by an empty line (LF only); a ``Content-Length`` header announces exactly that
many body bytes.  The reader keeps one buffer and one pending header block, so
a frame may be split across any number of ``feed`` calls.

Bad peer input never raises: it becomes a :class:`MalformedFrame` and the
reader resynchronises on the next blank line.  The header block and the body
are both capped on every path, so a peer that never sends ``\\n\\n`` or
announces a huge body cannot make the buffer grow without bound: the bytes of
a refused body are counted off as they arrive, never held.  A length is ASCII
digits only (``int()`` would take ``²`` or ``+1``), and JSON nesting is bounded.

Decoding is per line: header values of events and of the ``connect`` reply
are URL-decoded one line at a time, *after* splitting, so a value holding
``%0A`` or ``: `` cannot forge a header. An event's hundred lines are read
only where a header is asked for (most are channel variables nobody reads),
so in a block that opens with ``Event-Name`` as FreeSWITCH's do, a line
without a colon is no header rather than a malformed frame; any other block
is checked line by line.

One module past 400 lines: the fast path for FreeSWITCH's own header order and
the general path share every bound, and must be read side by side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from urllib.parse import unquote

from .frames import (
    ApiResponse,
    ChannelData,
    DisconnectNotice,
    EslEvent,
    Frame,
    MalformedFrame,
    OtherFrame,
    Reply,
)
from .urlcode import decode_text, fs_url_decode

__all__ = ["FrameReader", "HeaderError", "parse_header_lines"]

DEFAULT_MAX_HEADER_BYTES = 1 << 20
# FreeSWITCH's own MAX_CONTENT_LENGTH for what it reads.
DEFAULT_MAX_BODY_BYTES = 16 << 20
# How much of a bad frame a MalformedFrame keeps for the log.
_RAW_KEEP = 1024
# Longer than any body cap: a longer length is refused without converting it.
_LENGTH = re.compile(r"[0-9]{1,10}")
# An event-json object holds strings and arrays of strings; 32 levels is far beyond that.
MAX_JSON_DEPTH = 32


class HeaderError(ValueError):
    """A header block that does not follow ``Name: value`` lines."""


def parse_header_lines(block: bytes, *, url_decoded: bool) -> list[tuple[str, str]]:
    """Split a header block (without its blank line) into ordered ``(name, value)`` pairs."""
    try:
        # FreeSWITCH escapes every non-ASCII byte of a value, so a block is
        # nearly always ASCII: then one decode serves every line.
        text = block.decode("ascii")
    except UnicodeDecodeError:
        return _parse_header_bytes(block, url_decoded=url_decoded)
    fields: list[tuple[str, str]] = []
    append = fields.append
    for line in text.split("\n"):
        name, sep, value = line.partition(":")
        if not sep or not name:
            raise HeaderError(f"header line without a name and ':': {line[:80]!r}")
        value = value.lstrip(" \t")
        if url_decoded and "%" in value:
            value = _unquote(value)
        append((name, value))
    return fields


class EncodedHeaders(Mapping[str, str]):
    """A URL-encoded header block, read where and when a header is asked for.

    An event carries a hundred headers, most of them channel variables that
    nobody reads. A lookup finds ``\nName:`` in the block's text and decodes
    that one value; only iterating splits the whole block. A value never
    holds a raw newline or colon (FreeSWITCH encodes both), so a match is
    always a real header. As in a dict built from the lines, the last of two
    equal names wins.
    """

    __slots__ = ("_text", "_all")

    def __init__(self, text: str) -> None:
        self._text = "\n" + text
        self._all: dict[str, str] | None = None

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        # Most lookups of a missing header are expected (optional headers): no KeyError.
        start = self._text.rfind(f"\n{name}:")
        if start < 0:
            return default
        start += len(name) + 2
        end = self._text.find("\n", start)
        value = self._text[start : end if end >= 0 else None].lstrip(" \t")
        return _unquote(value) if "%" in value else value

    def get_leading(self, name: str) -> str | None:
        """`get` for a header FreeSWITCH writes first (Event-Name), read there without a scan from the end."""
        if not self._text.startswith(f"\n{name}:"):
            return self.get(name)
        end = self._text.find("\n", 1)
        value = self._text[len(name) + 2 : end if end >= 0 else None].lstrip(" \t")
        return _unquote(value) if "%" in value else value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and f"\n{name}:" in self._text

    def _decoded(self) -> dict[str, str]:
        if self._all is None:
            self._all = {
                name: _unquote(value) if "%" in value else value
                for name, value in _HEADER_LINE.findall(self._text[1:])
            }
        return self._all

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def __repr__(self) -> str:
        return f"EncodedHeaders({self._decoded()!r})"


_HEADER_LINE = re.compile(r"^([^:\n]+):[ \t]*(.*)$", re.MULTILINE)


def parse_encoded_headers(block: bytes) -> Mapping[str, str]:
    """The URL-encoded header block of an event or connect reply, decoded lazily."""
    try:
        text = block.decode("ascii")
    except UnicodeDecodeError:
        return dict(parse_header_lines(block, url_decoded=True))
    # switch_event_serialize writes Event-Name first. A block in that shape is
    # read lazily: checking each of its hundred lines cost more than the rest
    # of the event's reading. Any other block gets the line-by-line check,
    # which raises HeaderError naming a bad line.
    if not text.startswith("Event-Name:"):
        parse_header_lines(block, url_decoded=True)
    return EncodedHeaders(text)


def _unquote(value: str) -> str:
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return fs_url_decode(value.encode("ascii"))


def _parse_header_bytes(block: bytes, *, url_decoded: bool) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in block.split(b"\n"):
        name, sep, value = line.partition(b":")
        if not sep or not name:
            raise HeaderError(f"header line without a name and ':': {line[:80]!r}")
        value = value.lstrip(b" \t")
        text = fs_url_decode(value) if url_decoded else decode_text(value)
        fields.append((decode_text(name), text))
    return fields


class FrameReader:
    """Incremental parser of what FreeSWITCH writes on an (outbound) event socket."""

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._max_header = max_header_bytes
        self._max_body = max_body_bytes
        self._buf = bytearray()
        # Where to resume looking for "\n\n", so a slowly arriving header block is not rescanned.
        self._scan_from = 0
        self._pending: tuple[bytes, list[tuple[str, str]], int] | None = None
        self._discarding = False
        # Bytes still to drop of a body that was refused for its length.
        self._skipping = 0

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame they complete, in order."""
        self._buf += data
        frames: list[Frame] = []
        while self._step(frames):
            pass
        return frames

    def close(self) -> list[Frame]:
        """The peer closed the connection: report a frame it left unfinished."""
        # A refused body or a dropped header block was reported when it began.
        self._skipping, self._discarding = 0, False
        if not self._buf and self._pending is None:
            return []
        raw = bytes(self._buf[:_RAW_KEEP])
        self._buf.clear()
        self._pending = None
        self._scan_from = 0
        return [MalformedFrame("connection closed in the middle of a frame", raw)]

    def _step(self, frames: list[Frame]) -> bool:
        if self._skipping:
            dropped = min(self._skipping, len(self._buf))
            del self._buf[:dropped]
            self._skipping -= dropped
            if self._skipping:
                return False
        if self._discarding and not self._skip_to_blank_line():
            return False
        if self._pending is None:
            return self._read_header_block(frames)
        block, fields, length = self._pending
        if len(self._buf) < length:
            return False
        body = bytes(self._buf[:length])
        del self._buf[:length]
        self._pending = None
        frames.append(_build_safely(block, fields, body))
        return True

    def _skip_to_blank_line(self) -> bool:
        end = self._buf.find(b"\n\n")
        if end < 0:
            # Keep one byte: it may be the first half of the "\n\n" we are looking for.
            del self._buf[:-1]
            return False
        del self._buf[: end + 2]
        self._discarding = False
        return True

    def _read_header_block(self, frames: list[Frame]) -> bool:
        # FreeSWITCH never sends blank lines between frames, but skipping them
        # makes resynchronisation after a malformed frame land on a real header.
        start = 0
        while start < len(self._buf) and self._buf[start] == 0x0A:
            start += 1
        if start:
            del self._buf[:start]
            self._scan_from = 0
        end = self._buf.find(b"\n\n", max(self._scan_from, 0))
        if end < 0:
            if len(self._buf) > self._max_header:
                frames.append(
                    MalformedFrame(
                        f"header block longer than {self._max_header} bytes",
                        bytes(self._buf[:_RAW_KEEP]),
                    )
                )
                self._buf.clear()
                self._scan_from = 0
                self._discarding = True
            else:
                self._scan_from = max(len(self._buf) - 1, 0)
            return False
        block = bytes(self._buf[:end])
        del self._buf[: end + 2]
        self._scan_from = 0
        if end > self._max_header:
            frames.append(
                MalformedFrame(f"header block longer than {self._max_header} bytes", block[:_RAW_KEEP])
            )
            return True
        frame_or_length = self._parse_block(block)
        if isinstance(frame_or_length, tuple) and frame_or_length[1] > self._max_body:
            # The body is on its way: count its bytes off instead of reading them as headers.
            self._skipping = frame_or_length[1]
            frame_or_length = MalformedFrame(
                f"Content-Length {frame_or_length[1]} exceeds {self._max_body}", block[:_RAW_KEEP]
            )
        if not isinstance(frame_or_length, tuple):
            frames.append(frame_or_length)
            return True
        fields, length = frame_or_length
        if length:
            self._pending = (block, fields, length)
        else:
            frames.append(_build_safely(block, fields, b""))
        return True

    def _parse_block(self, block: bytes) -> MalformedFrame | Reply | ChannelData | tuple[list[tuple[str, str]], int]:
        common = _EVENT_HEAD.fullmatch(block)
        if common is not None:  # how every event starts: no need for the general parser
            length, content_type = common.groups()
            return [("Content-Length", length.decode()), ("Content-Type", content_type.decode())], int(length)
        frame = _short_reply(block) or _connect_reply(block)
        if frame is not None:
            return frame
        try:
            fields = parse_header_lines(block, url_decoded=False)
        except HeaderError as exc:
            return MalformedFrame(str(exc), block[:_RAW_KEEP])
        length_text = _first(fields, "Content-Length")
        if length_text is None:
            return fields, 0
        length = parse_length(length_text)
        if length is None:
            return MalformedFrame(f"Content-Length is not a number of 1 to 10 ASCII digits: {length_text[:40]!r}", block[:_RAW_KEEP])
        return fields, length


_EVENT_HEAD = re.compile(rb"Content-Length: (\d{1,8})\nContent-Type: (text/event-plain)")


def parse_length(text: str) -> int | None:
    """A ``Content-Length`` value: ASCII digits only, at most ten of them; else None."""
    return int(text) if _LENGTH.fullmatch(text) else None


def _first(fields: list[tuple[str, str]], name: str) -> str | None:
    for key, value in fields:
        if key == name:
            return value
    return None


def _build_safely(block: bytes, fields: list[tuple[str, str]], body: bytes) -> Frame:
    # The reader's promise is never to raise on what the peer sends: anything
    # a decoder did not foresee is one more malformed frame.
    try:
        return _build(block, fields, body)
    except Exception as exc:  # noqa: BLE001
        return MalformedFrame(f"unreadable frame: {type(exc).__name__}", (block + b"\n\n" + body)[:_RAW_KEEP])


def _build(block: bytes, fields: list[tuple[str, str]], body: bytes) -> Frame:
    content_type = _first(fields, "Content-Type")
    if content_type is None:
        return MalformedFrame("frame without Content-Type", (block + b"\n\n" + body)[:_RAW_KEEP])
    if content_type == "text/event-plain":  # by far the most frequent: its outer headers serve no more
        return _plain_event(body)
    headers = dict(fields)
    if content_type == "command/reply":
        if "Event-Name" in headers:
            return _channel_data(block)
        return Reply(headers.pop("Reply-Text", ""), headers)
    if content_type == "api/response":
        return ApiResponse(decode_text(body))
    if content_type == "text/event-json":
        return _json_event(body)
    if content_type == "text/disconnect-notice":
        return _disconnect_notice(headers, body)
    return OtherFrame(content_type, headers, body)


_REPLY_HEAD = b"Content-Type: command/reply\nReply-Text:"


def _short_reply(block: bytes) -> Reply | None:
    """A reply of the two lines FreeSWITCH writes for most commands, as the general path reads it; else None."""
    if not block.startswith(_REPLY_HEAD) or block.find(b"\n", len(_REPLY_HEAD)) >= 0 or not block.isascii():
        return None
    return Reply(block[len(_REPLY_HEAD) :].decode("ascii").lstrip(" \t"), {"Content-Type": "command/reply"})


def _connect_reply(block: bytes) -> ChannelData | None:
    """The connect reply as FreeSWITCH writes it (the channel's event, then the reply's headers), else None.

    Its hundred lines are read once, lazily, not split by the general parser first.
    """
    if not block.startswith(b"Event-Name:") or not block.isascii():
        return None
    headers = EncodedHeaders(block.decode("ascii"))
    # A body (never sent) or another content type: the general path reads the frame.
    if headers.get("Content-Type") != "command/reply" or "Content-Length" in headers:
        return None
    return ChannelData(headers)


def _channel_data(block: bytes) -> Frame:
    # The connect reply is the one command/reply whose values are URL-encoded;
    # the block already parsed once, so reading it again cannot fail.
    return ChannelData(parse_encoded_headers(block))


def _plain_event(body: bytes) -> Frame:
    head, sep, rest = body.partition(b"\n\n")
    if not sep:
        head = head.rstrip(b"\n")
    try:
        headers = parse_encoded_headers(head)
    except HeaderError as exc:
        return MalformedFrame(f"event body: {exc}", body[:_RAW_KEEP])
    name = headers.get_leading("Event-Name") if isinstance(headers, EncodedHeaders) else headers.get("Event-Name")
    if name is None:
        return MalformedFrame("event without Event-Name", body[:_RAW_KEEP])
    return EslEvent(name, headers, _inner_body(headers, rest) if rest else None)


def _inner_body(headers: Mapping[str, str], rest: bytes) -> str | None:
    # Events such as BACKGROUND_JOB carry their own Content-Length and body
    # after the event's header block; the outer length already covered them.
    length_text = headers.get("Content-Length")
    length = None if length_text is None else parse_length(length_text)
    if length is None:
        return None
    return decode_text(rest[:length])


def _json_event(body: bytes) -> Frame:
    if _json_too_deep(body):
        return MalformedFrame(f"event-json body nested more than {MAX_JSON_DEPTH} levels", body[:_RAW_KEEP])
    try:
        data = json.loads(body)
    except ValueError as exc:
        return MalformedFrame(f"event-json body is not JSON: {exc}", body[:_RAW_KEEP])
    if not isinstance(data, dict) or not isinstance(data.get("Event-Name"), str):
        return MalformedFrame("event-json body is not an event object", body[:_RAW_KEEP])
    inner = data.pop("_body", None)
    headers = {str(key): _json_value(value) for key, value in data.items()}
    return EslEvent(headers["Event-Name"], headers, None if inner is None else str(inner))


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def _json_too_deep(body: bytes) -> bool:
    # Only a body with many brackets can be deep; then count them outside strings.
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(_DEPTH_STEP, _NOT_BRACKETS)
    depth = 0
    for step in brackets:
        depth += 1 if step == 1 else -1
        if depth > MAX_JSON_DEPTH:
            return True
    return False


def _json_value(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        # The plain format's spelling of an array, so both formats read alike.
        return "ARRAY::" + "|:".join(str(item) for item in value)
    return json.dumps(value)


def _disconnect_notice(headers: Mapping[str, str], body: bytes) -> Frame:
    linger_text = headers.get("Linger-Time")
    linger: int | None = None
    if linger_text is not None:
        # FreeSWITCH sends -1 for "until exit"; anything else is a count of seconds.
        linger = -1 if linger_text == "-1" else parse_length(linger_text)
    # The final notice of an inbound socket has no Content-Disposition.
    disposition = headers.get("Content-Disposition", "disconnect")
    return DisconnectNotice(disposition, linger, headers, decode_text(body))
