"""FreeSWITCH outbound Event Socket: sans-I/O framing and pure command builders."""

from .frames import (
    ApiResponse,
    ChannelData,
    DisconnectNotice,
    Event,
    Frame,
    MalformedFrame,
    OtherFrame,
    Reply,
)
from .commands import UnsafeArgument
from .framing import FrameReader
from .urlcode import fs_url_decode, fs_url_encode

__all__ = [
    "ApiResponse",
    "ChannelData",
    "DisconnectNotice",
    "Event",
    "Frame",
    "FrameReader",
    "MalformedFrame",
    "OtherFrame",
    "Reply",
    "UnsafeArgument",
    "fs_url_decode",
    "fs_url_encode",
]
