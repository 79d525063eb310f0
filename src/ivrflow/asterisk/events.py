"""ARI's event side: the one `/ari/events` WebSocket that carries every call's events.

websocket-client's low-level `WebSocket` runs over a socket made by gevent, so
it needs no monkey-patching; its own locks (real thread locks, which would block
every greenlet) are off, since only the pinger greenlet ever sends.

Liveness: a ping every `ping_interval`; a read that sees no frame at all (event,
pong) for `ping_interval + pong_timeout` declares the socket dead, so a silent
dead peer is noticed within seconds. Reconnects back off exponentially with
jitter up to `backoff_cap`; even after a clean close the next attempt waits, so
an Asterisk that accepts and closes at once is not hammered.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import gevent
import gevent.socket
import websocket

from .rest import Credentials

log = logging.getLogger("ivrflow.asterisk")


class _Dead(Exception):
    pass


def events_url(base_url: str, app: str) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/ari/events?" + urlencode({"app": app, "subscribeAll": "false"})


def backoff_delay(attempt: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Exponential with "equal jitter": between half and all of min(cap, base * 2**attempt), never zero."""
    ceiling = min(cap, base * float(2 ** min(attempt, 30)))
    return ceiling / 2 + rng() * ceiling / 2


class EventStream:
    def __init__(
        self,
        base_url: str,
        app: str,
        credentials: Credentials,
        on_event: Callable[[dict[str, Any]], None],
        *,
        on_up: Callable[[], None] = lambda: None,
        on_down: Callable[[], None] = lambda: None,
        ping_interval: float = 2.0,
        pong_timeout: float = 3.0,
        connect_timeout: float = 5.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        stable_after: float = 10.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.url = events_url(base_url, app)
        self._auth = credentials.basic_auth_header()
        self._on_event, self._on_up, self._on_down = on_event, on_up, on_down
        self.ping_interval, self.pong_timeout, self.connect_timeout = ping_interval, pong_timeout, connect_timeout
        self.backoff_base, self.backoff_cap, self.stable_after = backoff_base, backoff_cap, stable_after
        self._rng = rng
        self.connected = False
        self.connects = 0  # successful handshakes; every one after the first is a reconnect
        self.malformed = 0
        self.last_delay = 0.0
        self._ws: websocket.WebSocket | None = None
        self._stopping = False
        self._greenlet: gevent.Greenlet | None = None

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            self._ws.shutdown()
        if self._greenlet is not None:
            self._greenlet.kill()

    def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            started = time.monotonic()
            was_up = False
            try:
                was_up = self._session()
            except websocket.WebSocketBadStatusException as exc:
                log.warning("ARI refused the events WebSocket: HTTP %s", exc.status_code)
            except (websocket.WebSocketException, OSError, _Dead) as exc:
                if not self._stopping:
                    log.warning("ARI events WebSocket lost: %s", exc or type(exc).__name__)
            finally:
                if self.connected:
                    self.connected = False
                    self._on_down()
            if self._stopping:
                return
            if was_up and time.monotonic() - started >= self.stable_after:
                attempt = 0
            self.last_delay = backoff_delay(attempt, self.backoff_base, self.backoff_cap, self._rng)
            attempt += 1
            gevent.sleep(self.last_delay)

    def _session(self) -> bool:
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        sock = gevent.socket.create_connection((parts.hostname, port), self.connect_timeout)
        ws = websocket.WebSocket(enable_multithread=False)
        self._ws = ws
        pinger: gevent.Greenlet | None = None
        try:
            ws.connect(self.url, socket=sock, header=[f"Authorization: {self._auth}"], timeout=self.connect_timeout)
            ws.settimeout(self.ping_interval + self.pong_timeout)
            self.connects += 1
            self.connected = True
            log.info("ARI events WebSocket up (%s)", parts.netloc)
            self._on_up()
            pinger = gevent.spawn(self._ping, ws)
            self._read(ws)
            return True
        finally:
            if pinger is not None:
                pinger.kill(block=False)
            ws.shutdown()
            self._ws = None

    def _ping(self, ws: websocket.WebSocket) -> None:
        while True:
            gevent.sleep(self.ping_interval)
            try:
                ws.ping()
            except (websocket.WebSocketException, OSError):
                return

    def _read(self, ws: websocket.WebSocket) -> None:
        while not self._stopping:
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                raise _Dead(f"no frame and no pong for {self.ping_interval + self.pong_timeout:g} s") from None
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                log.info("ARI closed the events WebSocket")
                return
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue  # pong, ping (answered by the library), binary
            self._dispatch(frame.data)

    def _dispatch(self, data: bytes) -> None:
        try:
            event = json.loads(data)
            if not isinstance(event, dict) or not isinstance(event.get("type"), str):
                raise ValueError("not an event object")
        except ValueError as exc:
            self.malformed += 1
            log.warning("ARI sent a malformed event frame (%s): %r", exc, data[:120])
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("handling ARI event %s failed", event.get("type"))
