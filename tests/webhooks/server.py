"""A webhook server on loopback for the client's tests: each path is one behaviour."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import gevent
import gevent.event
import gevent.socket
from gevent.pywsgi import WSGIServer

StartResponse = Callable[[str, list[tuple[str, str]]], object]
Environ = dict[str, object]


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    client_port: int


@dataclass
class WebhookServer:
    routes: dict[str, Callable[[Environ], tuple[str, list[tuple[str, str]], bytes]]]
    host: str = "127.0.0.1"
    seen: list[Seen] = field(default_factory=list)
    in_progress: int = 0
    most_in_progress: int = 0
    arrived: gevent.event.Event = field(default_factory=gevent.event.Event)
    port: int = 0
    scheme: str = "http"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def app(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ["PATH_INFO"])
        length = int(str(environ.get("CONTENT_LENGTH") or 0))
        body = environ["wsgi.input"].read(length) if length else b""  # type: ignore[attr-defined]
        self.seen.append(
            Seen(
                str(environ["REQUEST_METHOD"]), path, parse_qsl(str(environ.get("QUERY_STRING", ""))),
                parse_qsl(body.decode()), int(str(environ["REMOTE_PORT"])),
            )
        )
        self.arrived.set()
        self.in_progress += 1
        self.most_in_progress = max(self.most_in_progress, self.in_progress)
        try:
            status, headers, reply = self.routes.get(path, lambda _: ("404 Not Found", [], b"no such path"))(environ)
        finally:
            self.in_progress -= 1
        start_response(status, headers + [("Content-Length", str(len(reply)))])
        return [reply]


def xml(body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    return "200 OK", [("Content-Type", "application/xml")], body


def sleeping(seconds: float, body: bytes = b"<Response/>") -> Callable[[Environ], tuple[str, list[tuple[str, str]], bytes]]:
    def route(_: Environ) -> tuple[str, list[tuple[str, str]], bytes]:
        gevent.sleep(seconds)
        return xml(body)

    return route


@contextmanager
def serving(server: WebhookServer, tls: ssl.SSLContext | None = None) -> Iterator[WebhookServer]:
    """With `tls`, it serves https."""
    options = {} if tls is None else {"ssl_context": tls}
    listener = gevent.socket.socket()
    # Accepted sockets inherit it: pywsgi writes headers and body apart, and Nagle would hold the body 40 ms.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.bind((server.host, 0))
    listener.listen(1024)
    wsgi = WSGIServer(listener, server.app, log=None, error_log=None, **options)
    wsgi.start()
    server.port = wsgi.server_port
    server.scheme = "https" if tls is not None else "http"
    try:
        yield server
    finally:
        wsgi.stop(timeout=0.1)
