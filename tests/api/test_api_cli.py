"""`ivrflow api` and its actions as a user meets them: one-line errors, the migration gate."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from ivrflow.api.app import create_app
from ivrflow.api.db import make_engine

from .harness import ivrflow


def test_server_refuses_a_database_with_pending_migrations_and_names_the_command(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'new.db'}"
    done = ivrflow("api", "--db", db, "--listen", "127.0.0.1:0")
    assert done.returncode == 2
    assert f"run: ivrflow api migrate --db {db}" in done.stderr
    assert "Traceback" not in done.stderr


def test_migrate_then_add_client_prints_the_credentials_once(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'api.db'}"
    first = ivrflow("api", "migrate", "--db", db)
    assert first.returncode == 0 and "0001" in first.stdout and "was empty" in first.stdout
    assert "was" not in ivrflow("api", "migrate", "--db", db).stdout  # already current
    added = json.loads(ivrflow("api", "add-client", "--db", db).stdout)
    assert set(added) == {"client", "client_id", "client_secret"} and isinstance(added["client"], int)


def test_listen_address_in_use_is_one_line(tmp_path: Path) -> None:
    import socket

    db = f"sqlite:///{tmp_path / 'api.db'}"
    ivrflow("api", "migrate", "--db", db)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        done = ivrflow("api", "--db", db, "--listen", f"127.0.0.1:{busy.getsockname()[1]}")
    assert done.returncode == 2 and "cannot listen on" in done.stderr and "Traceback" not in done.stderr


def test_readyz_says_when_the_database_is_unreachable(tmp_path: Path) -> None:
    with TestClient(create_app(make_engine(f"sqlite:///{tmp_path / 'missing' / 'api.db'}"))) as http:
        reply = http.get("/readyz")
        assert reply.status_code == 503 and "database unreachable" in reply.text
        assert http.get("/healthz").status_code == 200
