"""Serialisers for what FreeSWITCH writes, byte for byte (used by the emulator and tests)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..freeswitch.urlcode import fs_url_encode

__all__ = [
    "DISCONNECT_BODY",
    "api_response_frame",
    "channel_data_frame",
    "connect_reply_tail",
    "disconnect_notice_frame",
    "event_frame_head",
    "json_event_body",
    "plain_event_body",
    "reply_frame",
]

Fields = Iterable[tuple[str, str]]

DISCONNECT_BODY = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def _header_lines(fields: Fields) -> list[str]:
    # switch_event_serialize writes an empty value as "_undef_".
    return [f"{name}: {fs_url_encode(value) if value else '_undef_'}\n" for name, value in fields]


def plain_event_body(fields: Fields, body: str | None = None) -> bytes:
    """A serialised ``text/event-plain`` event: encoded headers, then its own body if any."""
    lines = _header_lines(fields)
    if body is None:
        lines.append("\n")
        return "".join(lines).encode("utf-8")
    raw_body = body.encode("utf-8")
    lines.append(f"Content-Length: {len(raw_body)}\n\n")
    return "".join(lines).encode("utf-8") + raw_body


def json_event_body(fields: Fields, body: str | None = None) -> bytes:
    """A ``text/event-json`` event; JSON values are not URL-encoded."""
    data: dict[str, str] = {}
    for name, value in fields:
        data.setdefault(name, value)
    if body is not None:
        data["Content-Length"] = str(len(body.encode("utf-8")))
        data["_body"] = body
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_frame_head(body: bytes, content_type: str = "text/event-plain") -> bytes:
    """The outer header of an event; FreeSWITCH puts Content-Length first and writes it apart from the body."""
    return f"Content-Length: {len(body)}\nContent-Type: {content_type}\n\n".encode("ascii")


def reply_frame(text: str, extra: Fields = ()) -> bytes:
    """A ``command/reply``; its Reply-Text is written raw, not URL-encoded."""
    lines = [f"Content-Type: command/reply\nReply-Text: {text}\n"]
    lines.extend(f"{name}: {value}\n" for name, value in extra)
    lines.append("\n")
    return "".join(lines).encode("utf-8")


def api_response_frame(body: str) -> bytes:
    raw = body.encode("utf-8")
    return b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(raw), raw)


def connect_reply_tail(*, socket_mode: str, control: str) -> bytes:
    """The headers that end the ``connect`` reply, after the channel data."""
    return (
        "Content-Type: command/reply\n"
        f"Reply-Text: {fs_url_encode('+OK' + chr(10))}\n"
        f"Socket-Mode: {socket_mode}\n"
        f"Control: {control}\n\n"
    ).encode("ascii")


def channel_data_frame(fields: Fields, *, socket_mode: str, control: str) -> bytes:
    """The ``connect`` reply: channel data then the reply headers, URL-encoded, no length."""
    return "".join(_header_lines(fields)).encode("utf-8") + connect_reply_tail(
        socket_mode=socket_mode, control=control
    )


def disconnect_notice_frame(
    session_uuid: str,
    *,
    linger_time: int | None = None,
    channel_name: str = "",
) -> bytes:
    """The linger notice when ``linger_time`` is given, else the final notice."""
    if linger_time is not None:
        return (
            "Content-Type: text/disconnect-notice\n"
            f"Controlled-Session-UUID: {session_uuid}\n"
            "Content-Disposition: linger\n"
            f"Channel-Name: {channel_name}\n"
            f"Linger-Time: {linger_time}\n"
            "Content-Length: 0\n\n"
        ).encode()
    return (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {session_uuid}\n"
        "Content-Disposition: disconnect\n"
        f"Content-Length: {len(DISCONNECT_BODY)}\n\n"
    ).encode() + DISCONNECT_BODY
