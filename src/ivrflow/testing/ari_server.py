"""The emulated Asterisk's HTTP server: ARI's REST resources and the `/ari/events` WebSocket on one port.

HTTP/1.1 is parsed by h11 and WebSocket framing by wsproto, both sans-I/O
libraries of the python-hyper project: they leave all I/O to gevent's sockets,
so nothing here fights gevent's monkey-patching, and neither is a server
framework we would have to bend (gevent-websocket, the gevent-native choice,
has had no release since 2017). One port serves both, as Asterisk's does.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import gevent
import gevent.lock
import h11
from gevent.server import StreamServer
from gevent.socket import socket as GeventSocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Ping, RejectConnection, RejectData, Request, TextMessage

from .ari_model import AriError, Asterisk
from .ari_rest import Rest

log = logging.getLogger("ivrflow.testing.ari")
Json = dict[str, Any]

# The bodies of Asterisk's refused handshakes (08i): its JSON for a bad key, its HTML error page for no app.
_REJECTIONS = {
    401: (b"application/json", b'{"message":"Authentication required"}'),
    400: (b"text/html", (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\r\n<html><head>\r\n<title>400 Bad Request</title>\r\n'
        "</head><body>\r\n<h1>Bad Request</h1>\r\n<p>HTTP request is missing param: [app]</p>\r\n<hr />\r\n"
        "<address>Asterisk/22.10.1</address>\r\n</body></html>\r\n"
    ).encode()),
}


class EventSocket:
    """One accepted `/ari/events` WebSocket."""

    def __init__(self, sock: GeventSocket, ws: WSConnection, app: str, wire_log: list[tuple[str, str]]) -> None:
        self.sock = sock
        self._wire_log = wire_log
        self.ws = ws
        self.app = app
        self.silent = False  # dropped without a close: no events, no pongs
        self.open = True
        self.frames_sent = 0
        self._lock = gevent.lock.Semaphore()

    def send_bytes(self, data: bytes) -> bool:
        with self._lock:
            if not self.open or self.silent:
                return False
            try:
                self.sock.sendall(data)
            except OSError:
                self.open = False
                return False
            return True

    def send_event(self, event: Json) -> bool:
        text = json.dumps(event, separators=(",", ":"))
        if self.send_bytes(self.ws.send(TextMessage(data=text))):
            self.frames_sent += 1
            self._wire_log.append(("event", str(event.get("type"))))
            return True
        return False

    def close_abruptly(self) -> None:
        self.open = False
        try:
            self.sock.shutdown(2)
        except OSError:
            pass
        self.sock.close()


class AriServer:
    def __init__(self, ast: Asterisk, rest: Rest, user: str, password: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.ast = ast
        self.rest = rest
        self._credentials = f"{user}:{password}"
        self.sockets: list[EventSocket] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # every REST call: method, path, params
        # What was written to clients, in order: ("event", type) and ("reply", "METHOD /path").
        self.wire_log: list[tuple[str, str]] = []
        self.on_request: Callable[[str, str, dict[str, str]], None] | None = None
        self.close_on_accept = False
        self._server = StreamServer((host, port), self._serve)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        for s in self.sockets:
            s.close_abruptly()
        self._server.stop(timeout=1)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.address[:2]
        return host, port

    def _authorized(self, headers: dict[str, str], params: dict[str, str]) -> bool:
        if params.get("api_key") == self._credentials:
            return True
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                return base64.b64decode(auth[6:]).decode() == self._credentials
            except ValueError:
                return False
        return False

    def _serve(self, sock: GeventSocket, address: object) -> None:
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                sock.close()
                return
            buf += data
        head = buf.split(b"\r\n\r\n", 1)[0].lower()
        try:
            if b"\r\nupgrade: websocket" in head:
                self._serve_websocket(sock, buf)
            else:
                self._serve_http(sock, buf)
        except OSError:
            pass
        finally:
            sock.close()

    # --- REST ---------------------------------------------------------------

    def _serve_http(self, sock: GeventSocket, buf: bytes) -> None:
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(buf)
        request: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = sock.recv(65536)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                request, body = event, b""
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                status, reply = self._dispatch(request, body)
                self.wire_log.append(("reply", f"{request.method.decode()} {urlsplit(request.target.decode()).path}"))
                payload = b"" if reply is None else json.dumps(reply, separators=(",", ":")).encode()
                headers = [("Server", "Asterisk/22.10.1"), ("Content-Length", str(len(payload)))]
                if payload:
                    headers.append(("Content-Type", "application/json"))
                # One write: a head and a body written apart wait ~40 ms on Nagle and the client's
                # delayed ACK, which made every emulated REST request take that long.
                reply_bytes = conn.send(h11.Response(status_code=status, headers=headers)) or b""
                reply_bytes += (conn.send(h11.Data(data=payload)) if payload else b"") + (conn.send(h11.EndOfMessage()) or b"")
                sock.sendall(reply_bytes)
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return

    def _dispatch(self, request: h11.Request, body: bytes) -> tuple[int, Any]:
        url = urlsplit(request.target.decode())
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        if not self._authorized(headers, params):
            return 401, {"message": "Authentication required"}
        if body:
            try:
                loaded = json.loads(body)
            except ValueError:
                return 400, {"message": "Malformed JSON body"}
            if isinstance(loaded, dict):
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in loaded.items()})
        method, path = request.method.decode(), url.path
        params.pop("api_key", None)
        self.requests.append((method, path, params))
        if self.on_request is not None:
            self.on_request(method, path, params)
        if not path.startswith("/ari/"):
            return 404, {"message": "Resource not found"}
        try:
            return self.rest.handle(method, path[len("/ari/"):], params)
        except AriError as exc:
            return exc.status, exc.body

    # --- events WebSocket ---------------------------------------------------

    def _serve_websocket(self, sock: GeventSocket, buf: bytes) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        ws.receive_data(buf)
        request = next((e for e in ws.events() if isinstance(e, Request)), None)
        if request is None:
            return
        url = urlsplit(request.target)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {k.decode().lower(): v.decode() for k, v in request.extra_headers}
        status = 0
        if url.path != "/ari/events":
            status = 404
        elif not self._authorized(headers, params):
            status = 401
        elif not params.get("app"):
            status = 400
        if status:
            content_type, page = _REJECTIONS.get(status, (b"", b""))
            headers_out = [(b"Content-Type", content_type), (b"Content-Length", str(len(page)).encode())] if page else []
            sock.sendall(ws.send(RejectConnection(status_code=status, headers=headers_out, has_body=bool(page))))
            if page:
                sock.sendall(ws.send(RejectData(data=page)))
            return
        sock.sendall(ws.send(AcceptConnection()))
        if self.close_on_accept:
            sock.sendall(ws.send(CloseConnection(code=1000)))
            return
        conn = EventSocket(sock, ws, params["app"], self.wire_log)
        self.sockets.append(conn)
        for app in params["app"].split(","):
            self.ast.attach(app, conn.send_event)
        try:
            self._read_frames(conn)
        finally:
            conn.open = False
            for app in params["app"].split(","):
                self.ast.detach(app, conn.send_event)

    def _read_frames(self, conn: EventSocket) -> None:
        while conn.open:
            data = conn.sock.recv(65536)
            if not data:
                return
            conn.ws.receive_data(data)
            for event in conn.ws.events():
                if isinstance(event, Ping) and not conn.silent:
                    conn.send_bytes(conn.ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    conn.send_bytes(conn.ws.send(event.response()))
                    return
