"""The scripted far ends of emulated calls: the caller reaching Stasis() and the legs the app dials."""

from __future__ import annotations

import functools
import itertools

from .ari_model import Asterisk, Channel
from .ari_script import AriCallScript

_local_seq = itertools.count(0x22)


def place_call(ast: Asterisk, app: str, script: AriCallScript) -> Channel:
    """The caller's call runs the dialplan into Stasis(app, args); keys and hangup follow the script."""
    args = script.resolved_args()
    ch = Channel(
        id=script.channel_id,
        name=script.resolved_channel_name(),
        script=script,
        context=script.context,
        exten=script.exten,
        priority=3,
        app_data=",".join([app, *args]),
        caller_name=script.caller_name,
        caller_number=script.caller_number,
        connected_name=script.caller_name,
        connected_number=script.caller_number,
        variables=dict(script.variables),
    )
    if script.caller_leg_id is not None:
        leg = Channel(
            id=script.caller_leg_id, name=ch.name[:-1] + "1", script=script, context=script.context,
            exten=script.exten, priority=1, app_data="", state="Up",
            caller_name=script.caller_name, caller_number=script.caller_number, app=script.caller_leg_app,
            connected_name=script.caller_name, connected_number=script.caller_number,
        )
        leg.peer, ch.peer = ch, leg
        ast.channels[leg.id] = leg
    if not ast.enter_stasis(ch, app, args):
        return ch
    for key in script.key_events():
        send_dtmf(ast, ch, key.digits, key.duration_ms, key.between_ms, after=key.t)
    if script.caller_hangup_at is not None:
        ch.later(script.caller_hangup_at, lambda: ast.hang_up(ch, 16, by_ari=False))
    return ch


def send_dtmf(ast: Asterisk, to: Channel, digits: str, duration_ms: int, between_ms: int, after: float = 0.0) -> None:
    """Digits arriving on `to`: one ChannelDtmfReceived per valid digit, at each digit's end (02a)."""
    step = (duration_ms + between_ms) / 1000.0
    for i, digit in enumerate(digits):
        if digit in "0123456789*#ABCD":  # others only log "Illegal DTMF character"
            ast.digits.append(to.later(after + i * step + duration_ms / 1000.0, functools.partial(_dtmf, ast, to, digit, duration_ms)))


def _dtmf(ast: Asterisk, ch: Channel, digit: str, duration_ms: int) -> None:
    if ch.alive and ch.app is not None:
        ast.chan_event(ch, "ChannelDtmfReceived", digit=digit, duration_ms=duration_ms)


def create_leg(ast: Asterisk, app: str, endpoint: str, channel_id: str, args: list[str], script: AriCallScript) -> Channel:
    """`POST /channels/create`: the leg is in Stasis at once, state Down, not yet dialed."""
    tech, _, resource = endpoint.partition("/")
    exten, _, context = resource.partition("@")
    ch = Channel(
        id=channel_id,
        name=f"{endpoint}-{next(_local_seq):08x};1",
        script=script,
        context=context or "default",
        exten=exten or resource,
        priority=1,
        app_data=",".join([app, *args]),
        state="Down",
    )
    ch.dial = {"endpoint": endpoint, "dialstring": resource}
    ast.enter_stasis(ch, app, args)
    return ch


def dial(ast: Asterisk, leg: Channel, caller: Channel | None, timeout: float) -> None:
    """`POST /channels/{id}/dial`: ring, then answer or fail as the script says for the endpoint."""
    assert leg.dial is not None
    if caller is not None:
        leg.connected_name, leg.connected_number = caller.caller_name, caller.caller_number
    outcome = leg.script.dial_outcome(leg.dial["endpoint"])
    ast.emit(leg.app, "Dial", dialstatus="", forward="", dialstring=leg.dial["dialstring"], peer=leg.json())
    leg.state = "Ringing"
    ast.chan_event(leg, "ChannelStateChange")
    ast.emit(leg.app, "Dial", dialstatus="RINGING", forward="", dialstring="", peer=leg.json())

    def ends() -> None:
        if not leg.alive:
            return
        if outcome.result == "answer" and outcome.ring_seconds < timeout:
            leg.state = "Up"
            ast.chan_event(leg, "ChannelStateChange")
            ast.emit(leg.app, "Dial", dialstatus="ANSWER", forward="", dialstring="", peer=leg.json())
            leg.later(outcome.talk_seconds, lambda: ast.hang_up(leg, 16, by_ari=False))
            return
        status = "BUSY" if outcome.result == "busy" else "NOANSWER"
        ast.emit(leg.app, "Dial", dialstatus=status, forward="", dialstring="", peer=leg.json())
        ast.hang_up(leg, 17 if status == "BUSY" else 19, by_ari=False)

    leg.later(min(outcome.ring_seconds, timeout), ends)
