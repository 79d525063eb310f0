"""The daemon's rating poster against a real API server, and against an API that is down or stuck."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ivrflow.calls.info import CallInfo
from ivrflow.engine import Rating
from ivrflow.menu_api.client import ApiClient, Credentials
from ivrflow.service.rating_post import RatingPoster

from .harness import add_client, api_server


class Results:
    def __init__(self, expected: int) -> None:
        self.seen: list[str] = []
        self._expected = expected
        self._done = threading.Event()

    def __call__(self, result: str) -> None:
        self.seen.append(result)
        if len(self.seen) >= self._expected:
            self._done.set()

    def wait(self) -> list[str]:
        assert self._done.wait(20), f"only {self.seen}"
        return self.seen


def info(call_id: str = "c0ffee00-0000-4000-8000-000000000001") -> CallInfo:
    return CallInfo(call_id, "071", "79990000000", "Caller", "071")


@contextmanager
def stuck_api() -> Iterator[str]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_ratings_are_posted_and_a_foreign_extension_is_refused(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'api.db'}"
    client = add_client(db)
    with api_server(db) as server:
        session = server.session(client)
        ext = session.call("POST", "/client/@me/extension/", json={"status": "active", "name": "071", "type": "ivr"})["id"]
        results = Results(2)
        poster = RatingPoster(ApiClient(server.base, Credentials(client["client_id"], client["client_secret"])), results)
        poster.submit(info(), Rating(3, 5, 1.0, None, ext))
        poster.submit(info(), Rating(3, 5, 1.0, None, ext + 1000))  # not this client's
        assert sorted(results.wait()) == ["posted", "refused"]
        poster.close()
        ratings = session.call("GET", "/client/@me/quality_rate/")
    assert [(r["rate"], r["max_rate"], r["extension_id"]) for r in ratings] == [(3, 5, ext)]


def test_an_api_that_is_down_fails_the_post_and_a_rating_without_extension_is_not_sent() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{free.getsockname()[1]}"  # bound, not listening: connections are refused
        results = Results(2)
        poster = RatingPoster(ApiClient(base, Credentials("1", "s"), timeout=1.0, attempts=2, backoff=0.01), results)
        poster.submit(info(), Rating(1, 5, 1.0, None, None))
        poster.submit(info(), Rating(1, 5, 1.0, None, 7))
        assert sorted(results.wait()) == ["failed", "no_extension"]
        poster.close()


def test_a_stuck_api_never_blocks_the_caller_and_a_full_queue_drops() -> None:
    with stuck_api() as base:
        results = Results(1)
        poster = RatingPoster(ApiClient(base, Credentials("1", "s"), timeout=1.0, attempts=1), results, max_queued=1)
        for _ in range(3):  # returns at once each time although nothing is answered
            poster.submit(info(), Rating(2, 5, 1.0, None, 7))
        assert results.wait()[0] == "dropped"
        poster.close(timeout=10)
