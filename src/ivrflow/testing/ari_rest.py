"""The emulated ARI's REST resources: `/ari/...` paths to state changes, with Asterisk's status codes and bodies."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from .ari_calls import create_leg, dial
from .ari_dtmf import send_dtmf
from .ari_local import originate_local
from .ari_model import ASTERISK_ID, AriError, Asterisk, Bridge, Channel, timestamp
from .ari_script import AriCallScript

Reply = tuple[int, Any]
Params = Mapping[str, str]

# ARI's hangup reasons and the Q.850 causes they stand for.
HANGUP_REASONS = {
    "normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 19, "rejected": 21,
    "unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28, "codec_mismatch": 58,
    "interworking": 127, "failure": 38, "answered_elsewhere": 26,
}

# The captured Asterisk's build (00), which the emulator stands in for.
BUILD = {"os": "Linux", "kernel": "6.18.44-fc-v669", "machine": "x86_64", "options": "OPTIONAL_API",
         "date": "2026-11-27 02:49:06 UTC", "user": "root"}
# Loaded modules by name: description, use count and support level as the captured Asterisk reported them;
# nothing here counts references, so the use count stays what it was then.
MODULES = {"res_ari.so": ("Asterisk RESTful Interface", 13, "core")}


def _sound_json(name: str) -> dict[str, Any]:
    return {"id": name, "formats": [{"language": "en", "format": "slin"}]}


class Rest:
    """Routes one request; raises AriError for Asterisk's error replies."""

    def __init__(self, ast: Asterisk, leg_script: Callable[[], AriCallScript] | None = None) -> None:
        self.ast = ast
        self.leg_script = leg_script
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Reply]]] = [
            ("GET", re.compile(r"asterisk/info"), self.info),
            ("GET", re.compile(r"asterisk/modules/([^/]+)"), self.module),
            ("GET", re.compile(r"sounds"), self.sounds),
            ("GET", re.compile(r"sounds/([^/]+)"), self.sound),
            ("GET", re.compile(r"endpoints"), self.endpoints),
            ("GET", re.compile(r"applications"), self.applications),
            ("GET", re.compile(r"applications/([^/]+)"), self.application),
            ("POST", re.compile(r"applications/([^/]+)/subscription"), self.subscribe),
            ("DELETE", re.compile(r"applications/([^/]+)/subscription"), self.unsubscribe),
            ("GET", re.compile(r"channels"), self.list_channels),
            ("POST", re.compile(r"channels"), self.originate),
            ("POST", re.compile(r"channels/create"), self.create),
            ("GET", re.compile(r"channels/([^/]+)"), self.get_channel),
            ("DELETE", re.compile(r"channels/([^/]+)"), self.hangup),
            ("POST", re.compile(r"channels/([^/]+)/answer"), self.answer),
            ("POST", re.compile(r"channels/([^/]+)/ring"), self.ring),
            ("DELETE", re.compile(r"channels/([^/]+)/ring"), self.ring),
            ("POST", re.compile(r"channels/([^/]+)/play(?:/([^/]+))?"), self.play),
            ("POST", re.compile(r"channels/([^/]+)/continue"), self.continue_),
            ("POST", re.compile(r"channels/([^/]+)/redirect"), self.redirect),
            ("POST", re.compile(r"channels/([^/]+)/dtmf"), self.dtmf),
            ("POST", re.compile(r"channels/([^/]+)/dial"), self.dial),
            ("GET", re.compile(r"channels/([^/]+)/variable"), self.get_variable),
            ("POST", re.compile(r"channels/([^/]+)/variable"), self.set_variable),
            ("GET", re.compile(r"playbacks/([^/]+)"), self.get_playback),
            ("DELETE", re.compile(r"playbacks/([^/]+)"), self.stop_playback),
            ("POST", re.compile(r"playbacks/([^/]+)/control"), self.control),
            ("POST", re.compile(r"bridges"), self.create_bridge),
            ("GET", re.compile(r"bridges"), self.list_bridges),
            ("GET", re.compile(r"bridges/([^/]+)"), self.get_bridge),
            ("DELETE", re.compile(r"bridges/([^/]+)"), self.destroy_bridge),
            ("POST", re.compile(r"bridges/([^/]+)/addChannel"), self.add_channel),
        ]

    def handle(self, method: str, path: str, params: Params) -> Reply:
        for route_method, pattern, fn in self._routes:
            m = pattern.fullmatch(path)
            if m and route_method == method:
                return fn(params, *m.groups())
        raise AriError(404, "Resource not found")

    # --- asterisk, applications ---------------------------------------------

    def info(self, params: Params) -> Reply:
        started = timestamp(self.ast.started)
        return 200, {
            "build": BUILD, "system": {"version": "22.10.1", "entity_id": ASTERISK_ID},
            "config": {"name": "", "default_language": "en", "setid": {"user": "", "group": ""}},
            "status": {"startup_time": started, "last_reload_time": started},
        }

    def module(self, params: Params, name: str) -> Reply:
        if name not in MODULES:
            raise AriError(404, "Module could not be found in running modules")
        description, use_count, support_level = MODULES[name]
        return 200, {"name": name, "description": description, "use_count": use_count, "status": "Running",
                     "support_level": support_level}

    # --- sounds, endpoints --------------------------------------------------

    def sounds(self, params: Params) -> Reply:
        if params.get("lang", "en") != "en":
            return 200, []  # every emulated sound is in English
        return 200, [_sound_json(name) for name in self.ast.sounds]

    def sound(self, params: Params, name: str) -> Reply:
        if name not in self.ast.sounds:
            raise AriError(404, "Sound not found")
        return 200, _sound_json(name)

    def endpoints(self, params: Params) -> Reply:
        return 200, []  # Local channels are no endpoints, and no other channel driver is emulated (00)

    def _app_json(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "channel_ids": [c.id for c in self.ast.channels.values() if c.app == name or name in c.subscribers],
            "bridge_ids": [], "endpoint_ids": [], "device_names": [],
            "events_allowed": [], "events_disallowed": [],
        }

    def applications(self, params: Params) -> Reply:
        return 200, [self._app_json(name) for name in sorted(self.ast.apps)]

    def application(self, params: Params, name: str) -> Reply:
        if name not in self.ast.apps:
            raise AriError(404, "Application not found")
        return 200, self._app_json(name)

    def subscribe(self, params: Params, name: str) -> Reply:
        """`eventSource=channel:<id>`: the app sees the channel's events, in Stasis or not, until it is destroyed (04b)."""
        self._event_source(params, name).subscribers.add(name)
        return 200, self._app_json(name)

    def unsubscribe(self, params: Params, name: str) -> Reply:
        ch = self._event_source(params, name, gone=AriError(422, "Event source was not subscribed to"))
        if name not in ch.subscribers:
            raise AriError(422, "Event source was not subscribed to")
        ch.subscribers.discard(name)
        return 200, self._app_json(name)

    def _event_source(self, params: Params, name: str, gone: AriError | None = None) -> Channel:
        if name not in self.ast.apps:
            raise AriError(404, "Application not found")
        if not params.get("eventSource"):
            raise AriError(400, "Missing parameter eventSource")
        kind, _, channel_id = params["eventSource"].partition(":")
        ch = self.ast.channels.get(channel_id) if kind == "channel" else None
        if ch is None:
            raise gone or AriError(422, "Event source does not exist")
        return ch

    # --- channels -----------------------------------------------------------

    def list_channels(self, params: Params) -> Reply:
        return 200, [c.json() for c in self.ast.channels.values()]

    def originate(self, params: Params) -> Reply:
        if "endpoint" not in params:
            raise AriError(400, "Endpoint must be specified")
        if "app" not in params and "extension" not in params:
            raise AriError(400, "Application or extension must be specified")
        if not params["endpoint"].startswith("Local/"):
            # Only Local channels are emulated, as only they were built on the captured Asterisk (08h).
            raise AriError(500, "Allocation failed", key="error")
        script = self.leg_script() if self.leg_script is not None else AriCallScript()
        return 200, originate_local(self.ast, params.get("app", ""), params["endpoint"], params, script).json()

    def create(self, params: Params) -> Reply:
        if "endpoint" not in params:
            raise AriError(400, "Endpoint must be specified")
        if "app" not in params:
            raise AriError(400, "Application must be specified")
        channel_id = params.get("channelId") or str(uuid.uuid4())
        args = params["appArgs"].split(",") if params.get("appArgs") else []
        # Until it is dialed the leg has no caller; without a leg script it then follows the caller's (see `dial`).
        script = self.leg_script() if self.leg_script is not None else AriCallScript()
        return 200, create_leg(self.ast, params["app"], params["endpoint"], channel_id, args, script)

    def get_channel(self, params: Params, channel_id: str) -> Reply:
        return 200, self.ast.channel(channel_id, in_stasis=False).json()

    def hangup(self, params: Params, channel_id: str) -> Reply:
        ch = self.ast.channel(channel_id, in_stasis=False)
        cause = 16
        if "reason_code" in params:
            cause = int(params["reason_code"])
        elif "reason" in params:
            if params["reason"] not in HANGUP_REASONS:
                raise AriError(400, "Invalid reason for hangup reason provided")
            cause = HANGUP_REASONS[params["reason"]]
        self.ast.hang_up(ch, cause, by_ari=True)
        return 204, None

    def answer(self, params: Params, channel_id: str) -> Reply:
        self.ast.answer(self.ast.channel(channel_id))
        return 204, None

    def ring(self, params: Params, channel_id: str) -> Reply:
        self.ast.channel(channel_id)
        return 204, None

    def play(self, params: Params, channel_id: str, playback_id: str | None = None) -> Reply:
        ch = self.ast.channel(channel_id)
        if not params.get("media"):
            raise AriError(500, "Failed to queue media for playback")
        pb = self.ast.queue_playback(ch, playback_id or str(uuid.uuid4()), params["media"].split(","))
        body = pb.json()
        if pb.state != "playing":
            body["state"] = "queued"
        return 201, body

    def continue_(self, params: Params, channel_id: str) -> Reply:
        ch = self.ast.channel(channel_id)
        if not any(k in params for k in ("context", "extension", "priority")):
            target = (ch.context, ch.exten, ch.priority + 1)  # on after Stasis() (04c)
        else:
            target = (params.get("context", ch.context), params.get("extension", ch.exten), int(params.get("priority", "1")))
        self.ast.continue_dialplan(ch, target)
        return 204, None

    def redirect(self, params: Params, channel_id: str) -> Reply:
        self.ast.channel(channel_id)
        return 204, None  # Local channels cannot be redirected: 204 and nothing happens (04e)

    def dtmf(self, params: Params, channel_id: str) -> Reply:
        ch = self.ast.channel(channel_id)
        if "dtmf" not in params:
            raise AriError(400, "DTMF is required")
        if ch.peer is not None:
            # Sent towards the channel's peer: the app never sees the digits it sends itself.
            send_dtmf(self.ast, ch.peer, params["dtmf"], int(params.get("duration", "100")), int(params.get("between", "100")))
        return 204, None

    def dial(self, params: Params, channel_id: str) -> Reply:
        leg = self.ast.channel(channel_id)
        if leg.dial is None:
            raise AriError(409, "Channel is not in a state to be dialed")
        caller = self.ast.channels.get(params.get("caller", ""))
        if caller is not None and self.leg_script is None:
            leg.script = caller.script  # the endpoint behaves as the calling scenario says, on its clock
        dial(self.ast, leg, caller, float(params.get("timeout", "30")))
        return 204, None

    def get_variable(self, params: Params, channel_id: str) -> Reply:
        if not params.get("variable"):
            raise AriError(400, "Variable name is required")
        ch = self.ast.channels.get(channel_id)
        if ch is None:
            raise AriError(404, "Provided channel was not found")
        return 200, {"value": self.ast.get_variable(ch, params["variable"])}

    def set_variable(self, params: Params, channel_id: str) -> Reply:
        if not params.get("variable"):
            raise AriError(400, "Variable name is required")
        ch = self.ast.channel(channel_id)
        self.ast.set_variable(ch, params["variable"], params.get("value"))
        return 204, None

    # --- playbacks ----------------------------------------------------------

    def get_playback(self, params: Params, playback_id: str) -> Reply:
        pb = self.ast.playbacks.get(playback_id)
        if pb is None:
            raise AriError(404, "Playback not found")
        return 200, pb.json()

    def stop_playback(self, params: Params, playback_id: str) -> Reply:
        self.ast.stop_playback(playback_id)
        return 204, None

    def control(self, params: Params, playback_id: str) -> Reply:
        pb = self.ast.playbacks.get(playback_id)
        if pb is None:
            raise AriError(404, "Playback not found")
        if params.get("operation") not in ("pause", "unpause", "restart", "reverse", "forward"):
            raise AriError(400, "Invalid operation")
        self.ast.control(pb, params["operation"])
        return 204, None

    # --- bridges ------------------------------------------------------------

    def _bridge(self, bridge_id: str) -> Bridge:
        bridge = self.ast.bridges.get(bridge_id)
        if bridge is None:
            raise AriError(404, "Bridge not found")
        return bridge

    def create_bridge(self, params: Params) -> Reply:
        bridge = Bridge(params.get("bridgeId") or str(uuid.uuid4()), params.get("name", ""))
        self.ast.bridges[bridge.id] = bridge
        return 200, bridge.json()

    def list_bridges(self, params: Params) -> Reply:
        return 200, [b.json() for b in self.ast.bridges.values()]

    def get_bridge(self, params: Params, bridge_id: str) -> Reply:
        return 200, self._bridge(bridge_id).json()

    def destroy_bridge(self, params: Params, bridge_id: str) -> Reply:
        self.ast.destroy_bridge(self._bridge(bridge_id))
        return 204, None

    def add_channel(self, params: Params, bridge_id: str) -> Reply:
        bridge = self._bridge(bridge_id)
        channels: list[Channel] = [self.ast.channel(c) for c in params.get("channel", "").split(",") if c]
        if not channels:
            raise AriError(400, "Missing parameter channel")
        for ch in channels:
            self.ast.add_to_bridge(bridge, ch)
        return 204, None
