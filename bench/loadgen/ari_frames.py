"""Pre-rendered ARI event frames for the ARI load generator.

Every event is rendered once, at start-up, by the project's emulated Asterisk
(:mod:`ivrflow.testing.ari_model`): the same channel snapshot, playback object
and field order as in the adapter's tests, which follow the Asterisk
transcripts. Per call only the channel id, the playback id and its media URI
change, put in with ``bytes.replace``; the timestamps stay those of the
rendering (ivrflow does not read them). Each event is then one WebSocket text
frame (server to client: unmasked).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

import gevent

from ivrflow.testing.ari_calls import place_call
from ivrflow.testing.ari_model import Asterisk
from ivrflow.testing.ari_script import AriCallScript

CHAN = "QQchanQQ"
PLAYBACK = "QQplaybackQQ"
MEDIA = "QQmediaQQ"
CHAN_B, PLAYBACK_B, MEDIA_B = CHAN.encode(), PLAYBACK.encode(), MEDIA.encode()
APP = "ivrflow"
DIGITS = "0123456789*#"


@dataclass(frozen=True, slots=True)
class AriTemplates:
    stasis_start: bytes
    state_up: bytes  # ChannelStateChange after answer
    playback_started: bytes
    playback_done: bytes
    playback_failed: bytes
    dtmf: dict[str, bytes]
    hangup_by_caller: bytes  # ChannelHangupRequest cause 16
    hangup_by_ari: bytes  # cause 32, soft
    stasis_end: bytes


def _text(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def render() -> AriTemplates:
    ast = Asterisk()
    seen: list[dict[str, Any]] = []
    ast.sinks[APP] = lambda event: seen.append(event) is None
    ast.apps.add(APP)
    script = AriCallScript(channel_id=CHAN, caller_number="79991234567", caller_name="Bench Caller", exten="071")
    ch = place_call(ast, APP, script)

    def last() -> bytes:
        return _text(seen[-1])

    stasis_start = last()
    ast.answer(ch)
    state_up = last()
    pb = ast.queue_playback(ch, PLAYBACK, [f"sound:{MEDIA}"])
    if pb.timer is not None:
        pb.timer.kill()  # the model's own end of the prompt: the generator times prompts itself
    started = last()
    ast.finish_playback(pb, "done")
    done = last()
    dtmf = {}
    for digit in DIGITS:
        ast.chan_event(ch, "ChannelDtmfReceived", digit=digit, duration_ms=100)
        dtmf[digit] = last()
    ast.chan_event(ch, "ChannelHangupRequest", cause=16)
    by_caller = last()
    ast.chan_event(ch, "ChannelHangupRequest", cause=32, soft=True)
    by_ari = last()
    failed = done.replace(b'"state":"done"', b'"state":"failed"')
    ast.leave_stasis(ch)
    stasis_end = last()
    gevent.killall(ch.greenlets)
    return AriTemplates(stasis_start, state_up, started, done, failed, dtmf, by_caller, by_ari, stasis_end)


def ws_frame(text: bytes) -> bytes:
    """One unmasked, final text frame."""
    n = len(text)
    if n < 126:
        return bytes((0x81, n)) + text
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + text
    return struct.pack("!BBQ", 0x81, 127, n) + text


def event(template: bytes, channel_id: bytes, playback_id: bytes = b"", media: bytes = b"") -> bytes:
    """A template with the call's ids put in, framed for the WebSocket."""
    text = template.replace(CHAN_B, channel_id)
    if playback_id:
        text = text.replace(PLAYBACK_B, playback_id).replace(MEDIA_B, media)
    return ws_frame(text)
