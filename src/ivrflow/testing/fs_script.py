"""What happens on an emulated call: the caller's side, the switch's setup and injected faults.

Times are seconds of *call time* since the emulator connected.  Every wait is
multiplied by ``time_scale`` to get wall time, so with ``time_scale=0.01`` a
5 s prompt takes 50 ms.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal
from collections.abc import Mapping, Sequence

from .fs_channel import HostIdentity

__all__ = ["BRIEF_CALL_AT_TARGET", "BridgeOutcome", "CallScript", "Faults", "Key"]

# A transfer target that answers, plays for a moment and hangs up: the call ends
# there on its own, as most real targets' calls do (a target that parks never ends).
BRIEF_CALL_AT_TARGET: tuple[tuple[str, str], ...] = (
    ("answer", ""),
    ("playback", "target.wav"),
    ("hangup", "NORMAL_CLEARING"),
)

BridgeResult = Literal["answer", "no_answer", "busy", "rejected", "unallocated"]


@dataclass(frozen=True, slots=True)
class Key:
    """Digits that arrive on the channel at call time ``t``; they are dequeued later by an app."""

    t: float
    digits: str
    source: str = "RTP"
    # In 8 kHz samples, like DTMF-Duration: 2000 is FreeSWITCH's 250 ms default.
    duration: int = 2000


@dataclass(frozen=True, slots=True)
class BridgeOutcome:
    """How one bridge destination behaves.

    ``answer`` rings for ``ring_seconds`` then talks for ``talk_seconds`` before
    the far end hangs up; the other results fail after ``ring_seconds``.
    """

    result: BridgeResult = "answer"
    ring_seconds: float = 1.0
    talk_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour to inject, for robustness tests of the runtime."""

    # First word of a command -> the Reply-Text to answer instead (e.g. "-ERR command not found").
    fail_commands: Mapping[str, str] = field(default_factory=dict)
    # After this many frames were written, write half of the next one and close.
    close_mid_frame_after: int | None = None
    # A channel variable (name, value) set before connect: it rides on every event
    # with variables, so a value with "%0A", ": " or non-ASCII reaches the runtime.
    hostile_variable: tuple[str, str] | None = None
    # (app, seconds): from the completion of an app of this name on, every event reaches
    # the socket this much later, replies do not (a late event batch, as in a release race).
    late_events_after: tuple[str, float] | None = None


def _new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class CallScript:
    """Everything the emulator needs to play one call."""

    unique_id: str = field(default_factory=_new_uuid)
    caller_id_number: str = "79991234567"
    caller_id_name: str = "Test Caller"
    destination_number: str = "ivr-8084"
    context: str = "default"
    channel_name: str = ""
    # Extra channel variables present at connect (after the built-in ones).
    variables: Mapping[str, str] = field(default_factory=dict)
    # Replaces the generated caller profile / variables entirely (transcript replays).
    profile_override: Sequence[tuple[str, str]] | None = None
    variables_override: Sequence[tuple[str, str]] | None = None
    host: HostIdentity = field(default_factory=HostIdentity)
    # The dialplan's socket app: "async" parks the channel, "static" runs apps inline.
    socket_mode: Literal["async", "static"] = "async"
    full: bool = True
    socket_app_data: str = ""
    # The dialplan answered before ``socket`` (a common ``answer`` first): the connect data says so.
    answered: bool = False
    # Sound files: duration in seconds by path; others last default_sound_seconds.
    sounds: Mapping[str, float] = field(default_factory=dict)
    default_sound_seconds: float = 1.0
    missing_sounds: frozenset[str] = frozenset()
    keys: Sequence[Key | tuple[float, str]] = ()
    # (call time, words) the caller says; a running detect_speech recognises them exactly.
    speech: Sequence[tuple[float, str]] = ()
    # (call time, cause) of the caller hanging up, or None.
    caller_hangup: tuple[float, str] | None = None
    bridge_outcomes: Mapping[str, BridgeOutcome] = field(default_factory=dict)
    # Call seconds the caller speaks into a ``record``, silent after; None: speaks until it ends.
    message_seconds: float | None = None
    default_bridge_outcome: BridgeOutcome = field(default_factory=BridgeOutcome)
    # What the dialplan runs after a transfer, by destination: (app, arg) pairs;
    # "{destination}" in an argument is replaced.  Missing: the channel parks.
    transfer_extensions: Mapping[str, Sequence[tuple[str, str]]] = field(default_factory=dict)
    # What any other destination runs; None: the channel parks there.
    default_transfer_extension: Sequence[tuple[str, str]] | None = None
    # Destinations the dialplan has no extension for: a transfer there hangs up NO_ROUTE_DESTINATION.
    unrouted: frozenset[str] = frozenset()
    # CHANNEL_PARK fires once this many commands were handled; with 1 it fires
    # before ``myevents`` is processed and so is never seen, as happens on a fast switch.
    park_after_commands: int = 3
    # ...or this long after connect, whichever comes first (a sendmsg parks at once).
    park_after_seconds: float = 0.04
    # FreeSWITCH sometimes writes the linger notice right after CHANNEL_HANGUP
    # instead of after CHANNEL_HANGUP_COMPLETE (a race, seen in transcript 17).
    linger_notice_early: bool = False
    first_command_timeout: float = 25.0
    # Call seconds the channel runs on after its socket closed (at least a moment), so a
    # test sees what became of a released call; the history is returned after that.
    keep_after_close: float = 0.0
    # The media frame: the park loop only looks at commands and digits once per frame.
    frame_seconds: float = 0.02
    time_scale: float = 1.0
    faults: Faults = field(default_factory=Faults)

    def resolved_channel_name(self) -> str:
        return self.channel_name or f"loopback/{self.destination_number}-b"

    def resolved_socket_app_data(self) -> str:
        if self.socket_app_data:
            return self.socket_app_data
        flags = (["async"] if self.socket_mode == "async" else []) + (["full"] if self.full else [])
        return " ".join(["127.0.0.1:8084", *flags])

    def sound_seconds(self, path: str) -> float | None:
        """Duration of ``path``, or None if the file is missing."""
        if path in self.missing_sounds:
            return None
        return self.sounds.get(path, self.default_sound_seconds)

    def key_events(self) -> list[Key]:
        return [k if isinstance(k, Key) else Key(k[0], k[1]) for k in self.keys]

    def bridge_outcome(self, destination: str) -> BridgeOutcome:
        return self.bridge_outcomes.get(destination, self.default_bridge_outcome)
