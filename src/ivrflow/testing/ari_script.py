"""What happens on an emulated Asterisk call: the caller's side and the dialplan's setup.

Times are seconds of *call time* since the call reached ``Stasis()``; every wait
is multiplied by ``time_scale``, as in the FreeSWITCH emulator's CallScript, so
one scenario table can drive both switches.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from .fs_script import BridgeOutcome, CallScript

__all__ = ["AriCallScript", "AriKey", "DialOutcome", "from_call_script", "new_channel_id"]

_ids = itertools.count(1)


def new_channel_id() -> str:
    """An id as Asterisk makes one (`<epoch>.<sequence>`), for a channel nobody named."""
    return f"1795748397.{next(_ids)}"


@dataclass(frozen=True, slots=True)
class AriKey:
    """A digit string the caller sends at call time ``t`` (one ChannelDtmfReceived per digit)."""

    t: float
    digits: str
    duration_ms: int = 100  # Asterisk's default
    between_ms: int = 100


@dataclass(frozen=True, slots=True)
class DialOutcome:
    """How a dialed endpoint behaves: answers after ``ring_seconds``, or ends with ``result``."""

    result: Literal["answer", "no_answer", "busy"] = "answer"
    ring_seconds: float = 1.0
    talk_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class AriCallScript:
    channel_id: str = field(default_factory=new_channel_id)
    channel_name: str = ""
    caller_number: str = "+4930111222"
    caller_name: str = "Alice Example"
    context: str = "ivr-in"
    exten: str = "071"
    # The dialplan's Stasis(app,args...); None: the app name alone with the extension as argument.
    stasis_args: Sequence[str] | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    # Sound durations in seconds by what follows "sound:" (a name or an absolute path).
    sounds: Mapping[str, float] = field(default_factory=dict)
    default_sound_seconds: float = 1.0
    missing_sounds: frozenset[str] = frozenset()
    keys: Sequence[AriKey | tuple[float, str]] = ()
    caller_hangup_at: float | None = None
    # Dial outcomes by endpoint (the technology/resource string given to /channels/create).
    dial_outcomes: Mapping[str, DialOutcome] = field(default_factory=dict)
    default_dial_outcome: DialOutcome = field(default_factory=DialOutcome)
    # After `continue` into a context the call talks there this long, then ends (None: it stays).
    after_continue_seconds: float | None = None
    # (context, extension) pairs the dialplan has; `continue` elsewhere hangs the channel up. None: all exist.
    extensions: frozenset[tuple[str, str]] | None = None
    # What some extensions run, priority 1 on: (application, data) with ${VAR} expanded (ari_dialplan.py).
    dialplan: Mapping[tuple[str, str], Sequence[tuple[str, str]]] = field(default_factory=dict)
    # The caller's own leg (the ";1" half of a Local pair): its id, and the Stasis app it is in (None: dialplan).
    caller_leg_id: str | None = None
    caller_leg_app: str | None = None
    # Where the caller's leg runs the dialplan (context, extension) once the IVR answers, when it is in no app (02b).
    caller_leg_dialplan: tuple[str, str] | None = None
    time_scale: float = 1.0

    def resolved_channel_name(self) -> str:
        return self.channel_name or f"Local/{self.exten}@{self.context}-00000022;2"

    def resolved_args(self) -> list[str]:
        return list(self.stasis_args) if self.stasis_args is not None else [self.exten]

    def sound_seconds(self, name: str) -> float | None:
        if name in self.missing_sounds:
            return None
        return self.sounds.get(name, self.default_sound_seconds)

    def key_events(self) -> list[AriKey]:
        return [k if isinstance(k, AriKey) else AriKey(k[0], k[1]) for k in self.keys]

    def has_extension(self, context: str, exten: str) -> bool:
        return self.extensions is None or (context, exten) in self.extensions or (context, exten) in self.dialplan

    def dial_outcome(self, endpoint: str) -> DialOutcome:
        return self.dial_outcomes.get(endpoint, self.default_dial_outcome)


def _media_name(path: str) -> str:
    # Asterisk is given `sound:/abs/path` without the extension; the scripts key sounds by that.
    return str(PurePosixPath(path).with_suffix(""))


def _dial(o: BridgeOutcome) -> DialOutcome:
    # Rejected and unallocated destinations fail like an unanswered one: the dial ends without ANSWER.
    result: Literal["answer", "no_answer", "busy"] = "answer" if o.result == "answer" else "busy" if o.result == "busy" else "no_answer"
    return DialOutcome(result, o.ring_seconds, o.talk_seconds)


def _number(leg: str, bridge_template: str) -> str:
    """The destination number in a FreeSWITCH bridge leg made by `bridge_template` (`user/101` -> `101`)."""
    prefix, _, suffix = bridge_template.partition("{number}")
    if leg.startswith(prefix) and leg.endswith(suffix) and len(leg) > len(prefix) + len(suffix):
        return leg[len(prefix) : len(leg) - len(suffix)]
    return leg


def from_call_script(
    fs: CallScript, dial_template: str = "PJSIP/{number}", bridge_template: str = "{number}"
) -> AriCallScript:
    """The same caller on Asterisk: one scenario table drives both emulators.

    Keys keep their call times (FreeSWITCH durations are 8 kHz samples), the
    caller's hangup its time, sounds their lengths; bridge outcomes, keyed by
    the FreeSWITCH leg `bridge_template` made, become dial outcomes of the
    endpoints `dial_template` makes for the same number.
    """
    outcomes = {
        dial_template.replace("{number}", _number(leg, bridge_template)): _dial(o) for leg, o in fs.bridge_outcomes.items()
    }
    return AriCallScript(
        caller_number=fs.caller_id_number,
        caller_name=fs.caller_id_name,
        exten=fs.destination_number,
        variables=dict(fs.variables),
        sounds={_media_name(path): seconds for path, seconds in fs.sounds.items()},
        default_sound_seconds=fs.default_sound_seconds,
        missing_sounds=frozenset(_media_name(path) for path in fs.missing_sounds),
        keys=[AriKey(k.t, k.digits, duration_ms=k.duration // 8) for k in fs.key_events()],
        caller_hangup_at=None if fs.caller_hangup is None else fs.caller_hangup[0],
        dial_outcomes=outcomes,
        default_dial_outcome=_dial(fs.default_bridge_outcome),
        time_scale=fs.time_scale,
    )
