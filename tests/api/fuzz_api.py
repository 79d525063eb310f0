"""A schema-driven fuzz of the API against its own OpenAPI document: no 500, every answer as documented.

Over real HTTP to an `ivrflow api` process. Run by `test_fuzz.py` in a pytest
of its own: schemathesis and hypothesis leave a heap that slows the garbage
collector's full passes for the timing-sensitive tests after them. Bounded: a
few examples per operation, so the whole run stays within seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ivrflow.api.app import create_app
from ivrflow.api.db import make_engine

from tests.api.harness import add_client, api_server

# The document only: building the app opens no database connection.
schema = schemathesis.openapi.from_dict(create_app(make_engine("sqlite://")).openapi())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The server's root URL and a bearer token for it."""
    db = f"sqlite:///{Path(tmp_path_factory.mktemp('fuzz')) / 'api.db'}"
    client = add_client(db)
    with api_server(db) as it:
        yield it.base.removesuffix("/api/ver1.0"), it.token(client)


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_every_generated_request_as_its_schema_says(case: schemathesis.Case, server: tuple[str, str]) -> None:
    root, token = server
    case.call_and_validate(
        base_url=root,
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance],
    )
