"""ARI's REST side: a pooled requests session on gevent sockets, a deadline on every call.

requests/urllib3 make their sockets through the standard library; the
connection classes below make them with gevent instead, so a REST call yields
to other calls' greenlets without the daemon monkey-patching the process.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import requests
from requests.adapters import HTTPAdapter

from ..cooperative_http import POOL_CLASSES

log = logging.getLogger("ivrflow.asterisk")


class AriUnavailable(Exception):
    """ARI did not answer within the deadline, or the connection failed."""


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str = field(repr=False)

    def basic_auth_header(self) -> str:
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return f"Basic {token}"


def load_credentials(env: Mapping[str, str] | None = None, file: Path | None = None) -> Credentials:
    """`IVRFLOW_ARI_USER` + `IVRFLOW_ARI_PASSWORD`, else a file holding one line `user:password`."""
    env = os.environ if env is None else env
    user, password = env.get("IVRFLOW_ARI_USER", ""), env.get("IVRFLOW_ARI_PASSWORD", "")
    if user and password:
        return Credentials(user, password)
    path = file or (Path(env["IVRFLOW_ARI_CREDENTIALS_FILE"]) if env.get("IVRFLOW_ARI_CREDENTIALS_FILE") else None)
    if path is None:
        raise ValueError("ARI credentials: set IVRFLOW_ARI_USER and IVRFLOW_ARI_PASSWORD, or IVRFLOW_ARI_CREDENTIALS_FILE")
    try:
        line = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"ARI credentials file {path}: {exc.strerror}") from exc
    user, sep, password = line.partition(":")
    if not sep or not user or not password or "\n" in line:
        raise ValueError(f"ARI credentials file {path}: expected one line user:password")
    return Credentials(user, password)


class _GeventAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(POOL_CLASSES)


@dataclass(frozen=True, slots=True)
class AriReply:
    status: int
    body: Any  # parsed JSON, or None for an empty body


class AriRest:
    """`request("POST", "/channels/ID/answer")` against `<base_url>/ari`; one pool per daemon."""

    def __init__(self, base_url: str, credentials: Credentials, *, deadline: float = 5.0, pool_size: int = 32) -> None:
        self.base = base_url.rstrip("/") + "/ari"
        self.deadline = deadline
        self._session = requests.Session()
        self._session.trust_env = False  # no HTTP_PROXY or .netrc: ARI is reached directly
        adapter = _GeventAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # Set once as a header, never in URLs, so no log line or error message carries it.
        self._session.headers["Authorization"] = credentials.basic_auth_header()

    def request(self, method: str, path: str, params: Sequence[tuple[str, str]] = (), json_body: Any = None) -> AriReply:
        url = self.base + path
        try:
            with gevent.Timeout(self.deadline, AriUnavailable(f"{method} {path}: no reply within {self.deadline} s")):
                response = self._session.request(method, url, params=list(params), json=json_body, timeout=(self.deadline, self.deadline))
        except requests.RequestException as exc:
            raise AriUnavailable(f"{method} {path}: {type(exc).__name__}") from None
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = {"message": response.text[:200]}
        return AriReply(response.status_code, body)

    def close(self) -> None:
        self._session.close()
