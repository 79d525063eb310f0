"""The small HTTP listener: /metrics, /healthz, /readyz and POST /-/reload."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry, make_wsgi_app

StartResponse = Callable[..., Any]


class AdminApp:
    def __init__(
        self,
        registry: CollectorRegistry,
        readiness: Callable[[], list[str]],
        reload: Callable[[], tuple[bool, list[str]]],
        detail: Callable[[], dict[str, str]] = dict,
    ) -> None:
        self._detail = detail
        self._metrics = make_wsgi_app(registry)
        self._readiness = readiness
        self._reload = reload

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
            ok, messages = self._reload()
            return _reply(start_response, 200 if ok else 422, {"reloaded": ok, "messages": messages})
        return _reply(start_response, 404, {"error": f"no such path {path}"})


def _reply(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    text = json.dumps(body).encode() + b"\n"
    reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 422: "Unprocessable Entity", 503: "Service Unavailable"}
    start_response(f"{status} {reason[status]}", [("Content-Type", "application/json"), ("Content-Length", str(len(text)))])
    return [text]


def serve(listen: tuple[str, int], app: AdminApp) -> WSGIServer:
    server = WSGIServer(listen, app, log=None, error_log=logging.getLogger("ivrflow.http"))
    server.start()
    return server
