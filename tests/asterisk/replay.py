"""Replays a transcript section's REST and WebSocket exchanges against the ARI emulator.

The recorded client's requests are sent in their recorded order, each only once
the events Asterisk had sent before it was made have arrived; the caller's side
(originate, its digits, its hangup) becomes the emulator's scripted caller.
Sounds never end by themselves: a prompt plays out where the capture shows it
did (a PlaybackContinuing, or a PlaybackFinished "done" of a playback nobody
deleted, seen by either app), so the replay does not depend on the machine's speed. What comes back (REST status and body, every event on every
`ivrflow` WebSocket) is compared with the capture, ids and timestamps aside.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import gevent
import gevent.socket
import websocket

from ivrflow.asterisk.rest import AriRest, Credentials
from ivrflow.testing.ari_emulator import AriEmulator
from ivrflow.testing.ari_script import AriCallScript

from .transcripts import Line, normalize

CREDENTIALS = Credentials("ivr", "ivrsecret")
MISSING = frozenset({"does-not-exist", "/srv/asterisk-tests/sounds/nope"})
# The capture's dialplan (its set-up, not ARI's behaviour): what a channel runs outside Stasis.
_TARGET = (
    ("NoOp", "TARGET reached exten=${EXTEN} chan=${CHANNEL(name)} ivr_var=${ivr_var}"),
    ("Set", "landed=${EXTEN}"),
    ("Set", "GLOBAL(LAST_LANDED)=${EXTEN}@${CHANNEL(name)}@${EPOCH}"),
    ("Answer", ""),
    ("Playback", "/srv/asterisk-tests/sounds/tone10s"),
)
DIALPLAN = {
    ("ivr-in", "071"): (
        ("NoOp", "ivr-in ${EXTEN} caller=${CALLERID(all)}"), ("Set", "IVR_DNIS=${EXTEN}"), ("Stasis", "ivrflow,${EXTEN}"),
        ("NoOp", "after Stasis: STASISSTATUS=${STASISSTATUS}"), ("Hangup", ""),
    ),
    **{("targets", exten): _TARGET for exten in ("002", "0049301234", "+4930123456")},
}


class WsClient:
    """A test-side `/ari/events` socket: websocket-client over a gevent socket, every event kept."""

    def __init__(self, base_url: str, app: str = "ivrflow") -> None:
        host, port = urlsplit(base_url).netloc.split(":")
        sock = gevent.socket.create_connection((host, int(port)), 5)
        self.ws = websocket.WebSocket(enable_multithread=False)
        self.ws.connect(f"ws://{host}:{port}/ari/events?app={app}", socket=sock,
                        header=[f"Authorization: {CREDENTIALS.basic_auth_header()}"])
        self.events: list[dict[str, Any]] = []
        self._reader = gevent.spawn(self._read)

    def _read(self) -> None:
        try:
            while True:
                self.events.append(json.loads(self.ws.recv()))
        except (websocket.WebSocketException, OSError, ValueError):
            return

    def close(self) -> None:
        self.ws.shutdown()
        self._reader.join(1)


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.002)
    return True


@dataclass
class Exchange:
    method: str
    path: str
    expected: tuple[int, Any]
    got: tuple[int, Any]


@dataclass
class Replay:
    exchanges: list[Exchange] = field(default_factory=list)
    expected_events: dict[str, list[Any]] = field(default_factory=dict)
    got_events: dict[str, list[Any]] = field(default_factory=dict)
    emulator: AriEmulator | None = None


def _caller_id(value: str) -> tuple[str, str]:
    if "<" not in value:
        return "", value
    name, _, rest = value.partition("<")
    return name.strip(), rest.rstrip(">")


def _script(line: Line, lines: list[Line], i: int, scale: float, extensions: frozenset[tuple[str, str]]) -> AriCallScript:
    params = dict(parse_qsl(urlsplit(line["url"]).query))
    ivr_id = params.get("otherChannelId") or next(
        later["event"]["channel"]["id"] for later in lines[i:]
        if later["kind"] == "ws" and later["event"]["type"] == "StasisStart" and later["app"] == "ivrflow"
    )
    name, number = _caller_id(params.get("callerId", ""))
    variables = {k.lstrip("_"): v for k, v in ((line.get("body") or {}).get("variables") or {}).items()}
    return AriCallScript(
        channel_id=ivr_id, caller_name=name, caller_number=number, variables={**variables, "IVR_DNIS": "071"},
        default_sound_seconds=1e6, missing_sounds=MISSING, extensions=extensions, dialplan=DIALPLAN, time_scale=scale,
        caller_leg_id=params.get("channelId") or line["response"]["id"], caller_leg_app=params.get("app"),
    )


def _normal_reply(method: str, path: str, status: int, body: Any, ids: dict[str, str]) -> tuple[int, Any]:
    if path.startswith("/ari/applications") and isinstance(body, list):
        body = [app for app in body if app["name"] == "ivrflow"]  # ivrcaller's subscriptions are not emulated
    if method == "POST" and "/play" in path and isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "state"}  # "queued" or already "playing": a race
    return status, normalize(body, ids)


def _natural_ends(lines: list[Line]) -> dict[int, str]:
    """Line index -> playback id, where a prompt's media item played out by itself."""
    deleted: dict[str, float] = {}  # playback id -> when its DELETE was sent
    for line in lines:
        path = urlsplit(line.get("url", "")).path
        if line["kind"] == "rest" and line["method"] == "DELETE" and path.startswith("/ari/playbacks/"):
            deleted.setdefault(path.rsplit("/", 1)[1], line["rel"] - line["elapsed_ms"] / 1000.0)
    ends: dict[int, str] = {}
    seen: set[tuple[str, str, str]] = set()
    for i, line in enumerate(lines):
        if line["kind"] != "ws" or line["event"]["type"] not in ("PlaybackContinuing", "PlaybackFinished"):
            continue
        pb = line["event"]["playback"]
        key = (pb["id"], line["event"]["type"], pb["media_uri"])
        stopped = deleted.get(pb["id"], float("inf")) <= line["rel"]
        if pb["state"] in ("done", "continuing") and not stopped and key not in seen:
            ends[i] = pb["id"]
        seen.add(key)
    return ends


def replay(lines: list[Line], *, scale: float = 0.05, extensions: frozenset[tuple[str, str]] = frozenset()) -> Replay:
    result = Replay()
    emu = AriEmulator().start()
    result.emulator = emu
    rest = AriRest(emu.url, CREDENTIALS)
    clients: dict[str, WsClient] = {}
    theirs_to_ours: dict[str, str] = {}
    ours_to_theirs: dict[str, str] = {}
    natural_ends = _natural_ends(lines)
    try:
        for i, line in enumerate(lines):
            kind = line["kind"]
            if kind == "ws" and line["app"].startswith("ivrflow"):
                result.expected_events.setdefault(line["app"], []).append(line["event"])
            if kind == "ws" and line["event"]["type"] == "ChannelDtmfReceived":
                # A digit the capture shows arriving has arrived here too (or found no socket), as in Asterisk.
                assert wait_until(lambda: emu.asterisk.digits_in_flight == 0), "a digit never arrived"
            if kind not in ("rest", "ws-open", "ws-closed") and i not in natural_ends:
                continue
            # When the request left: a REST line is written at its reply; a WebSocket handshake takes ~2 ms;
            # a close is at its own time (events logged before it reached the client before it closed).
            sent_rel = line["rel"] - (line["elapsed_ms"] / 1000.0 if kind == "rest" else 0.002 if kind == "ws-open" else 0.0)
            for label, expected in result.expected_events.items():
                before = sum(1 for e in lines[:i] if e["kind"] == "ws" and e["app"] == label and e["rel"] < sent_rel)
                assert wait_until(lambda: len(clients[label].events) >= before), f"{label}: event {before} never came"
            if i in natural_ends:
                playback_id = theirs_to_ours.get(natural_ends[i], natural_ends[i])
                if playback_id in emu.asterisk.playbacks:
                    emu.end_prompt(playback_id)
                continue
            if kind == "ws-open":
                clients[line["app"]] = WsClient(emu.url)
                result.expected_events.setdefault(line["app"], [])
                continue
            if kind == "ws-closed":
                if line["app"] in clients:
                    clients[line["app"]].close()
                continue
            url = urlsplit(line["url"])
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            if url.path == "/ari/channels" and line["method"] == "POST" and params.get("endpoint", "").startswith("Local/071@"):
                emu.place_call(_script(line, lines, i, scale, extensions))
                continue
            if url.path.startswith("/ari/asterisk/variable") or "(" in url.path:
                continue  # global variables and annotated URLs ("(wrong password)") are not replayed
            path = url.path
            for theirs, ours in theirs_to_ours.items():
                path = path.replace(theirs, ours)
            reply = rest.request(line["method"], path[len("/ari"):], list(params.items()), json_body=line.get("body"))
            if isinstance(reply.body, dict) and "/play" in path and reply.status == 201:
                theirs_to_ours[line["response"]["id"]] = reply.body["id"]
                ours_to_theirs[reply.body["id"]] = line["response"]["id"]
            result.exchanges.append(Exchange(
                line["method"], url.path,
                _normal_reply(line["method"], url.path, line["status"], line.get("response"), {}),
                _normal_reply(line["method"], url.path, reply.status, reply.body, ours_to_theirs),
            ))
        for label, expected in result.expected_events.items():
            wait_until(lambda: len(clients[label].events) >= len(expected), 2.0)
        result.expected_events = {k: normalize(v, {}) for k, v in result.expected_events.items()}
        result.got_events = {k: normalize(c.events, ours_to_theirs) for k, c in clients.items()}
    finally:
        for c in clients.values():
            c.close()
        rest.close()
        emu.stop()
    return result
