"""Bad requests: the right status, a message naming the field, and nothing written."""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text, update

from ivrflow.api.app import create_app
from ivrflow.api.auth import add_client, now
from ivrflow.api.db import make_engine, migrate, sessions
from ivrflow.api.tables import Token

from .harness import SOUNDS


def float_wav() -> bytes:
    samples = struct.pack("<4f", 0.0, 0.5, -0.5, 0.0)
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 8000 * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


class World:
    def __init__(self, tmp: Path) -> None:
        self.engine = make_engine(f"sqlite:///{tmp / 'api.db'}")
        migrate(self.engine)
        with sessions(self.engine)() as session:
            self.me, secret = add_client(session)
            self.other, other_secret = add_client(session)
        self.http = TestClient(create_app(self.engine))
        self.token = self._token(self.me.client_id, secret)
        self.other_token = self._token(self.other.client_id, other_secret)

    def close(self) -> None:
        self.http.close()
        self.engine.dispose()  # its pooled SQLite connections hold three descriptors each

    def _token(self, client_id: str, secret: str) -> str:
        reply = self.http.post("/api/ver1.0/oauth/token", data={
            "client_id": client_id, "client_secret": secret, "grant_type": "client_credentials"})
        token: str = reply.json()["access_token"]
        return token

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.http.request(method, "/api/ver1.0" + path, headers=headers, **kwargs)

    def ok(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        reply = self.call(method, path, token, **kwargs)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.engine.connect() as connection:
            return {
                table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
                for table in inspect(self.engine).get_table_names() if table not in ("tokens",)
            }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    it = World(tmp_path_factory.mktemp("api"))
    with (SOUNDS / "hello.wav").open("rb") as f:
        it.sound = it.ok("POST", "/client/@me/sound/", files={"file": ("hello.wav", f)}, data={"title": "hello"})
    with (SOUNDS / "hello.wav").open("rb") as f:
        it.foreign_sound = it.ok("POST", "/client/@me/sound/", token=it.other_token, files={"file": ("x.wav", f)})
    it.ext = it.ok("POST", "/client/@me/extension/", json={"name": "071", "type": "ivr"})
    it.ctx = it.ok("POST", f"/extension/{it.ext['id']}/ivr/context/", json={"digit_len": 1})
    it.ok("PUT", f"/extension/{it.ext['id']}/ivr/", json={"entry_context": it.ctx["id"]})
    it.ok("POST", f"/extension/{it.ext['id']}/ivr/context/{it.ctx['id']}/options/start/rules/",
          json={"action": "play_sound", "sound": it.sound["id"]})
    yield it
    it.close()


def rules(w: World) -> str:
    return f"/extension/{w.ext['id']}/ivr/context/{w.ctx['id']}/options/start/rules/"


def empty_wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
    return buffer.getvalue()


def upload(data: bytes, name: str = "a.wav") -> dict[str, Any]:
    return {"files": {"file": (name, io.BytesIO(data))}, "data": {"title": "t"}}


CASES: list[tuple[str, Any, int, str]] = [
    ("unknown action", lambda w: w.call("POST", rules(w), json={"action": "dance"}), 400, "action"),
    ("missing field", lambda w: w.call("POST", rules(w), json={"action": "transfer"}), 400, "transfer_dst"),
    ("wrong type", lambda w: w.call("PUT", f"/extension/{w.ext['id']}/ivr/context/{w.ctx['id']}",
                                    json={"digit_len": "three"}), 400, "digit_len"),
    ("foreign sound id", lambda w: w.call("POST", rules(w), json={"action": "play_sound", "sound": w.foreign_sound["id"]}),
     400, "sound"),
    ("foreign extension", lambda w: w.call("GET", f"/extension/{w.ext['id']}/ivr/", token=w.other_token), 404, "Record not found"),
    ("foreign client path", lambda w: w.call("GET", f"/client/{w.other.id}/sound/"), 404, "Record not found"),
    ("unknown context in a jump", lambda w: w.call("POST", rules(w), json={"action": "jump_to_context", "context": 999}),
     400, "context"),
    ("digits longer than digit_len", lambda w: w.call(
        "POST", f"/extension/{w.ext['id']}/ivr/context/{w.ctx['id']}/options/", json={"digits": "12"}), 400, "digit_len"),
    ("CR/LF in a destination", lambda w: w.call("POST", rules(w), json={"action": "transfer", "transfer_dst": "050\r\nx"}),
     400, "transfer_dst"),
    ("${ in a destination", lambda w: w.call("POST", rules(w), json={"action": "transfer", "transfer_dst": "${x}"}),
     400, "transfer_dst"),
    ("${ in a variable value", lambda w: w.call("POST", rules(w), json={
        "action": "set_variable", "set_variable_name": "a", "set_variable_value": "${jitterbuffer}"}), 400, "set_variable_value"),
    ("oversize upload", lambda w: w.call("POST", "/client/@me/sound/", **upload(b"RIFF" + b"\0" * (10 * 1024 * 1024))),
     413, "file"),
    ("float WAV", lambda w: w.call("POST", "/client/@me/sound/", **upload(float_wav())), 400, "file"),
    ("WAV without samples", lambda w: w.call("POST", "/client/@me/sound/", **upload(empty_wav())), 400, "file"),
    ("not audio", lambda w: w.call("POST", "/client/@me/sound/", **upload(b"hello, world", "a.txt")), 400, "file"),
    ("delete a sound in use", lambda w: w.call("DELETE", f"/client/@me/sound/{w.sound['id']}"), 400, "rule"),
    ("delete the entry context", lambda w: w.call("DELETE", f"/extension/{w.ext['id']}/ivr/context/{w.ctx['id']}"),
     400, "entry_context"),
    ("bad token", lambda w: w.call("GET", "/client/@me/sound/", token="not-a-token"), 401, "Authorization"),
]


@pytest.mark.parametrize(("request_", "status", "names"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_request_is_refused_and_writes_nothing(world: World, request_: Any, status: int, names: str) -> None:
    before = world.snapshot()
    reply = request_(world)
    assert reply.status_code == status, reply.text
    assert names in reply.json()["message"]
    assert world.snapshot() == before


def test_expired_token_is_401(world: World) -> None:
    assert world.call("GET", "/client/@me/sound/").status_code == 200
    with sessions(world.engine)() as session:
        session.execute(update(Token).values(expires_at=now() - timedelta(seconds=1)))
        session.commit()
    reply = world.call("GET", "/client/@me/sound/")
    assert reply.status_code == 401 and "expired" in reply.json()["message"]
