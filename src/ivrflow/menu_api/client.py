"""HTTP to the voice-menu API with requests: bounded pool, a deadline per request, retries with jitter.

The OAuth client secret is held here and sent only in the token request's body; it is never logged.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter


class CredentialsError(ValueError):
    pass


class FetchError(Exception):
    """The API could not be read; `reason` is a short label for metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # keeps the secret out of any log or traceback that prints this
        return f"Credentials(client_id={self.client_id!r}, client_secret=<hidden>)"


def load_credentials(path: Path | None, environ: dict[str, str] | None = None) -> Credentials:
    env = os.environ if environ is None else environ
    if env.get("IVRFLOW_API_CLIENT_ID") and env.get("IVRFLOW_API_CLIENT_SECRET"):
        return Credentials(env["IVRFLOW_API_CLIENT_ID"], env["IVRFLOW_API_CLIENT_SECRET"])
    if path is None:
        raise CredentialsError("no API credentials: set IVRFLOW_API_CLIENT_ID and IVRFLOW_API_CLIENT_SECRET, "
                         "or give --api-credentials FILE (the JSON `ivrflow api add-client` prints)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(str(data["client_id"]), str(data["client_secret"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CredentialsError(f"credentials file {path}: needs JSON with client_id and client_secret ({type(exc).__name__})") from exc


class ApiClient:
    def __init__(self, base_url: str, credentials: Credentials, timeout: float = 5.0, attempts: int = 3,
                 backoff: float = 0.2, pool: int = 4) -> None:
        self.base = base_url.rstrip("/")
        self._credentials = credentials
        self.timeout, self.attempts, self.backoff = timeout, attempts, backoff
        self._http = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool, max_retries=0)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    def twin(self) -> ApiClient:
        """A client of the same API and credentials with its own connections, for another thread."""
        return ApiClient(self.base, self._credentials, self.timeout, self.attempts, self.backoff)

    def _fetch_token(self) -> str:
        reply = self._send("POST", "/oauth/token", data={
            "client_id": self._credentials.client_id, "client_secret": self._credentials.client_secret,
            "grant_type": "client_credentials"}, auth=False)
        if reply.status_code != 200:
            raise FetchError("auth", f"token refused: {reply.status_code} {_message(reply)}")
        token: str = reply.json()["access_token"]
        return token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One API call with a valid token: a 401 gets a new token and one more try."""
        for fresh in (False, True):
            if self._token is None or fresh:
                self._token = self._fetch_token()
            reply = self._send(method, path, **kwargs)
            if reply.status_code != 401:
                return reply
        raise FetchError("auth", f"{method} {path}: 401 {_message(reply)}")

    def json(self, path: str) -> Any:
        reply = self.request("GET", path)
        if reply.status_code != 200:
            raise FetchError("status", f"GET {path}: {reply.status_code} {_message(reply)}")
        try:
            return reply.json()
        except ValueError as exc:
            raise FetchError("invalid", f"GET {path}: not JSON") from exc

    def _send(self, method: str, path: str, auth: bool = True, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        for attempt in range(self.attempts):
            try:
                reply = self._http.request(method, self.base + path, headers=headers, timeout=self.timeout, **kwargs)
            except requests.Timeout as exc:
                failure = FetchError("timeout", f"{method} {path}: no answer within {self.timeout} s")
                cause: Exception = exc
            except requests.RequestException as exc:
                failure = FetchError("connection", f"{method} {path}: {type(exc).__name__}")
                cause = exc
            else:
                if reply.status_code < 500 and reply.status_code != 429:
                    return reply
                failure = FetchError("status", f"{method} {path}: {reply.status_code} {_message(reply)}")
                cause = failure
            if attempt + 1 < self.attempts:
                # Full jitter: instances restarted together do not retry in step.
                time.sleep(random.uniform(0, self.backoff * 2**attempt))
        raise failure from cause


def _message(reply: requests.Response) -> str:
    try:
        return str(reply.json().get("message", ""))[:200]
    except ValueError:
        return ""
