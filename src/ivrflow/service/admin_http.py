"""The small HTTP listener: /metrics, /healthz, /readyz and POST /-/reload.

It shares the process with the calls, so it is bounded: at most
MAX_CONNECTIONS at once (more wait in the kernel's backlog, holding no file
descriptor of ours), a request's line and headers must arrive within
HEADER_TIMEOUT, and a connection idle for IDLE_TIMEOUT is closed.

A reload changes what every new call hears, so POST /-/reload needs either the
configured token (`Authorization: Bearer ...`) or, without one, a request from
the loopback, addressed to a loopback host, with a content type a browser
cannot send across origins without asking first (e.g. application/json).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

import gevent
import gevent.pool
from gevent.pywsgi import WSGIHandler, WSGIServer
from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[..., Any]

MAX_CONNECTIONS = 64
HEADER_TIMEOUT = 5.0  # seconds for a request line and its headers
IDLE_TIMEOUT = 10.0  # seconds any read or write may wait
# Content types a cross-origin page may POST without a CORS preflight.
SIMPLE_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


class AdminApp:
    def __init__(
        self,
        registry: CollectorRegistry,
        readiness: Callable[[], list[str]],
        reload: Callable[[], tuple[bool, list[str]]],
        token: str = "",
        detail: Callable[[], dict[str, str]] = dict,
    ) -> None:
        self._detail = detail
        self._metrics = make_wsgi_app(registry)
        self._readiness = readiness
        self._reload = reload
        self._token = token

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/metrics":
            return self._metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _reply(start_response, 200, {"status": "alive"})
        if path == "/readyz":
            problems = self._readiness()
            return _reply(start_response, 503 if problems else 200, {"ready": not problems, "problems": problems, **self._detail()})
        if path == "/-/reload":
            if method != "POST":
                return _reply(start_response, 405, {"error": "use POST"})
            refusal = self._refusal(environ)
            if refusal:
                return _reply(start_response, 403, {"reloaded": False, "messages": [refusal]})
            try:
                ok, messages = self._reload()
            except Exception as exc:  # the daemon answers every reload; this keeps the reply JSON regardless
                logging.getLogger("ivrflow.http").exception("reload request failed")
                return _reply(start_response, 500, {"reloaded": False, "messages": [f"reload failed: {exc!r}"]})
            return _reply(start_response, 200 if ok else 422, {"reloaded": ok, "messages": messages})
        return _reply(start_response, 404, {"error": f"no such path {path}"})

    def _refusal(self, environ: dict[str, Any]) -> str:
        """Why this reload request is not allowed ('' if it is)."""
        if self._token:
            given = environ.get("HTTP_AUTHORIZATION", "")
            if hmac.compare_digest(given.encode(), f"Bearer {self._token}".encode()):
                return ""
            return "reload needs 'Authorization: Bearer <token>' with the configured admin token"
        if not _is_loopback(environ.get("REMOTE_ADDR", "")):
            return "reload is allowed from the loopback only (or configure an admin token)"
        if not _is_loopback_host(environ.get("HTTP_HOST", "")):
            return "reload must be addressed to a loopback host (127.0.0.1, [::1] or localhost)"
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if not content_type or content_type in SIMPLE_CONTENT_TYPES:
            return "reload needs a Content-Type such as application/json (ivrflow reload sends one)"
        return ""


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _is_loopback_host(host: str) -> bool:
    # A host name other than localhost could be an attacker's, resolving to 127.0.0.1 (DNS rebinding).
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    return name == "localhost" or _is_loopback(name)


REASONS = {
    200: "OK", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 422: "Unprocessable Entity",
    500: "Internal Server Error", 503: "Service Unavailable",
}


def _reply(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    text = json.dumps(body).encode() + b"\n"
    start_response(f"{status} {REASONS[status]}", [("Content-Type", "application/json"), ("Content-Length", str(len(text)))])
    return [text]


class _BoundedHandler(WSGIHandler):  # type: ignore[misc]
    """Closes a connection idle for IDLE_TIMEOUT, or whose request head takes over HEADER_TIMEOUT."""

    def handle(self) -> None:
        self.socket.settimeout(IDLE_TIMEOUT)
        super().handle()

    def handle_one_request(self) -> Any:
        self._deadline = gevent.get_hub().loop.timer(HEADER_TIMEOUT)
        self._deadline.start(self._too_slow)
        try:
            return super().handle_one_request()
        finally:
            self._deadline.close()

    def read_request(self, raw_requestline: Any) -> Any:
        try:
            return super().read_request(raw_requestline)
        finally:
            self._deadline.close()  # the head is in: answering (a reload) may take longer

    def _too_slow(self) -> None:
        try:
            self.socket.shutdown(socket.SHUT_RDWR)  # the blocked read returns; the handler ends the connection
        except OSError:
            pass


def serve(listen: tuple[str, int], app: AdminApp) -> WSGIServer:
    server = WSGIServer(
        listen, app, log=None, error_log=logging.getLogger("ivrflow.http"),
        handler_class=_BoundedHandler, spawn=gevent.pool.Pool(MAX_CONNECTIONS),
    )
    server.start()
    return server
