"""Test doubles for ivrflow: an emulated FreeSWITCH that speaks the outbound Event Socket, and the inbound one."""

from .fs_channel import HostIdentity
from .fs_emulator import EmulatedCall, run_call, start_call
from .fs_history import AppRun, ChannelHistory
from .fs_inbound import InboundSwitch
from .fs_script import BRIEF_CALL_AT_TARGET, BridgeOutcome, CallScript, Faults, Key

__all__ = [
    "BRIEF_CALL_AT_TARGET",
    "AppRun",
    "BridgeOutcome",
    "ChannelHistory",
    "CallScript",
    "EmulatedCall",
    "Faults",
    "HostIdentity",
    "InboundSwitch",
    "Key",
    "run_call",
    "start_call",
]
