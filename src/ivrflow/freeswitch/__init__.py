"""FreeSWITCH outbound Event Socket: sans-I/O framing and pure command builders."""

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
from .builders import UnsafeArgument
from .framing import FrameReader
from .urlcode import fs_url_decode, fs_url_encode

__all__ = [
    "ApiResponse",
    "ChannelData",
    "DisconnectNotice",
    "EslEvent",
    "Frame",
    "FrameReader",
    "MalformedFrame",
    "OtherFrame",
    "Reply",
    "UnsafeArgument",
    "fs_url_decode",
    "fs_url_encode",
]
