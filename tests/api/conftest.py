from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivrflow.testing.postgres import cluster, fresh_database

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    with cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.db'}"
    server: str = request.getfixturevalue("postgres_server")
    return fresh_database(server, f"t{next(_names)}")
