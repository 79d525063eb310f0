"""A schema-driven fuzz of the API against its own OpenAPI document: no 500, every answer as documented.

Bounded: a few examples per operation, so the whole run stays within seconds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.checks import not_a_server_error

from ivrflow.api.app import create_app
from ivrflow.api.auth import add_client
from ivrflow.api.db import make_engine, migrate, sessions

_DB = Path(tempfile.mkdtemp(prefix="ivrflow-fuzz-")) / "api.db"
_ENGINE = make_engine(f"sqlite:///{_DB}")
migrate(_ENGINE)
with sessions(_ENGINE)() as _session:
    _CLIENT, _SECRET = add_client(_session)
APP = create_app(_ENGINE)
_TOKEN = TestClient(APP).post("/api/ver1.0/oauth/token", data={
    "client_id": _CLIENT.client_id, "client_secret": _SECRET, "grant_type": "client_credentials"}).json()["access_token"]

schema = schemathesis.openapi.from_asgi("/api/ver1.0/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _dispose_engine() -> Iterator[None]:
    yield
    _ENGINE.dispose()


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_every_generated_request_as_its_schema_says(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {_TOKEN}"},
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance],
    )
