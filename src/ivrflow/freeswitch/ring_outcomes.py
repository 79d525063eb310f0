"""How each leg of a `bridge` ended, from the `originate_causes` its completion carries.

switch_ivr_originate pushes `<leg uuid>;<CAUSE>` for every leg it made a channel for,
once it is over: the cause the leg had then (NONE for the one that answered and is
still up; LOSE_RACE for those it hung up when another answered; NO_ANSWER for those
still ringing at `originate_timeout`; the far end's own cause, e.g. USER_BUSY, for a
leg that failed by itself). One entry is a plain value, several an `ARRAY::a|:b`
array. Entries pile up over a call's bridges (they are cleared only with
`preserve_originated_vars=false`) and a `user/` leg runs an originate of its own
that pushes one more: each leg's uuid, chosen by ivrflow, picks its last entry.
"""

from __future__ import annotations

from ..engine import DestinationOutcome, RingOutcome, clip_text

# Causes of a leg that rang without being answered (the originate or the caller ended it).
NOT_ANSWERED = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "LOSE_RACE", "ORIGINATOR_CANCEL", "ALLOTTED_TIMEOUT", "PICKED_OFF"})
STILL_UP = frozenset({"NONE", "SUCCESS", ""})


def parse_causes(value: str) -> dict[str, str]:
    """`originate_causes` as leg uuid -> cause, the last entry of each uuid winning."""
    entries = value[7:].split("|:") if value.startswith("ARRAY::") else [value] if value else []
    causes: dict[str, str] = {}
    for entry in entries:
        uuid, sep, cause = entry.partition(";")
        if sep:
            causes[uuid] = cause
    return causes


def leg_outcomes(
    legs: tuple[tuple[str, str], ...], causes_value: str, answered: bool, disposition: str
) -> tuple[DestinationOutcome, ...]:
    """Each (leg uuid, destination)'s outcome; `answered` and `disposition` are the whole bridge's."""
    causes = parse_causes(causes_value)
    outcomes = []
    for uuid, destination in legs:
        cause = causes.get(uuid)
        if cause is None:  # no channel was made for it (an unregistered user, a bad gateway)
            kind: RingOutcome = "failed"
            cause = disposition if len(legs) == 1 else ""
        elif cause in STILL_UP:
            kind, cause = ("answered", "") if answered else ("no_answer", disposition)
        elif cause in NOT_ANSWERED:
            kind = "no_answer"
        elif cause == "USER_BUSY":
            kind = "busy"
        else:
            kind = "failed"
        outcomes.append(DestinationOutcome(clip_text(destination), kind, clip_text(cause)))
    return tuple(outcomes)
