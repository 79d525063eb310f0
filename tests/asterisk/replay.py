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

import codecs
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import gevent
import gevent.socket
import websocket

from ivrflow.asterisk.rest import AriRest, Credentials
from ivrflow.testing.ari_local import caller_id
from ivrflow.testing.ari_emulator import AriEmulator
from ivrflow.testing.ari_script import AriCallScript, DialOutcome

from .transcripts import Line, normalize

CREDENTIALS = Credentials("ivr", "ivrsecret")
SOUNDS = ("advertising", "tone10s", "hello")  # the capture's sounds directory, in the order Asterisk listed it
# How the targets 04f dials with /channels/create + /dial behave: their dialplan, as a dial outcome.
DIALED = {
    "Local/002@targets-delay": DialOutcome("answer", ring_seconds=4.0, talk_seconds=1e6),
    "Local/003@targets-noanswer": DialOutcome("no_answer", ring_seconds=60.0),
}
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
    # The dialplan-only callers (02b, 05b, 06b). What follows their Answer or SendDTMF is not in the
    # capture, which shows only that they stay on the line until the other side hangs up.
    ("caller", "wait"): (("Answer", ""), ("Wait", "60")),
    ("caller", "dtmf2"): (("Answer", ""), ("Wait", "2"), ("SendDTMF", "2,250"), ("Wait", "60")),
    **{("targets", exten): _TARGET for exten in ("002", "0049301234", "+4930123456", "+4930555")},
    # 04g's dialed targets: one answers after 4 s, one rings on.
    ("targets-delay", "+4930555"): (
        ("NoOp", "TARGET-DELAY ringing exten=${EXTEN} chan=${CHANNEL(name)}"), ("Ringing", ""), ("Wait", "4"),
        ("Goto", "targets,${EXTEN},1"),
    ),
    ("targets-noanswer", "004"): (("Ringing", ""), ("Wait", "60")),
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


def _script(line: Line, lines: list[Line], i: int, scale: float, extensions: frozenset[tuple[str, str]]) -> AriCallScript:
    params = dict(parse_qsl(urlsplit(line["url"]).query))
    ivr_id = params.get("otherChannelId") or next(
        later["event"]["channel"]["id"] for later in lines[i:]
        if later["kind"] == "ws" and later["event"]["type"] == "StasisStart" and later["app"] == "ivrflow"
    )
    name, number = caller_id(params.get("callerId", ""))
    variables = {k.lstrip("_"): v for k, v in ((line.get("body") or {}).get("variables") or {}).items()}
    return AriCallScript(
        channel_id=ivr_id, caller_name=name, caller_number=number, variables={**variables, "IVR_DNIS": "071"},
        default_sound_seconds=1e6, missing_sounds=MISSING, extensions=extensions, dialplan=DIALPLAN, time_scale=scale,
        caller_leg_id=params.get("channelId") or line["response"]["id"], caller_leg_app=params.get("app"),
        caller_leg_dialplan=None if "app" in params else (params["context"], params["extension"]),
    )


def _normal_reply(method: str, path: str, status: int, body: Any, ids: dict[str, str]) -> tuple[int, Any]:
    if path.startswith("/ari/applications") and isinstance(body, list):
        body = [app for app in body if app["name"] == "ivrflow"]  # ivrcaller's subscriptions are not emulated
    if method == "POST" and "/play" in path and isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "state"}  # "queued" or already "playing": a race
    return status, normalize(body, ids)


def _before(event: Line, request: Line, sent_rel: float) -> bool:
    """Whether `event` reached the client before `request` left.

    The capture's clocks (the socket's reader, the REST caller) disagree by a
    few ms: an event about the very channel a request acts on, stamped just
    before the request, is that request's own effect (04f's answer).
    """
    if event["rel"] >= sent_rel:
        return False
    channel = (event["event"].get("channel") or {}).get("id", "")
    own = request["kind"] == "rest" and channel and f"/channels/{channel}/" in request["url"]
    return not (own and event["rel"] > sent_rel - CLOCK_SKEW)


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


_HANDSHAKE = re.compile(r"^WS (with bad api_key|without app) rejected: .*Handshake status (\d+) .* -\+-\+- (.*)'\)$")
_HANDSHAKE_QUERY = {"with bad api_key": "app=ivrflow&api_key=ivr:wrong", "without app": f"api_key={CREDENTIALS.user}:{CREDENTIALS.password}"}
DIALPLAN_SCALE = 0.2
CLOCK_SKEW = 0.002
CLEANUP = "cleanup (not part of scenario)"
CLEANUP_SECONDS = 0.05  # the capture's client hangs up what is left in a few ms, then writes the note


def _body(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _handshake(base_url: str, query: str) -> tuple[int, Any]:
    """A refused `/ari/events` handshake: its HTTP status and body."""
    host, port = urlsplit(base_url).netloc.split(":")
    sock = gevent.socket.create_connection((host, int(port)), 5)
    try:
        websocket.WebSocket(enable_multithread=False).connect(f"ws://{host}:{port}/ari/events?{query}", socket=sock)
    except websocket.WebSocketBadStatusException as exc:
        return exc.status_code, _body((exc.resp_body or b"").decode())
    finally:
        sock.close()
    return 101, None


def _expected_handshake(line: Line) -> tuple[str, tuple[int, Any]] | None:
    m = _HANDSHAKE.match(line.get("text", "")) if line["kind"] == "note" else None
    if m is None:
        return None
    # The note holds websocket-client's repr of the reply: its body with Python's escapes.
    body = codecs.decode(m.group(3).encode(), "unicode_escape")
    return _HANDSHAKE_QUERY[m.group(1)], (int(m.group(2)), _body(body))


def _cleanup(emu: AriEmulator, rest: AriRest) -> None:
    """What the capture's client hangs up after a scenario: every channel left, one DELETE each.

    The channels in ivrflow's Stasis first: the capture shows them hung up by
    ARI itself (cause 32, soft), not by their Local peer going (cause 16).
    """
    channels = sorted(emu.asterisk.channels.values(), key=lambda ch: ch.app != "ivrflow")
    for ch in channels:
        if ch.alive:
            rest.request("DELETE", f"/channels/{ch.id}")


def _sender(line: Line, rest: AriRest, anonymous: AriRest, wrong_password: AriRest) -> AriRest | None:
    """Which client sent a REST line: an expected 401 went without credentials or with a wrong password."""
    url = line["url"]
    if url.endswith(" (wrong password)"):
        return wrong_password
    if "(" in url:
        return None  # another annotated URL: not replayed
    return anonymous if line["status"] == 401 else rest


def replay(
    lines: list[Line], *, scale: float = 0.05, extensions: frozenset[tuple[str, str]] = frozenset(),
    emulator: AriEmulator | None = None,
) -> Replay:
    result = Replay()
    # The legs the client originates run the capture's dialplan. Its waits (Answer's half second, Wait())
    # keep a fifth of their length: far longer than the few ms a replayed request takes, as in the capture.
    emu = (emulator or AriEmulator(sounds=SOUNDS, leg_script=lambda: AriCallScript(
        extensions=extensions, dialplan=DIALPLAN, default_sound_seconds=1e6, time_scale=DIALPLAN_SCALE,
        dial_outcomes=DIALED,
    ))).start()
    result.emulator = emu
    rest = AriRest(emu.url, CREDENTIALS)
    anonymous = AriRest(emu.url, CREDENTIALS)
    del anonymous._session.headers["Authorization"]  # a client that sends no credentials at all
    wrong_password = AriRest(emu.url, Credentials(CREDENTIALS.user, "wrong"))
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
            handshake = _expected_handshake(line)
            cleanup = kind == "note" and line["text"].startswith(CLEANUP)
            if kind not in ("rest", "ws-open", "ws-closed") and i not in natural_ends and handshake is None and not cleanup:
                continue
            # When the request left: a REST line is written at its reply; a WebSocket handshake takes ~2 ms;
            # a close is at its own time (events logged before it reached the client before it closed).
            if kind == "rest":
                sent_rel = line["rel"] - line.get("elapsed_ms", 0.0) / 1000.0
            elif cleanup:
                sent_rel = line["rel"] - CLEANUP_SECONDS
            else:
                sent_rel = line["rel"] - (0.002 if kind == "ws-open" or handshake is not None else 0.0)
            for label, expected in result.expected_events.items():
                before = sum(1 for e in lines[:i] if e["kind"] == "ws" and e["app"] == label and _before(e, line, sent_rel))
                assert wait_until(lambda: len(clients[label].events) >= before), f"{label}: event {before} never came"
            if i in natural_ends:
                playback_id = theirs_to_ours.get(natural_ends[i], natural_ends[i])
                if playback_id in emu.asterisk.playbacks:
                    emu.end_prompt(playback_id)
                continue
            if handshake is not None:
                query, expected_reply = handshake
                result.exchanges.append(Exchange("GET", f"/ari/events?{query}", expected_reply, _handshake(emu.url, query)))
                continue
            if cleanup:
                _cleanup(emu, rest)
                continue
            if kind in ("ws-open", "ws-closed") and not line["app"].startswith("ivrflow"):
                continue  # only ivrflow's sockets are replayed
            if kind == "ws-open":
                clients[line["app"]] = WsClient(emu.url)
                result.expected_events.setdefault(line["app"], [])
                continue
            if kind == "ws-closed":
                if line["app"] in clients:
                    clients[line["app"]].close()
                continue
            url = urlsplit(line["url"].removesuffix(" (wrong password)"))
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            if (url.path, line["method"], line["status"]) == ("/ari/channels", "POST", 200) and params.get("endpoint", "").startswith("Local/071@"):
                emu.place_call(_script(line, lines, i, scale, extensions))
                continue
            sender = _sender(line, rest, anonymous, wrong_password)
            if url.path.startswith("/ari/asterisk/variable") or sender is None:
                continue  # global variables and annotated URLs are not replayed
            path = url.path
            for theirs, ours in theirs_to_ours.items():
                path = path.replace(theirs, ours)
            reply = sender.request(line["method"], path[len("/ari"):], list(params.items()), json_body=line.get("body"))
            theirs = line.get("response")
            if line["method"] == "POST" and isinstance(reply.body, dict) and "id" in reply.body and isinstance(theirs, dict):
                # What the POST made (a playback, channel or bridge) under an id Asterisk chose.
                theirs_to_ours[theirs["id"]] = reply.body["id"]
                ours_to_theirs[reply.body["id"]] = theirs["id"]
            # A line the capture wrote without its reply's body is compared by status alone.
            got_body = reply.body if "response" in line else None
            result.exchanges.append(Exchange(
                line["method"], url.path,
                _normal_reply(line["method"], url.path, line["status"], line.get("response"), {}),
                _normal_reply(line["method"], url.path, reply.status, got_body, ours_to_theirs),
            ))
        for label, expected in result.expected_events.items():
            wait_until(lambda: len(clients[label].events) >= len(expected), 2.0)
        result.expected_events = {k: normalize(v, {}) for k, v in result.expected_events.items()}
        result.got_events = {k: normalize(c.events, ours_to_theirs) for k, c in clients.items()}
    finally:
        for c in clients.values():
            c.close()
        for client in (rest, anonymous, wrong_password):
            client.close()
        emu.stop()
    return result
