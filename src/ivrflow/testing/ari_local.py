"""A plain originate on an emulated Local channel: the `;1`/`;2` pair, its Dial progress and its Stasis (06b, 04g, 08h).

`POST /channels endpoint=Local/exten@context` makes two halves. `;1` is what
the reply describes (dialplan app AppDial2, "(Outgoing Line)"); `;2` runs the
dialplan at exten@context. The originating app is subscribed to both, so it
sees `;2`'s dialplan step by step and `;1`'s Dial events. When `;2` answers,
`;1` is answered and, with `app=`, only then enters Stasis.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from .ari_calls import local_name
from .ari_dialplan import run_dialplan
from .ari_model import CALLER_ALLOWED, Asterisk, Channel
from .ari_script import AriCallScript, new_channel_id

__all__ = ["caller_id", "originate_local"]

# What `;1` runs while it is no Stasis app's: the originate's own dialing.
_DIALING = ("AppDial2", "(Outgoing Line)")


def caller_id(value: str) -> tuple[str, str]:
    """`Name <number>` (or a bare number) as ARI's callerId parameter spells it."""
    if "<" not in value:
        return "", value
    name, _, rest = value.partition("<")
    return name.strip(), rest.rstrip(">")


def originate_local(ast: Asterisk, app: str, endpoint: str, params: Mapping[str, str], script: AriCallScript) -> Channel:
    """The pair, about to dial: the reply describes `;1` before any of it happens, as Asterisk's does."""
    resource = endpoint.partition("/")[2]
    exten, _, context = resource.partition("@")
    one, two = _pair(app, endpoint, params, script, context or "default", exten)
    for ch in (one, two):
        ast.channels[ch.id] = ch
    one.dial = {"endpoint": endpoint, "dialstring": resource}
    two.later(0.0, functools.partial(_dial, ast, one, two, app, params))
    return one


def _dial(ast: Asterisk, one: Channel, two: Channel, app: str, params: Mapping[str, str]) -> None:
    """`;2` runs its dialplan; an extension the dialplan lacks destroys both halves at once, cause 0 (08h)."""
    if not two.script.has_extension(two.context, two.exten):
        ast.hang_up(two, 0, by_ari=False)
        ast.hang_up(one, 0, by_ari=False)
        return
    one.peer, two.peer = two, one
    one.originator = app or None
    if params.get("callerId"):
        # The caller id given reaches `;2` as its caller and connected line.
        ast.chan_event(two, "ChannelCallerId", caller_presentation=0, caller_presentation_txt=CALLER_ALLOWED)
        ast.chan_event(two, "ChannelConnectedLine")
    ast.dial_progress(one, "")
    args = params["appArgs"].split(",") if params.get("appArgs") else []
    one.when_peer_answers = functools.partial(_answered, ast, one, app if "app" in params else None, args)
    run_dialplan(ast, two, (two.context, two.exten, 1))


def _pair(
    app: str, endpoint: str, params: Mapping[str, str], script: AriCallScript, context: str, exten: str
) -> tuple[Channel, Channel]:
    name = local_name(endpoint)
    caller_name, caller_number = caller_id(params.get("callerId", ""))
    one_id = params.get("channelId") or new_channel_id()
    # Without otherChannelId, `;2` is named after `;1`'s given id, or gets an id of its own (06b, 08h).
    two_id = params.get("otherChannelId") or (f"{one_id};2" if params.get("channelId") else new_channel_id())

    def half(channel_id: str, suffix: str, state: str, dialplan_app: tuple[str, str]) -> Channel:
        return Channel(
            id=channel_id, name=name + suffix, script=script, context=context, exten=exten, priority=1,
            app_name=dialplan_app[0], app_data=dialplan_app[1], state=state,
            caller_name=caller_name, caller_number=caller_number, connected_name=caller_name, connected_number=caller_number,
            subscribers={app} if app else set(), app_after_stasis=dialplan_app,
        )

    return half(one_id, "1", "Down", _DIALING), half(two_id, "2", "Ring", ("", ""))


def _answered(ast: Asterisk, one: Channel, app: str | None, args: list[str]) -> None:
    """`;2` answered: so is `;1`, and with `app=` it enters Stasis now (06b, 04g)."""
    ast.answer(one)
    ast.dial_progress(one, "ANSWER")
    if app is not None:
        one.app_name, one.app_data = "Stasis", ",".join([app, *args])
        ast.enter_stasis(one, app, args)
