"""The API browser page works offline, and the API server never loads gevent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from ivrflow.api.app import create_app
from ivrflow.api.db import make_engine


def test_docs_page_and_its_assets_come_from_the_server_itself(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    with TestClient(create_app(engine)) as http:
        check_docs(http)
    engine.dispose()


def check_docs(http: TestClient) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
    assert urls, page.text
    assert [u for u in urls if re.match(r"(https?:)?//", u)] == []
    for url in urls:
        assert http.get(url).status_code == 200, url
    assert http.get("/api/ver1.0/openapi.json").json()["paths"]


def test_api_server_imports_no_gevent() -> None:
    probe = "import sys, json; import ivrflow.api.app, ivrflow.api.cli; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert not [m for m in json.loads(done.stdout) if m == "gevent" or m.startswith("gevent.")]
