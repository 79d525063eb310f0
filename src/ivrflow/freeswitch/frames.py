"""The vocabulary of the ESL reader: one immutable frame per message FreeSWITCH sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias
from collections.abc import Mapping


@dataclass(frozen=True, slots=True)
class Reply:
    """A ``command/reply``; ``text`` is the Reply-Text (``+OK ...`` / ``-ERR ...``)."""

    text: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.text.startswith("+OK")


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """An ``api/response``; the body is the command's raw output."""

    body: str

    @property
    def ok(self) -> bool:
        return self.body.startswith("+OK")


@dataclass(frozen=True, slots=True)
class ChannelData:
    """The reply to ``connect``: the whole channel, values already URL-decoded."""

    headers: Mapping[str, str]

    @property
    def unique_id(self) -> str:
        return self.headers.get("Unique-ID", "")


@dataclass(frozen=True, slots=True)
class EslEvent:
    """An event (plain or JSON).  ``body`` is the event's own body, if it has one."""

    name: str
    headers: Mapping[str, str]
    body: str | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


@dataclass(frozen=True, slots=True)
class DisconnectNotice:
    """``text/disconnect-notice``: ``linger`` when the channel went down, else final."""

    disposition: str
    linger_time: int | None
    headers: Mapping[str, str]
    body: str = ""

    @property
    def is_linger(self) -> bool:
        return self.disposition == "linger"


@dataclass(frozen=True, slots=True)
class OtherFrame:
    """A well-formed frame of a content type the runtime has no use for (``log/data``...)."""

    content_type: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class MalformedFrame:
    """Bytes that could not be parsed; the reader skipped them and carried on."""

    reason: str
    raw: bytes


Frame: TypeAlias = (
    Reply | ApiResponse | ChannelData | EslEvent | DisconnectNotice | OtherFrame | MalformedFrame
)


# switch_event_serialize writes an empty header value as this word (switch_event.c).
UNDEFINED = "_undef_"


def caller_value(raw: str) -> str:
    """A caller-profile value of the connect reply as it was set: ``_undef_`` is FreeSWITCH's empty."""
    return "" if raw == UNDEFINED else raw
