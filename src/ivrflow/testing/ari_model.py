"""The emulated Asterisk's state: channels, playbacks, bridges and the events they cause.

Every change emits its events synchronously, before the REST handler that caused
it returns, so they reach the WebSocket before the HTTP reply, as on a real
Asterisk (transcripts 01-08). Timed things (a prompt's end, a digit, a ringing
leg) run in greenlets scaled by the call script's ``time_scale``.

One module past 400 lines: channels, playbacks and bridges emit into each
other's events (a hangup ends a playback and leaves a bridge), read together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent

from .ari_script import AriCallScript
from .fresh_timers import spawn_after

Json = dict[str, Any]
ASTERISK_ID = "02:fc:00:00:00:01"
DIGIT_SECONDS = 0.5  # how long one digit of a digits:/number: prompt plays
CALLER_ALLOWED = "Presentation Allowed, Not Screened"  # ChannelCallerId's caller_presentation_txt for 0
CAUSE_TEXT = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "No user responding", 26: "Answered elsewhere"}


class AriError(Exception):
    """A REST failure with Asterisk's status and body."""

    def __init__(self, status: int, message: str, key: str = "message") -> None:
        super().__init__(message)
        self.status = status
        self.body: Json = {key: message}


def timestamp(wall: float | None = None) -> str:
    wall = time.time() if wall is None else wall
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(wall)) + f".{int(wall % 1 * 1000):03d}+0000"


@dataclass
class Playback:
    id: str
    channel: Channel
    media: list[str]
    index: int = 0
    state: str = "queued"
    deleted: bool = False
    timer: gevent.Greenlet | None = None
    item_seconds: float = 0.0  # call time the current item plays
    remaining: float = 0.0  # call time left when paused
    resumed_at: float = 0.0  # wall time the current item (re)started

    def json(self) -> Json:
        body: Json = {"id": self.id, "media_uri": self.media[self.index]}
        if self.index + 1 < len(self.media):
            body["next_media_uri"] = self.media[self.index + 1]
        body.update(target_uri=f"channel:{self.channel.id}", language="en", state=self.state)
        return body


@dataclass
class Channel:
    id: str
    name: str
    script: AriCallScript
    context: str
    exten: str
    priority: int
    app_data: str
    state: str = "Ring"
    caller_name: str = ""
    caller_number: str = ""
    connected_name: str = ""
    connected_number: str = ""
    app: str | None = None  # the Stasis app it is in, if any
    subscribers: set[str] = field(default_factory=set)  # apps subscribed to it (they see it outside Stasis too)
    app_name: str = ""  # the dialplan application running, once it left Stasis
    created: float = field(default_factory=time.time)
    variables: dict[str, str] = field(default_factory=dict)
    queue: list[Playback] = field(default_factory=list)  # queue[0] plays when state is "playing"
    continue_to: tuple[str, str, int] | None = None
    continued: tuple[str, str, int] | None = None  # where `continue` sent it
    hangup_cause: int | None = None  # Q.850 cause it ended with
    bridge: str | None = None
    dial: Json | None = None  # for a dialed leg: its endpoint and dialstring
    peer: Channel | None = None  # the other half of a Local pair: digits sent here reach it
    # What a Local half does once its peer answers: the dialplan it was originated into, or its own answer.
    when_peer_answers: Callable[[], None] | None = None
    # What a Local half in the dialplan takes in from its peer only between applications (ari_dialplan._run_from).
    on_next_step: list[Callable[[], None]] = field(default_factory=list)
    next_caller: tuple[str, str] | None = None
    originator: str | None = None  # the app whose plain originate made it: told of its Dial progress
    app_after_stasis: tuple[str, str] | None = None  # the dialplan app it shows once out of Stasis
    greenlets: list[gevent.Greenlet] = field(default_factory=list)

    def json(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": {"name": self.caller_name, "number": self.caller_number},
            "connected": {"name": self.connected_name, "number": self.connected_number},
            "accountcode": "",
            "dialplan": {
                "context": self.context,
                "exten": self.exten,
                "priority": self.priority,
                "app_name": self.app_name or ("Stasis" if self.app_data else ""),
                "app_data": self.app_data,
            },
            "creationtime": timestamp(self.created),
            "language": "en",
        }

    @property
    def alive(self) -> bool:
        return self.hangup_cause is None

    def later(self, call_seconds: float, fn: Callable[[], None]) -> gevent.Greenlet[[], None]:
        greenlet = spawn_after(call_seconds * self.script.time_scale, fn)
        self.greenlets.append(greenlet)
        return greenlet


@dataclass
class Bridge:
    id: str
    name: str
    channels: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)

    def json(self) -> Json:
        return {
            "id": self.id,
            "technology": "simple_bridge",
            "bridge_type": "mixing",
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": list(self.channels),
            "creationtime": timestamp(self.created),
            "video_mode": "talker",
        }


Sink = Callable[[Json], bool]  # sends one event frame; False when the socket is gone


class Asterisk:
    """All emulated state; one per emulator."""

    def __init__(self, sounds: tuple[str, ...] = ()) -> None:
        self.started = time.time()
        self.sounds = sounds  # what `GET /sounds` lists, in its order; prompts' lengths come from the call scripts
        self.channels: dict[str, Channel] = {}
        self.playbacks: dict[str, Playback] = {}
        self.bridges: dict[str, Bridge] = {}
        self.sinks: dict[str, Sink] = {}  # app -> its newest WebSocket
        self.apps: set[str] = set()  # every app that ever connected: Asterisk keeps listing them
        self.missed: dict[str, int] = {}  # app -> events dropped while it had no WebSocket
        self.refused: list[str] = []  # channel ids whose Stasis() failed (no WebSocket)
        self.ended: dict[str, Channel] = {}
        self.digits: list[gevent.Greenlet[[], None]] = []  # each DTMF digit's arrival at its channel, to come or done

    @property
    def digits_in_flight(self) -> int:
        """DTMF digits sent to channels that have neither arrived nor gone with their channel."""
        self.digits = [g for g in self.digits if not g.dead]
        return len(self.digits)

    # --- events -------------------------------------------------------------

    def emit(self, app: str | None, type_: str, **fields: Any) -> None:
        if app is None:
            return
        event: Json = {"type": type_, "timestamp": timestamp(), **fields, "asterisk_id": ASTERISK_ID, "application": app}
        sink = self.sinks.get(app)
        if sink is None or not sink(event):
            self.sinks.pop(app, None)
            self.missed[app] = self.missed.get(app, 0) + 1

    def attach(self, app: str, sink: Sink) -> None:
        old = self.sinks.get(app)
        if old is not None:
            old({"type": "ApplicationReplaced", "timestamp": timestamp(), "application": app, "asterisk_id": ASTERISK_ID})
        self.sinks[app] = sink
        self.apps.add(app)

    def detach(self, app: str, sink: Sink) -> None:
        if self.sinks.get(app) == sink:  # bound methods: equal, not identical
            del self.sinks[app]

    def chan_event(self, ch: Channel, type_: str, **fields: Any) -> None:
        """An event about `ch` for the app it is in and every app subscribed to it, once each."""
        snapshot = ch.json()
        for app in ([ch.app] if ch.app else []) + sorted(ch.subscribers - {ch.app}):
            self.emit(app, type_, **fields, channel=snapshot)

    # --- channels -----------------------------------------------------------

    def channel(self, channel_id: str, *, in_stasis: bool = True) -> Channel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise AriError(404, "Channel not found")
        if in_stasis and ch.app is None:
            raise AriError(409, "Channel not in Stasis application")
        return ch

    def enter_stasis(self, ch: Channel, app: str, args: list[str]) -> bool:
        self.channels[ch.id] = ch
        if app not in self.sinks:
            # Stasis() fails at once for an app without a WebSocket; the dialplan goes on.
            self.refused.append(ch.id)
            ch.variables["STASISSTATUS"] = "FAILED"
            return False
        self.set_variable(ch, "STASISSTATUS", "")  # before it is the app's: only a subscribed app sees it
        ch.app = app
        self.chan_event(ch, "StasisStart", args=args)
        return True

    def leave_stasis(self, ch: Channel) -> None:
        for pb in ch.queue:
            if pb.timer is not None:
                pb.timer.kill(block=False)
            self.playbacks.pop(pb.id, None)
        ch.queue.clear()
        if ch.bridge is not None:
            self.remove_from_bridge(ch)
        self.chan_event(ch, "StasisEnd")
        ch.app = None

    def hang_up(self, ch: Channel, cause: int, *, by_ari: bool) -> None:
        """The channel ends: by ARI (DELETE, soft hangup 32) or by the far end (16)."""
        if not ch.alive:
            return
        ch.hangup_cause = cause
        peer = ch.peer if ch.peer is not None and ch.peer.alive else None
        if ch.app is not None:
            if by_ari:
                self.chan_event(ch, "ChannelHangupRequest", cause=32, soft=True)
            else:
                self.chan_event(ch, "ChannelHangupRequest", cause=16)
            if ch.queue and ch.queue[0].state == "playing":
                self.finish_playback(ch.queue[0], "failed", start_next=False)
            self.leave_stasis(ch)
            self.set_variable(ch, "STASISSTATUS", "SUCCESS")  # Stasis() returns: only a subscribed app sees it
        elif by_ari:
            self.chan_event(ch, "ChannelHangupRequest", cause=32, soft=True)
        if ch.app_after_stasis is not None:
            ch.app_name, ch.app_data = ch.app_after_stasis
        if ch.state != "Up":
            self.dial_progress(ch, "NOANSWER")
        if peer is not None and peer.app is None:
            self.chan_event(peer, "ChannelHangupRequest", cause=16)  # a Local peer hears of it before this half goes
        # The Stasis app sees no ChannelDestroyed after StasisEnd, unless it subscribed to the channel.
        if ch.subscribers:
            self.chan_event(ch, "ChannelDestroyed", cause=cause, cause_txt=CAUSE_TEXT.get(cause, "Unknown"))
            ch.subscribers.clear()  # the subscription goes with the channel
        for g in ch.greenlets:
            if g is not gevent.getcurrent():
                g.kill(block=False)
        del self.channels[ch.id]
        self.ended[ch.id] = ch
        # A Local pair ends together: the far half sees cause 16, in Stasis or in its dialplan.
        if peer is not None and peer.app is None:
            from .ari_dialplan import end_dialplan  # it drives this model: imported when first needed

            end_dialplan(self, peer)
        elif peer is not None:
            self.hang_up(peer, 16, by_ari=False)

    def dial_progress(self, leg: Channel, status: str) -> None:
        """A Dial event on a plain originate's leg, for the app that originated it (06b, 04g)."""
        if leg.originator is not None and leg.dial is not None:
            self.emit(leg.originator, "Dial", dialstatus=status, forward="", dialstring=leg.dial["dialstring"], peer=leg.json())

    def answer(self, ch: Channel) -> None:
        if ch.state != "Up":
            ch.state = "Up"
            self.chan_event(ch, "ChannelStateChange")
        peer = ch.peer
        if peer is not None and peer.when_peer_answers is not None:
            then, peer.when_peer_answers = peer.when_peer_answers, None
            then()

    def set_variable(self, ch: Channel, name: str, value: str | None) -> None:
        if name in ("CALLERID(name)", "CALLERID(num)"):
            if name == "CALLERID(name)":
                ch.caller_name = value or ""
            else:
                ch.caller_number = value or ""
            self.chan_event(ch, "ChannelCallerId", caller_presentation=0,
                            caller_presentation_txt=CALLER_ALLOWED)
            return
        if value is None:
            ch.variables.pop(name, None)
        else:
            ch.variables[name] = value
        self.chan_event(ch, "ChannelVarset", variable=name, value=value or "")

    def get_variable(self, ch: Channel, name: str) -> str:
        builtin = {
            "CALLERID(num)": ch.caller_number,
            "CALLERID(name)": ch.caller_name,
            "CALLERID(all)": f'"{ch.caller_name}" <{ch.caller_number}>',
            "CHANNEL(name)": ch.name,
            "CHANNEL(language)": "en",
            "EXTEN": ch.exten,
            "CONTEXT": ch.context,
            "UNIQUEID": ch.id,
        }
        value = builtin.get(name, ch.variables.get(name))
        if value is None:
            raise AriError(404, "Provided variable was not found")
        return value

    def continue_dialplan(self, ch: Channel, target: tuple[str, str, int]) -> None:
        ch.continue_to = target
        if not (ch.queue and ch.queue[0].state == "playing"):
            self._run_continue(ch)

    def _run_continue(self, ch: Channel) -> None:
        from .ari_dialplan import run_dialplan  # it drives this model: imported when first needed

        assert ch.continue_to is not None
        ch.continued, ch.continue_to = ch.continue_to, None
        self.leave_stasis(ch)
        self.set_variable(ch, "STASISSTATUS", "SUCCESS")
        run_dialplan(self, ch, ch.continued)

    # --- playbacks ----------------------------------------------------------

    def queue_playback(self, ch: Channel, playback_id: str, media: list[str]) -> Playback:
        pb = Playback(playback_id, ch, media)
        self.playbacks[pb.id] = pb
        ch.queue.append(pb)
        if len(ch.queue) == 1:
            self._start(pb)
        return pb

    def _start(self, pb: Playback) -> None:
        if pb.deleted:
            # A queued playback deleted earlier ends when its turn comes, without playing.
            self.finish_playback(pb, "done")
            return
        pb.state = "playing"
        self.emit(pb.channel.app, "PlaybackStarted", playback=pb.json())
        self._play_item(pb)

    def _play_item(self, pb: Playback) -> None:
        scheme, _, rest = pb.media[pb.index].partition(":")
        seconds: float | None
        if scheme == "sound":
            seconds = pb.channel.script.sound_seconds(rest)
        elif scheme in ("digits", "number"):
            seconds = DIGIT_SECONDS * len(rest)
        elif scheme == "tone":
            return  # plays until deleted
        else:
            # Unknown scheme or missing recording: no PlaybackFinished ever comes, the queue goes on.
            self._drop(pb)
            if pb.channel.queue:
                self._start(pb.channel.queue[0])
            return
        if seconds is None:
            self.finish_playback(pb, "failed")
            return
        pb.item_seconds = seconds
        self._run_item(pb, seconds)

    def _run_item(self, pb: Playback, seconds: float) -> None:
        pb.resumed_at = time.monotonic()
        pb.remaining = seconds
        pb.timer = spawn_after(seconds * pb.channel.script.time_scale, self._item_done, pb)

    def end_item_now(self, pb: Playback) -> None:
        """The playing media item reaches its end now (a test fast-forwarding a prompt)."""
        if pb.state == "playing" and pb.timer is not None:
            pb.timer.kill(block=False)
            self._item_done(pb)

    def control(self, pb: Playback, operation: str) -> None:
        """pause (no event), unpause (a new PlaybackStarted), restart (silent), as in 03c-2."""
        if operation == "pause" and pb.state == "playing" and pb.timer is not None:
            pb.timer.kill(block=False)
            pb.timer = None
            played = (time.monotonic() - pb.resumed_at) / pb.channel.script.time_scale
            pb.remaining = max(0.0, pb.remaining - played)
            pb.state = "paused"
        elif operation == "unpause" and pb.state == "paused":
            pb.state = "playing"
            self.emit(pb.channel.app, "PlaybackStarted", playback=pb.json())
            self._run_item(pb, pb.remaining)
        elif operation == "restart" and pb.timer is not None:
            pb.timer.kill(block=False)
            self._run_item(pb, pb.item_seconds)

    def _item_done(self, pb: Playback) -> None:
        pb.timer = None
        if pb.index + 1 < len(pb.media):
            pb.state = "continuing"
            self.emit(pb.channel.app, "PlaybackContinuing", playback=pb.json())
            pb.index += 1
            pb.state = "playing"
            self.emit(pb.channel.app, "PlaybackStarted", playback=pb.json())
            self._play_item(pb)
        else:
            self.finish_playback(pb, "done")

    def _drop(self, pb: Playback) -> None:
        if pb.timer is not None and pb.timer is not gevent.getcurrent():
            pb.timer.kill(block=False)
        pb.timer = None
        self.playbacks.pop(pb.id, None)
        if pb in pb.channel.queue:
            pb.channel.queue.remove(pb)

    def finish_playback(self, pb: Playback, state: str, *, start_next: bool = True) -> None:
        ch = pb.channel
        self._drop(pb)
        pb.state = state
        self.emit(ch.app, "PlaybackFinished", playback=pb.json())
        if not start_next or ch.app is None:
            return
        if ch.continue_to is not None:
            self._run_continue(ch)
        elif ch.queue:
            self._start(ch.queue[0])

    def stop_playback(self, playback_id: str) -> None:
        pb = self.playbacks.get(playback_id)
        if pb is None or pb.deleted:
            raise AriError(404, "Playback not found")
        if pb.state == "queued":
            pb.deleted = True
        else:
            self.finish_playback(pb, "done")

    # --- bridges ------------------------------------------------------------

    def add_to_bridge(self, bridge: Bridge, ch: Channel) -> None:
        bridge.channels.append(ch.id)
        ch.bridge = bridge.id
        self.emit(ch.app, "ChannelEnteredBridge", bridge=bridge.json(), channel=ch.json())
        if len(bridge.channels) == 2:
            # Two in the bridge: each learns the other's name and caller id (04f, 04g).
            other = self.channels[bridge.channels[0]]
            self.set_variable(other, "BRIDGEPEER", ch.name)
            self.set_variable(ch, "BRIDGEPEER", other.name)
            self._connect(ch, other)
            self._connect(other, ch)

    def _connect(self, ch: Channel, to: Channel) -> None:
        """`ch`'s connected line becomes `to`'s caller; a Local half passes it on to its dialplan half."""
        if (ch.connected_name, ch.connected_number) == (to.caller_name, to.caller_number):
            return
        ch.connected_name, ch.connected_number = to.caller_name, to.caller_number
        self.chan_event(ch, "ChannelConnectedLine")
        if ch.peer is not None and ch.peer.app is None:
            ch.peer.next_caller = (to.caller_name, to.caller_number)

    def remove_from_bridge(self, ch: Channel) -> None:
        bridge = self.bridges.get(ch.bridge or "")
        ch.bridge = None
        if bridge is not None and ch.id in bridge.channels:
            bridge.channels.remove(ch.id)
            if ch.variables.get("BRIDGEPEER"):
                self.set_variable(ch, "BRIDGEPEER", "")
            self.emit(ch.app, "ChannelLeftBridge", bridge=bridge.json(), channel=ch.json())

    def destroy_bridge(self, bridge: Bridge) -> None:
        app = None
        for channel_id in list(bridge.channels):
            ch = self.channels[channel_id]
            app = app or ch.app
            self.remove_from_bridge(ch)
        del self.bridges[bridge.id]
        self.emit(app, "BridgeDestroyed", bridge=bridge.json())
