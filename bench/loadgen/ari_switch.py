"""A cheap Asterisk for the ARI bench: REST and the events WebSocket on one port, pre-rendered events out.

It plays what the emulated Asterisk (:mod:`ivrflow.testing`) plays for the
example menu's calls on ARI: StasisStart, ChannelStateChange on answer,
PlaybackStarted / PlaybackFinished around each prompt, ChannelDtmfReceived,
ChannelHangupRequest (16 from the caller, 32 soft for ARI's own hangup) and
StasisEnd; `continue` waits behind a playing prompt, as on Asterisk. Without
the emulator's model, h11 or wsproto: a request is split at its blank line, an
event is a template plus ``bytes.replace`` (see :mod:`.ari_frames`).

Callers are the ESL generator's (:data:`.switch.SCENARIOS`): keys a set time
after ``hello`` starts, the hang-up a set time after ``advertising`` starts.
Timers are ``spawn_later`` greenlets, killed when the call ends. All event
frames go through the one WebSocket's lock; each is written before the REST
reply that caused it, as Asterisk does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import gevent
import gevent.event
import gevent.lock
from gevent.server import StreamServer

from . import ari_frames as F
from .switch import HOLD_SECONDS, Scenario, Stats, caller_in_prompt

PC = time.perf_counter
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass(slots=True)
class AriStats(Stats):
    """The ESL generator's numbers, plus what only ARI has."""

    first_key_ms: list[float] = field(default_factory=list)  # first key -> DELETE /playbacks (no barge-in on Asterisk)
    requests: int = 0
    late_requests: int = 0  # REST about a call after its StasisEnd


def _reply(status: int, reason: str, body: Any = None) -> bytes:
    payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    head = f"HTTP/1.1 {status} {reason}\r\nServer: Asterisk/22.10.1\r\nContent-Length: {len(payload)}\r\n"
    if payload:
        head += "Content-Type: application/json\r\n"
    return head.encode() + b"\r\n" + payload


NO_CONTENT = _reply(204, "No Content")
NOT_FOUND = _reply(404, "Not Found", {"message": "Resource not found"})
NO_CHANNEL = _reply(404, "Not Found", {"message": "Channel not found"})
NO_PLAYBACK = _reply(404, "Not Found", {"message": "Playback not found"})
NOT_IN_STASIS = _reply(409, "Conflict", {"message": "Channel not in Stasis application"})


@dataclass(slots=True)
class _Playback:
    id: bytes
    media: bytes
    sound: str
    timer: gevent.Greenlet | None = None


class AriCall:
    def __init__(self, switch: AriSwitch, channel_id: str, scenario: Scenario) -> None:
        self.sw = switch
        self.id = channel_id
        self.id_b = channel_id.encode()
        self.s = scenario
        self.stats = switch.stats
        self.in_stasis = True
        self.playing: _Playback | None = None
        self.queued: list[_Playback] = []
        self.continue_to = ""
        self.outcome = ""
        self.timers: list[gevent.Greenlet] = []
        self.ended = gevent.event.Event()
        self.t0 = 0.0
        self.first_request = True
        self.setup_counted = False
        self.key_at = 0.0  # a key that must cause a command: when it was written
        self.first_key_at = 0.0  # the key that must stop the greeting
        self.held = False

    def start(self) -> None:
        self.stats.started += 1
        self.t0 = PC()
        self.sw.send(F.event(self.sw.t.stasis_start, self.id_b))

    def _later(self, seconds: float, fn, *args) -> None:  # type: ignore[no-untyped-def]
        self.timers.append(gevent.spawn_later(seconds, fn, *args))

    # --- REST -----------------------------------------------------------------

    def saw_request(self) -> bool:
        """Times a request about this call (the first one, the one a key caused); False after StasisEnd."""
        now = PC()
        if not self.in_stasis:
            self.stats.late_requests += 1
            return False
        if self.first_request:
            self.first_request = False
            self.stats.accept_ms.append((now - self.t0) * 1000)
            self._setup_done()
        if self.key_at:
            self.stats.key_ms.append((now - self.key_at) * 1000)
            self.key_at = 0.0
        return True

    def request(self, method: str, action: str, params: dict[str, str], playback: str = "") -> bytes:
        if not self.saw_request():
            return NOT_IN_STASIS if method == "POST" else NO_CHANNEL
        if method == "POST" and action == "answer":
            self.sw.send(F.event(self.sw.t.state_up, self.id_b))
            return NO_CONTENT
        if method == "POST" and action == "play":
            return self._play(playback, params.get("media", ""))
        if method == "POST" and action == "continue":
            self.continue_to = params.get("extension", "?")
            if self.playing is None:
                self._leave("transfer:" + self.continue_to)
            return NO_CONTENT
        if method == "DELETE" and action == "":
            self._hangup(self.sw.t.hangup_by_ari, "hangup")
            return NO_CONTENT
        if method == "POST" and action == "variable":
            return NO_CONTENT
        return NOT_FOUND

    def _play(self, playback_id: str, media: str) -> bytes:
        sound = media.rsplit("/", 1)[-1]
        pb = _Playback(playback_id.encode(), media.partition(":")[2].encode(), sound)
        self.sw.playbacks[playback_id] = self
        if self.playing is None:
            self._start(pb)
        else:
            self.queued.append(pb)
        return _reply(201, "Created", {
            "id": playback_id, "media_uri": media, "target_uri": f"channel:{self.id}", "language": "en",
            "state": "playing" if self.playing is pb else "queued",
        })

    def _start(self, pb: _Playback) -> None:
        self.playing = pb
        # Asterisk is given the file without its extension.
        seconds = caller_in_prompt(self.s, pb.sound + ".wav", self._later, self._key, self.release)
        if seconds == HOLD_SECONDS and not self.held:
            self.held = True
            self.stats.held += 1
        self.sw.send(F.event(self.sw.t.playback_started, self.id_b, pb.id, pb.media))
        pb.timer = gevent.spawn_later(seconds, self._finish, pb)
        self.timers.append(pb.timer)

    def _finish(self, pb: _Playback) -> None:
        """The prompt played out, or was stopped (DELETE /playbacks): PlaybackFinished, then what waited."""
        if self.playing is not pb:
            return
        self.playing = None
        if pb.timer is not None and pb.timer is not gevent.getcurrent():
            pb.timer.kill(block=False)
        self.sw.playbacks.pop(pb.id.decode(), None)
        self.sw.send(F.event(self.sw.t.playback_done, self.id_b, pb.id, pb.media))
        if self.continue_to:
            self._leave("transfer:" + self.continue_to)
        elif self.queued:
            self._start(self.queued.pop(0))

    def stop_playback(self, playback_id: str) -> bytes:
        if self.first_key_at:
            self.stats.first_key_ms.append((PC() - self.first_key_at) * 1000)
            self.first_key_at = 0.0
        pb = self.playing
        if pb is not None and pb.id == playback_id.encode():
            self._finish(pb)
            return NO_CONTENT
        for queued in self.queued:
            if queued.id == playback_id.encode():
                self.queued.remove(queued)
                self.sw.playbacks.pop(playback_id, None)
                return NO_CONTENT
        return NO_PLAYBACK

    # --- the caller -------------------------------------------------------------

    def _key(self, digit: str, expect: bool) -> None:
        if not self.in_stasis:
            return
        self.sw.send(F.event(self.sw.t.dtmf[digit], self.id_b))
        now = PC()
        if expect:
            self.key_at = now
        elif self.playing is not None and self.playing.sound == "hello" and not self.first_key_at:
            self.first_key_at = now

    def release(self) -> None:
        """The caller hangs up (a held one, or one in the advertisement)."""
        self._hangup(self.sw.t.hangup_by_caller, "hangup")

    def _hangup(self, request_event: bytes, outcome: str) -> None:
        if not self.in_stasis:
            return
        frames = [F.event(request_event, self.id_b)]
        pb, self.playing = self.playing, None
        if pb is not None:
            frames.append(F.event(self.sw.t.playback_failed, self.id_b, pb.id, pb.media))
        self.sw.send(b"".join(frames))
        self._leave(outcome)

    def _leave(self, outcome: str) -> None:
        if not self.in_stasis:
            return
        self.in_stasis = False
        self.outcome = outcome
        self.sw.send(F.event(self.sw.t.stasis_end, self.id_b))
        self.end()

    def _setup_done(self) -> None:
        """Once a call: the hold ramp's gate counts each call's setup once, whichever way it ends."""
        if not self.setup_counted:
            self.setup_counted = True
            self.sw.setup_done()

    def end(self) -> None:
        """StasisEnd was sent (or the run's deadline came): count the call once."""
        if self.ended.is_set():
            return
        self.ended.set()
        for g in self.timers:
            if g is not gevent.getcurrent():
                g.kill(block=False)
        for pb in [self.playing, *self.queued]:
            if pb is not None:
                self.sw.playbacks.pop(pb.id.decode(), None)
        self.sw.calls.pop(self.id, None)
        self._setup_done()  # a call that ended before its first request frees its place in the ramp too
        st = self.stats
        st.finished += 1
        if self.held:
            st.held -= 1
        if self.in_stasis:
            st.left_open += 1
            st.problem(f"{self.s.name}: still in Stasis at the deadline")
        elif self.outcome != self.s.expect:
            st.lost += 1
            st.problem(f"{self.s.name}: ended as {self.outcome}")
        st.outcomes[self.outcome or "none"] = st.outcomes.get(self.outcome or "none", 0) + 1


class AriSwitch:
    """The HTTP server: REST requests on keep-alive connections, and the app's one events WebSocket."""

    def __init__(self, app: str = F.APP, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.t = F.render()
        self.stats = AriStats()
        self.calls: dict[str, AriCall] = {}
        self.playbacks: dict[str, AriCall] = {}
        self.on_setup: gevent.lock.BoundedSemaphore | None = None  # released per call at its first request
        self._ws: socket.socket | None = None
        self._ws_lock = gevent.lock.Semaphore()
        self.connected = gevent.event.Event()
        self._server = StreamServer((host, port), self._serve)

    def start(self) -> AriSwitch:
        self._server.start()
        return self

    @property
    def port(self) -> int:
        return int(self._server.address[1])

    def send(self, frames: bytes) -> None:
        sock = self._ws
        if sock is None:
            return
        with self._ws_lock:
            try:
                sock.sendall(frames)
            except OSError:
                self._ws = None

    def setup_done(self) -> None:
        if self.on_setup is not None:
            self.on_setup.release()

    # --- connections ------------------------------------------------------------

    def _serve(self, sock: socket.socket, address: object) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        try:
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buf += data
                    continue
                head, buf = buf[:end].decode("latin-1"), buf[end + 4 :]
                lines = head.split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                if headers.get("upgrade", "").lower() == "websocket":
                    self._websocket(sock, headers, buf)
                    return
                length = int(headers.get("content-length", "0"))
                while len(buf) < length:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buf += data
                body, buf = buf[:length], buf[length:]
                sock.sendall(self._rest(lines[0], body))
        except OSError:
            pass
        finally:
            sock.close()

    def _rest(self, request_line: str, body: bytes) -> bytes:
        self.stats.requests += 1
        method, target, _ = request_line.split(" ", 2)
        path, _, query = target.partition("?")
        params = dict(parse_qsl(query, keep_blank_values=True))
        if body:
            params.update(json.loads(body))
        parts = path.split("/")  # "", "ari", resource, id, action[, sub-id]
        resource = parts[2] if len(parts) > 2 else ""
        if resource == "channels" and len(parts) >= 4:
            call = self.calls.get(parts[3])
            if call is None:
                return NO_CHANNEL
            return call.request(method, parts[4] if len(parts) > 4 else "", params, parts[5] if len(parts) > 5 else "")
        if resource == "playbacks" and len(parts) == 4 and method == "DELETE":
            call = self.playbacks.get(parts[3])
            if call is None:
                return NO_PLAYBACK
            call.saw_request()
            return call.stop_playback(parts[3])
        if resource == "applications" and method == "GET":
            return _reply(200, "OK", {"name": self.app, "channel_ids": [c.id for c in self.calls.values() if c.in_stasis],
                                      "bridge_ids": [], "endpoint_ids": [], "device_names": [],
                                      "events_allowed": [], "events_disallowed": []})
        if resource == "bridges" and method == "GET":
            return _reply(200, "OK", [])
        return NOT_FOUND

    def _websocket(self, sock: socket.socket, headers: dict[str, str], buf: bytes) -> None:
        key = headers.get("sec-websocket-key", "").encode()
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
        )
        self._ws = sock
        self.connected.set()
        try:
            self._read_frames(sock, buf)
        finally:
            if self._ws is sock:
                self._ws = None
            self.connected.clear()

    def _read_frames(self, sock: socket.socket, buf: bytes) -> None:
        """The client's frames (masked): pings are answered, a close ends the socket, the rest is ignored."""
        while True:
            while len(buf) < 2 or len(buf) < _frame_size(buf):
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
            size = _frame_size(buf)
            frame, buf = buf[:size], buf[size:]
            opcode, payload = frame[0] & 0x0F, _unmask(frame)
            if opcode == 0x9:
                with self._ws_lock:
                    sock.sendall(bytes((0x8A, len(payload))) + payload)
            elif opcode == 0x8:
                with self._ws_lock:
                    sock.sendall(b"\x88\x00")
                return

    # --- calls ------------------------------------------------------------------

    def place(self, channel_id: str, scenario: Scenario) -> AriCall:
        call = AriCall(self, channel_id, scenario)
        self.calls[channel_id] = call
        call.start()
        return call


def _frame_size(buf: bytes) -> int:
    """Bytes the frame at the start of `buf` takes (header, mask, payload); a guess of 14 until the header is in."""
    n = buf[1] & 0x7F
    head = 2
    if n == 126:
        if len(buf) < 4:
            return 14
        n, head = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        if len(buf) < 10:
            return 14
        n, head = struct.unpack("!Q", buf[2:10])[0], 10
    return head + (4 if buf[1] & 0x80 else 0) + n


def _unmask(frame: bytes) -> bytes:
    n = frame[1] & 0x7F
    head = 2 + (2 if n == 126 else 8 if n == 127 else 0)
    if not frame[1] & 0x80:
        return frame[head:]
    mask, payload = frame[head : head + 4], frame[head + 4 :]
    return bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
