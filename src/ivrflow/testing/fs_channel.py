"""The emulated channel: its state, variables and caller profile, and how its events look.

Event headers are laid out the way FreeSWITCH 1.10.12 serialises them
(captured in the transcripts): the core headers, the channel's basic data,
the caller profile (``Caller-*``), the channel variables (``variable_*``, only
on the event types that carry them) and last the event's own headers.  Header
lines are encoded once when a value changes and reused for every event, which
keeps hundreds of concurrent calls cheap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from collections.abc import Iterable, Mapping, Sequence

from ..freeswitch.urlcode import fs_url_decode, fs_url_encode

__all__ = ["Channel", "HostIdentity", "default_profile", "CALL_SITES"]

STATE_NUMBERS = {
    "CS_NEW": 0,
    "CS_INIT": 1,
    "CS_ROUTING": 2,
    "CS_SOFT_EXECUTE": 3,
    "CS_EXECUTE": 4,
    "CS_EXCHANGE_MEDIA": 5,
    "CS_PARK": 6,
    "CS_CONSUME_MEDIA": 7,
    "CS_HIBERNATE": 8,
    "CS_RESET": 9,
    "CS_HANGUP": 10,
    "CS_REPORTING": 11,
    "CS_DESTROY": 12,
}

# Where FreeSWITCH 1.10.12 fires each event (Event-Calling-File/-Function/-Line-Number).
# BRIDGE/UNBRIDGE were not captured; their call sites are named from the source.
CALL_SITES: Mapping[str, tuple[str, str, str]] = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2021"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2944"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2967"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3846"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3445"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2408"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "677"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "0"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "0"),
}

# Events that carry the channel variables (DTMF and CHANNEL_STATE do not).
_WITH_VARIABLES = frozenset(
    {
        "CHANNEL_CREATE",
        "CHANNEL_DESTROY",
        "CHANNEL_DATA",
        "CHANNEL_PARK",
        "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_ANSWER",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
    }
)

_CODEC = (
    ("Channel-Read-Codec-Name", "L16"),
    ("Channel-Read-Codec-Rate", "8000"),
    ("Channel-Read-Codec-Bit-Rate", "128000"),
    ("Channel-Write-Codec-Name", "L16"),
    ("Channel-Write-Codec-Rate", "8000"),
    ("Channel-Write-Codec-Bit-Rate", "128000"),
)


@dataclass(frozen=True, slots=True)
class HostIdentity:
    """The headers that name the switch; fixed per emulator instance."""

    core_uuid: str = "d75a2558-698c-4ac4-889c-c225aba7ba4d"
    hostname: str = "vm"
    switchname: str = "vm"
    ipv4: str = "192.0.2.2"
    ipv6: str = "fd00::2"


def default_profile(
    *,
    unique_id: str,
    caller_id_name: str,
    caller_id_number: str,
    destination_number: str,
    context: str,
    channel_name: str,
    created_us: int,
) -> list[tuple[str, str]]:
    """A caller profile shaped like mod_loopback's B leg (without the ``Caller-`` prefix)."""
    return [
        ("Direction", "inbound"),
        ("Logical-Direction", "inbound"),
        ("Dialplan", "xml"),
        ("Caller-ID-Name", caller_id_name),
        ("Caller-ID-Number", caller_id_number),
        ("Orig-Caller-ID-Name", caller_id_name),
        ("Orig-Caller-ID-Number", caller_id_number),
        ("Callee-ID-Name", "Outbound Call"),
        ("Callee-ID-Number", destination_number),
        ("ANI", caller_id_number),
        ("Destination-Number", destination_number),
        ("Unique-ID", unique_id),
        ("Source", "mod_loopback"),
        ("Context", context),
        ("Channel-Name", channel_name),
        ("Profile-Index", "1"),
        ("Profile-Created-Time", str(created_us)),
        ("Channel-Created-Time", str(created_us)),
        ("Channel-Answered-Time", "0"),
        ("Channel-Progress-Time", "0"),
        ("Channel-Progress-Media-Time", "0"),
        ("Channel-Hangup-Time", "0"),
        ("Channel-Transfer-Time", "0"),
        ("Channel-Resurrect-Time", "0"),
        ("Channel-Bridged-Time", "0"),
        ("Channel-Last-Hold", "0"),
        ("Channel-Hold-Accum", "0"),
        ("Screen-Bit", "true"),
        ("Privacy-Hide-Name", "false"),
        ("Privacy-Hide-Number", "false"),
    ]


def _line(name: str, value: str) -> str:
    return f"{name}: {fs_url_encode(value) if value else '_undef_'}\n"


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class _OrderedLines:
    """An ordered name -> value map that keeps each entry's encoded header line."""

    prefix: str
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, str] = field(default_factory=dict)

    def set(self, name: str, value: str | None) -> None:
        # FreeSWITCH deletes then appends, so an updated variable moves to the end.
        self.values.pop(name, None)
        self.lines.pop(name, None)
        if value:
            self.values[name] = value
            self.lines[name] = _line(self.prefix + name, value)

    def replace_in_place(self, name: str, value: str) -> None:
        self.values[name] = value
        self.lines[name] = _line(self.prefix + name, value)

    def insert_after(self, anchor: str, name: str, value: str) -> None:
        items = [(k, v) for k, v in self.values.items() if k != name]
        at = next((i + 1 for i, (k, _) in enumerate(items) if k == anchor), len(items))
        items.insert(at, (name, value))
        self.values = dict(items)
        self.lines = {k: _line(self.prefix + k, v) for k, v in items}

    def text(self) -> str:
        return "".join(self.lines.values())


class Channel:
    """One call leg as FreeSWITCH sees it: states, variables and profile."""

    def __init__(
        self,
        *,
        unique_id: str,
        channel_name: str,
        profile: Sequence[tuple[str, str]],
        variables: Iterable[tuple[str, str]],
        host: HostIdentity,
        sequence_start: int = 1,
    ) -> None:
        self.unique_id = unique_id
        self.channel_name = channel_name
        self.host = host
        self.running_state = "CS_EXECUTE"
        self.state_number = STATE_NUMBERS["CS_EXECUTE"]
        self.call_state = "RINGING"
        self.answer_state = "ringing"
        self.hangup_cause: str | None = None
        # "outbound" on a leg the switch originated (a loopback A leg).
        self.direction = "inbound"
        self._profile = _OrderedLines("Caller-")
        for name, value in profile:
            self._profile.replace_in_place(name, value)
        self._vars = _OrderedLines("variable_")
        for name, value in variables:
            self._vars.set(name, value)
        # Scope variables of running applications (the %[...] prefix), innermost last.
        self.scopes: list[dict[str, str]] = []
        self._sequence = sequence_start
        self._core_static = (
            _line("Core-UUID", host.core_uuid)
            + _line("FreeSWITCH-Hostname", host.hostname)
            + _line("FreeSWITCH-Switchname", host.switchname)
            + _line("FreeSWITCH-IPv4", host.ipv4)
            + _line("FreeSWITCH-IPv6", host.ipv6)
        )

    # Variables -------------------------------------------------------------------

    def get_var(self, name: str) -> str | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self._vars.values.get(name)

    def set_var(self, name: str, value: str | None) -> None:
        self._vars.set(name, value)

    @property
    def variables(self) -> Mapping[str, str]:
        return self._vars.values

    # Profile ---------------------------------------------------------------------

    @property
    def profile(self) -> Mapping[str, str]:
        return self._profile.values

    def set_profile(self, name: str, value: str) -> None:
        self._profile.replace_in_place(name, value)

    def insert_profile_after(self, anchor: str, name: str, value: str) -> None:
        self._profile.insert_after(anchor, name, value)

    # States ----------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.hangup_cause is None

    def set_state_number(self, state: str) -> None:
        self.state_number = STATE_NUMBERS[state]

    # Rendering -------------------------------------------------------------------

    def _core(self, name: str) -> str:
        now = time.time()
        local = time.localtime(now)
        gmt = time.gmtime(now)
        site = CALL_SITES.get(name, ("switch_event.c", "switch_event_fire_detailed", "0"))
        self._sequence += 1
        return (
            _line("Event-Name", name)
            + self._core_static
            + _line("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", local))
            + _line("Event-Date-GMT", time.strftime("%a, %d %b %Y %H:%M:%S GMT", gmt))
            + _line("Event-Date-Timestamp", str(int(now * 1_000_000)))
            + _line("Event-Calling-File", site[0])
            + _line("Event-Calling-Function", site[1])
            + _line("Event-Calling-Line-Number", site[2])
            + _line("Event-Sequence", str(self._sequence))
        )

    def _basic(self) -> str:
        fields = [
            ("Channel-State", self.running_state),
            ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", str(self.state_number)),
            ("Channel-Name", self.channel_name),
            ("Unique-ID", self.unique_id),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true"),
            ("Channel-Call-UUID", self.unique_id),
            ("Answer-State", self.answer_state),
        ]
        if self.hangup_cause is not None:
            fields.append(("Hangup-Cause", self.hangup_cause))
        fields.extend(_CODEC)
        return "".join(_line(n, v) for n, v in fields)

    def event_text(self, name: str, extra: Sequence[tuple[str, str]] = ()) -> str:
        """The serialised header block of event ``name`` (without the final blank line)."""
        parts = [self._core(name)]
        if name == "CHANNEL_HANGUP_COMPLETE" and self.hangup_cause is not None:
            parts.append(_line("Hangup-Cause", self.hangup_cause))
        parts.append(self._basic())
        parts.append(self._profile.text())
        if name in _WITH_VARIABLES:
            parts.append(self._vars.text())
        parts.extend(_line(n, v) for n, v in extra)
        return "".join(parts)

    def event_fields(self, name: str, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
        """The event as decoded ``(name, value)`` pairs for ``myevents json``: the plain event's headers, in order (16)."""
        fields = []
        for line in self.event_text(name, extra).splitlines():
            header, _, value = line.partition(": ")
            fields.append((header, fs_url_decode(value.encode("latin-1"))))
        return fields

    def channel_data_text(self) -> str:
        """The connect reply's channel part: profile as ``Channel-*``, basic data, ``Caller-*``, variables."""
        channel_profile = "".join(_line("Channel-" + k, v) for k, v in self._profile.values.items())
        return (
            self._core("CHANNEL_DATA")
            + channel_profile
            + self._basic()
            + self._profile.text()
            + self._vars.text()
        )
