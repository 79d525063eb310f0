"""The admin HTTP listener's bounds, and `ivrflow reload` against a daemon that answers oddly."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import gevent
import gevent.subprocess
import pytest
from gevent import socket as gsocket
from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry

from ivrflow.service import admin_http
from ivrflow.service.admin_http import AdminApp, serve


def failing_reload() -> tuple[bool, list[str]]:
    raise RuntimeError("the control greenlet is gone")


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[WSGIServer]:
    monkeypatch.setattr(admin_http, "HEADER_TIMEOUT", 0.3)
    monkeypatch.setattr(admin_http, "MAX_CONNECTIONS", 2)
    server = serve(("127.0.0.1", 0), AdminApp(CollectorRegistry(), lambda: [], failing_reload))
    yield server
    server.stop(timeout=1)


def ask(address: tuple[str, int], text: bytes, timeout: float = 5) -> bytes:
    with gsocket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(text)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_reload_that_fails_still_answers_json(listener: WSGIServer) -> None:
    reply = ask(listener.address, b"POST /-/reload HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500") and b"application/json" in head
    assert b'"reloaded": false' in body and b"the control greenlet is gone" in body


def test_a_slow_request_head_is_cut_off(listener: WSGIServer) -> None:
    with gsocket.create_connection(listener.address, timeout=5) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert slow.recv(100) == b""  # closed by the listener, well before the 5 s socket timeout


def test_connections_beyond_the_cap_wait_without_being_served(listener: WSGIServer) -> None:
    idle = [gsocket.create_connection(listener.address) for _ in range(2)]
    waiting = gevent.spawn(ask, listener.address, b"GET /healthz HTTP/1.0\r\n\r\n")
    gevent.sleep(0.1)
    assert not waiting.ready()  # both slots are taken by connections that send nothing
    reply = waiting.get(timeout=5)  # served once the slow ones are cut off
    assert reply.startswith(b"HTTP/1.1 200")
    for sock in idle:
        assert sock.recv(10) == b""
        sock.close()


def app_answering(status: str, body: bytes) -> WSGIServer:
    def app(environ: dict[str, object], start_response):  # type: ignore[no-untyped-def]
        start_response(status, [("Content-Type", "text/html")])
        return [body]

    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    return server


@pytest.mark.parametrize("status", ["500 Internal Server Error", "200 OK"])
def test_ivrflow_reload_survives_a_reply_that_is_not_json(status: str) -> None:
    server = app_answering(status, b"<html>Traceback (most recent call last): ...</html>")
    host, port = server.address[:2]
    try:
        command = [sys.executable, "-m", "ivrflow", "reload", "--metrics-listen", f"{host}:{port}"]
        process = gevent.subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = process.communicate(timeout=30)
    finally:
        server.stop(timeout=1)
    assert process.returncode == 2
    assert "Traceback" not in err.replace("<html>Traceback", "")
    assert err.strip().splitlines() == [f"ivrflow reload: the daemon at http://{host}:{port}/-/reload answered HTTP {status.split()[0]} with no reload result"]
