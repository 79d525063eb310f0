"""Orderings and handshake answers of the ARI emulator that the replays do not show by themselves."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import gevent.socket
import pytest
import websocket

from ivrflow.asterisk.rest import AriRest
from ivrflow.testing.ari_emulator import AriEmulator
from ivrflow.testing.ari_script import AriCallScript

from .replay import CREDENTIALS, WsClient, wait_until


@pytest.fixture
def emu() -> Iterator[AriEmulator]:
    emulator = AriEmulator().start()
    yield emulator
    emulator.stop()


def test_events_are_written_before_the_rest_reply_that_caused_them(emu: AriEmulator) -> None:
    client = WsClient(emu.url)
    rest = AriRest(emu.url, CREDENTIALS)
    emu.place_call(AriCallScript(channel_id="o1", default_sound_seconds=60))
    rest.request("POST", "/channels/o1/answer")
    rest.request("POST", "/channels/o1/play/o1-p1", [("media", "sound:hello")])
    rest.request("DELETE", "/playbacks/o1-p1")
    rest.request("DELETE", "/channels/o1")
    assert emu.server.wire_log == [
        ("event", "StasisStart"),
        ("event", "ChannelStateChange"), ("reply", "POST /ari/channels/o1/answer"),
        ("event", "PlaybackStarted"), ("reply", "POST /ari/channels/o1/play/o1-p1"),
        ("event", "PlaybackFinished"), ("reply", "DELETE /ari/playbacks/o1-p1"),
        ("event", "ChannelHangupRequest"), ("event", "StasisEnd"), ("reply", "DELETE /ari/channels/o1"),
    ]
    assert wait_until(lambda: len(client.events) == 6)
    client.close()
    rest.close()


def test_continue_waits_behind_the_running_prompt(emu: AriEmulator) -> None:
    client = WsClient(emu.url)
    rest = AriRest(emu.url, CREDENTIALS)
    emu.place_call(AriCallScript(channel_id="o2", default_sound_seconds=60))
    rest.request("POST", "/channels/o2/play/o2-p1", [("media", "sound:hello")])
    assert rest.request("POST", "/channels/o2/continue", [("context", "targets"), ("extension", "002")]).status == 204
    assert wait_until(lambda: len(client.events) >= 2)
    assert [e["type"] for e in client.events] == ["StasisStart", "PlaybackStarted"]
    emu.end_prompt("o2-p1")
    assert wait_until(lambda: [e["type"] for e in client.events][-2:] == ["PlaybackFinished", "StasisEnd"])
    assert emu.channel("o2").continued == ("targets", "002", 1)
    client.close()
    rest.close()


@pytest.mark.parametrize(("query", "status"), [("app=ivrflow&api_key=ivr:wrong", 401), ("api_key=ivr:ivrsecret", 400)])
def test_websocket_handshake_errors(emu: AriEmulator, query: str, status: int) -> None:
    host, port = urlsplit(emu.url).netloc.split(":")
    ws = websocket.WebSocket(enable_multithread=False)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        ws.connect(f"ws://{host}:{port}/ari/events?{query}", socket=gevent.socket.create_connection((host, int(port)), 5))
    assert refused.value.status_code == status
