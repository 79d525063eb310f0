"""The scripted far ends of emulated calls: the caller reaching Stasis() and the legs the app dials."""

from __future__ import annotations

import functools
import itertools

from .ari_dialplan import run_dialplan
from .ari_dtmf import send_dtmf
from .ari_model import Asterisk, Channel, Json
from .ari_script import AriCallScript

_local_seq = itertools.count(0x22)


def local_name(endpoint: str) -> str:
    """A new Local channel's name without its half: `Local/002@targets-0000002e;`."""
    return f"{endpoint}-{next(_local_seq):08x};"


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
        if script.caller_leg_dialplan is not None:
            leg.when_peer_answers = functools.partial(run_dialplan, ast, leg, (*script.caller_leg_dialplan, 1))
        ast.channels[leg.id] = leg
    if not ast.enter_stasis(ch, app, args):
        return ch
    for key in script.key_events():
        send_dtmf(ast, ch, key.digits, key.duration_ms, key.between_ms, after=key.t)
    if script.caller_hangup_at is not None:
        ch.later(script.caller_hangup_at, lambda: ast.hang_up(ch, 16, by_ari=False))
    return ch


def create_leg(ast: Asterisk, app: str, endpoint: str, channel_id: str, args: list[str], script: AriCallScript) -> Json:
    """`POST /channels/create`: the leg, not yet dialed, is in Stasis at once, state Down (04f).

    The creating app is subscribed to it, so it sees the leg's Stasis() step
    and STASISSTATUS; the reply describes the leg as it was just before.
    """
    tech, _, resource = endpoint.partition("/")
    exten, _, context = resource.partition("@")
    ch = Channel(
        id=channel_id,
        name=local_name(endpoint) + "1",
        script=script,
        context=context or "default",
        exten=exten or resource,
        priority=1,
        app_data="",
        state="Down",
        subscribers={app},
        app_after_stasis=("", ""),
    )
    ch.dial = {"endpoint": endpoint, "dialstring": resource}
    reply = ch.json()
    ast.channels[ch.id] = ch
    ch.app_name, ch.app_data = "Stasis", ",".join([app, *args])
    ast.chan_event(ch, "ChannelDialplan", dialplan_app=ch.app_name, dialplan_app_data=ch.app_data)
    ast.enter_stasis(ch, app, args)
    return reply


def dial(ast: Asterisk, leg: Channel, caller: Channel | None, timeout: float) -> None:
    """`POST /channels/{id}/dial`: ring, then answer or fail as the script says for the endpoint."""
    assert leg.dial is not None
    if caller is not None and (leg.connected_name, leg.connected_number) != (caller.caller_name, caller.caller_number):
        leg.connected_name, leg.connected_number = caller.caller_name, caller.caller_number
        ast.chan_event(leg, "ChannelConnectedLine")
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
