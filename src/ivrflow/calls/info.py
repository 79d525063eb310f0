"""What the switch told us about a call, for routing, records and logs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class CallInfo:
    call_id: str  # the switch's id for the call (FreeSWITCH's channel UUID, Asterisk's channel id)
    ivr: str
    caller_number: str
    caller_name: str
    destination: str
    started_wall: float = field(default_factory=time.time)
