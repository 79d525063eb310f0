"""What an emulated channel does once it leaves Stasis: its script's dialplan, as a subscribed app sees it (04b-04d).

`continue` sends the channel to (context, extension, priority). An extension the
dialplan lacks hangs it up ("sent to invalid extension but no invalid handler",
ChannelDestroyed cause 0); one the script spells out runs application by
application, each announced by ChannelDialplan; one it only names (or no
dialplan at all) keeps the channel up for `after_continue_seconds`. Only apps
subscribed to the channel (`POST /applications/{app}/subscription`) see any of it.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Sequence

from .ari_dtmf import send_dtmf
from .ari_model import CALLER_ALLOWED, AriError, Asterisk, Channel

__all__ = ["end_dialplan", "run_dialplan"]

_VARIABLE = re.compile(r"\$\{([^}]+)\}")
ANSWER_MEDIA_WAIT = 0.5


def run_dialplan(ast: Asterisk, ch: Channel, target: tuple[str, str, int]) -> None:
    context, exten, priority = target
    if not ch.script.has_extension(context, exten):
        ast.chan_event(ch, "ChannelHangupRequest", cause=16, soft=True)
        ch.context, ch.exten, ch.priority, ch.app_name, ch.app_data = context, exten, priority, "", ""
        ast.hang_up(ch, 0, by_ari=False)
        return
    ch.context, ch.exten, ch.priority, ch.app_name, ch.app_data = context, exten, priority, "", ""
    steps = ch.script.dialplan.get((context, exten))
    if steps is not None:
        _run_from(ast, ch, steps, priority)
        return
    talk = ch.script.after_continue_seconds
    if talk is not None:
        ch.later(talk, lambda: ast.hang_up(ch, 16, by_ari=False))


def _run_from(ast: Asterisk, ch: Channel, steps: Sequence[tuple[str, str]], priority: int) -> None:
    while ch.alive:
        if priority > len(steps):
            _hang_up(ast, ch, 16)  # the extension ran out: autofallthrough hangs up
            return
        app, data = steps[priority - 1][0], _expand(ast, ch, steps[priority - 1][1])
        # A Local half takes in what its peer sent it (its ringing, a new caller id) between applications:
        # the next step's snapshot shows the new caller, its event follows (04g).
        caller, ch.next_caller = ch.next_caller, None
        if caller is not None:
            ch.caller_name, ch.caller_number = caller
        ch.priority, ch.app_name, ch.app_data = priority, app, data
        ast.chan_event(ch, "ChannelDialplan", dialplan_app=app, dialplan_app_data=data)
        if caller is not None:
            ast.chan_event(ch, "ChannelCallerId", caller_presentation=0, caller_presentation_txt=CALLER_ALLOWED)
        pending, ch.on_next_step = ch.on_next_step, []
        for fn in pending:
            fn()
        priority += 1
        if app == "Set":
            name, _, value = data.partition("=")
            if not name.startswith("GLOBAL("):  # a global variable is no channel's event
                ast.set_variable(ch, name, value)
        elif app == "Answer" and ch.state != "Up":
            ast.answer(ch)
            # Answer then waits up to half a second for media, which a Local channel never sends (04g).
            resume_at = priority
            ch.later(ANSWER_MEDIA_WAIT, lambda: _run_from(ast, ch, steps, resume_at))
            return
        elif app == "Ringing" and ch.peer is not None and ch.peer.state != "Ringing":
            ch.peer.state = "Ringing"
            ast.chan_event(ch.peer, "ChannelStateChange")
            ch.on_next_step.append(functools.partial(ast.dial_progress, ch.peer, "RINGING"))
        elif app == "Goto":
            context, exten, goto_priority = data.split(",")
            run_dialplan(ast, ch, (context, exten, int(goto_priority)))
            return
        elif app == "Hangup":
            _hang_up(ast, ch, 16)
            return
        elif app in ("Playback", "Wait", "SendDTMF"):
            if app == "Playback":
                seconds = ch.script.sound_seconds(data)
            else:
                seconds = float(data or 0) if app == "Wait" else _send_dtmf(ast, ch, data)
            resume = priority
            ch.later(seconds or 0.0, lambda: _run_from(ast, ch, steps, resume))
            return


def _send_dtmf(ast: Asterisk, ch: Channel, data: str) -> float:
    """SendDTMF(digits[,between_ms[,duration_ms]]) towards the channel's Local peer; the seconds it takes (02b)."""
    digits, _, rest = data.partition(",")
    between, _, duration = rest.partition(",")
    between_ms, duration_ms = int(between or 250), int(duration or 100)
    if ch.peer is not None:
        send_dtmf(ast, ch.peer, digits, duration_ms, between_ms)
    return len(digits) * (duration_ms + between_ms) / 1000.0


def end_dialplan(ast: Asterisk, ch: Channel) -> None:
    """Its Local peer is gone: the running application ends, then the channel hangs up (06b, 04g)."""
    if ch.app_name == "Playback":
        ast.set_variable(ch, "PLAYBACKSTATUS", "SUCCESS")
    _hang_up(ast, ch, 16)


def _hang_up(ast: Asterisk, ch: Channel, cause: int) -> None:
    ast.chan_event(ch, "ChannelHangupRequest", cause=16, soft=True)
    ch.app_name = ch.app_data = ""
    ast.hang_up(ch, cause, by_ari=False)


def _expand(ast: Asterisk, ch: Channel, data: str) -> str:
    def value(m: re.Match[str]) -> str:
        if m.group(1) == "EPOCH":
            return str(int(time.time()))
        try:
            return ast.get_variable(ch, m.group(1))
        except AriError:
            return ""  # an unset variable expands to nothing

    return _VARIABLE.sub(value, data)
