"""Ratings from quality_rate, posted to the menu API's ratings resource, off every call's path.

The call record is each rating's source of truth; the API gets a copy. Posts
run on one OS thread with its own HTTP session (the requests library blocks,
and the daemon patches nothing), from a bounded queue: a call never waits for
the API, and a full queue drops the post (counted) instead of growing.
ApiClient retries a connection error or a 5xx with jitter; after that the post
is given up, logged and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from ..calls.info import CallInfo
from ..engine import Rating
from ..menu_api.client import ApiClient, FetchError

log = logging.getLogger("ivrflow.rating")

RATINGS_PATH = "/client/@me/quality_rate/"
MAX_QUEUED = 1000
MAX_CALL_UUID = 64  # the resource's limit
RESULTS = ("posted", "refused", "failed", "dropped", "no_extension")


class RatingPoster:
    def __init__(self, api: ApiClient, counted: Callable[[str], None], max_queued: int = MAX_QUEUED) -> None:
        self._api = api
        self._counted = counted
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(max_queued)
        self._thread = threading.Thread(target=self._run, name="rating-posts", daemon=True)
        self._thread.start()

    def submit(self, info: CallInfo, rating: Rating) -> None:
        """Queue one rating given just now; returns at once."""
        if rating.extension_id is None:  # a menu the API did not give names no extension to rate
            self._counted("no_extension")
            return
        body = {
            "call_uuid": info.call_id[:MAX_CALL_UUID],
            "datetime": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "extension_id": rating.extension_id,
            "max_rate": rating.max_rate,
            "rate": rating.rate,
        }
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            log.warning("rating of call %s not posted: %d posts already wait for the API", info.call_id, MAX_QUEUED)
            self._counted("dropped")

    def close(self, timeout: float = 5.0) -> None:
        """Post what is queued (for at most `timeout` seconds), then stop."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            pass  # the join below times out and says so
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("ratings still queued at stop were not posted (the API did not answer in %.0f s)", timeout)
        self._api.close()

    def _run(self) -> None:
        while (body := self._queue.get()) is not None:
            self._counted(self._post(body))

    def _post(self, body: dict[str, Any]) -> str:
        try:
            reply = self._api.request("POST", RATINGS_PATH, json=body)
        except FetchError as exc:
            log.warning("rating of call %s not posted: %s", body["call_uuid"], exc)
            return "failed"
        except Exception:  # a token reply that is not one, say: this thread must outlive any one post
            log.exception("rating of call %s not posted", body["call_uuid"])
            return "failed"
        if reply.status_code != 200:
            log.warning("rating of call %s refused by the API: %s %s", body["call_uuid"], reply.status_code, reply.text[:200])
            return "refused"
        return "posted"
