"""`ivrflow serve --menus-url` against `ivrflow api`: the example built over HTTP, then emulated calls.

The menu is the example's, built with the eleven steps at 1/20 of its timing
(as the daemon tests run it), so a call walks it in under a second.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gevent
from gevent import subprocess as gsubprocess

from ivrflow.testing import BRIEF_CALL_AT_TARGET, CallScript, start_call
from ivrflow.testing.fs_history import ChannelHistory

from tests.daemon.harness import Daemon
from .harness import SOUNDS, Api, Client, add_client, api_server

SCALE = 0.05


def build_scaled_example(api: Client) -> dict[str, int]:
    hello = api.upload(SOUNDS / "hello.wav", "my welcome file")["id"]
    ad = api.upload(SOUNDS / "advertising.wav", "my ad file")["id"]
    ext = api.call("POST", "/client/@me/extension/", json={"status": "active", "name": "071", "label": "test IVR", "type": "ivr"})
    ivr = f"/extension/{ext['id']}/ivr"
    ctx = api.call("POST", f"{ivr}/context/", json={"digit_len": 3, "allow_any_dial": True, "inter_digit_timeout": 100,
                                                    "name": "Main context", "timeout": 250})["id"]
    api.call("PUT", f"{ivr}/", json={"sleep_time": 250, "entry_context": ctx})
    options = f"{ivr}/context/{ctx}/options"
    api.call("POST", f"{options}/start/rules/", json={"sound": ad, "sound_type": "foreground", "action": "play_sound"})
    api.call("POST", f"{options}/start/rules/", json={"sound": hello, "sound_type": "background", "action": "play_sound"})
    for digits, dst in (("1", "+79876543210"), ("2", "002")):
        api.call("POST", f"{options}/", json={"digits": digits})
        api.call("POST", f"{options}/{digits}/rules/", json={"transfer_dst": dst, "action": "transfer"})
    timeout_rule = api.call("POST", f"{options}/timeout/rules/", json={"transfer_dst": "050", "action": "transfer"})
    return {"hello": hello, "ad": ad, "extension": ext["id"], "context": ctx, "timeout_rule": timeout_rule["id"]}


@contextmanager
def runtime(tmp: Path, base: str, credentials: dict[str, Any], *extra: str) -> Iterator[Daemon]:
    creds = tmp / "credentials.json"
    creds.write_text(json.dumps(credentials))
    records = tmp / "calls.jsonl"
    command = [sys.executable, "-m", "ivrflow", "serve", "--menus-url", base, "--api-credentials", str(creds),
               "--menu-cache", str(tmp / "cache"), "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
               "--call-records", str(records), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVRFLOW_API_")}
    process = gsubprocess.Popen(command, stderr=gsubprocess.PIPE, env=env)
    it = Daemon(process, records)
    reader = gevent.spawn(it._read_stderr)
    try:
        it.wait_log(r"metrics and health on", timeout=30)
        yield it
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=5)
        if process.stderr is not None:
            process.stderr.close()


def start(it: Daemon, sounds: dict[str, int], tmp: Path, hello_seconds: float = 3.0, **overrides: Any) -> Any:
    cache = (tmp / "cache" / "sounds").resolve()
    lengths = {str(cache / f"{sounds['ad']}.wav"): 4.0, str(cache / f"{sounds['hello']}.wav"): hello_seconds}
    script = CallScript(destination_number="071", time_scale=SCALE, sounds=lengths,
                        default_transfer_extension=BRIEF_CALL_AT_TARGET, **overrides)
    assert it.esl is not None
    return start_call(it.esl, script)


def finish(it: Daemon, call: Any) -> tuple[ChannelHistory, dict[str, Any]]:
    switch = call.get(timeout=30)
    with gevent.Timeout(10, AssertionError("no call record")):
        while not [r for r in it.records() if r["call_uuid"] == switch.unique_id]:
            gevent.sleep(0.05)
    return switch, next(r for r in it.records() if r["call_uuid"] == switch.unique_id)


def call(it: Daemon, sounds: dict[str, int], tmp: Path, **overrides: Any) -> tuple[ChannelHistory, dict[str, Any]]:
    return finish(it, start(it, sounds, tmp, **overrides))


def wait_reloads(it: Daemon, after: int, count: int) -> None:
    """Until `count` reloads were logged after line `after`."""
    with gevent.Timeout(15, AssertionError("no reload:\n" + "\n".join(it.lines[after:]))):
        while sum("menu reloaded from" in line for line in it.lines[after:]) < count:
            gevent.sleep(0.05)


# The YAML example's outcomes (tests/e2e/test_example_menu.py), path for path.
EXPECTED = [
    ((), "050", [(1, "start"), (1, "timeout")]),
    (((10.0, "2"),), "002", [(1, "start"), (1, "2")]),
    (((10.0, "1"),), "+79876543210", [(1, "start"), (1, "1")]),
    (((10.0, "1"), (10.2, "0"), (10.4, "5")), "105", [(1, "start")]),
]


def test_runtime_serves_the_api_built_example_then_the_cache_with_the_api_down(db_url: str, tmp_path: Path) -> None:
    client = add_client(db_url)
    with api_server(db_url) as server:
        ids = build_scaled_example(server.session(client))
        with runtime(tmp_path, server.base, client) as it:
            for keys, destination, path in EXPECTED:
                switch, record = call(it, ids, tmp_path, keys=list(keys))
                assert switch.transferred_to == destination, (keys, record)
                assert [(s["context"], s["option"]) for s in record["path"]][: len(path)] == path
            assert it.metric("ivr_menu_source_age_seconds") >= 0
            status, body = it.get("/readyz")
            assert status == 200 and "menu_cached" not in json.loads(body)
    # The API is gone: a restarted runtime serves the cached menus and says so.
    with runtime(tmp_path, server.base, client) as it:
        it.wait_log(r"serving cached menus")
        switch, record = call(it, ids, tmp_path, keys=[(10.0, "2")])
        assert switch.transferred_to == "002"
        status, body = it.get("/readyz")
        assert status == 200 and "serving cached menus" in json.loads(body)["menu_cached"]
        assert it.metric("ivr_menu_fetch_failures_total", reason="connection") >= 1
        assert not [line for line in it.lines if client["client_secret"] in line]


@contextmanager
def example_on_sqlite(tmp: Path) -> Iterator[tuple[Api, dict[str, Any], Client, dict[str, int]]]:
    """An API server on a fresh SQLite database with the scaled example built: server, client, session, ids."""
    db = f"sqlite:///{tmp / 'api.db'}"
    client = add_client(db)
    with api_server(db) as server:
        api = server.session(client)
        yield server, client, api, build_scaled_example(api)


def test_a_change_through_the_api_reaches_new_calls_within_one_refresh(tmp_path: Path) -> None:
    with example_on_sqlite(tmp_path) as (server, client, api, ids):
        with runtime(tmp_path, server.base, client, "--menu-refresh", "0.5") as it:
            # hello.wav plays 60 s of call time (3 s here): the change lands while this call is in the menu.
            in_progress = start(it, ids, tmp_path, hello_seconds=60.0)
            with gevent.Timeout(10, AssertionError("the call never became active")):
                while it.metric("ivr_calls_active") < 1:
                    gevent.sleep(0.05)
            mark = len(it.lines)
            rule = f"/extension/{ids['extension']}/ivr/context/{ids['context']}/options/timeout/rules/{ids['timeout_rule']}"
            api.call("PUT", rule, json={"action": "transfer", "transfer_dst": "060"})
            wait_reloads(it, mark, 2)  # the second began after the change
            new, _ = call(it, ids, tmp_path)
            old, _ = finish(it, in_progress)
    assert new.transferred_to == "060"
    assert old.transferred_to == "050"


def test_a_rating_given_in_a_call_is_posted_to_the_ratings_resource(tmp_path: Path) -> None:
    with example_on_sqlite(tmp_path) as (server, client, api, ids):
        options = f"/extension/{ids['extension']}/ivr/context/{ids['context']}/options"
        api.call("POST", f"{options}/", json={"digits": "3"})
        api.call("POST", f"{options}/3/rules/", json={"action": "quality_rate", "sound": ids["hello"], "max_rate": 5})
        api.call("POST", f"{options}/3/rules/", json={"action": "transfer", "transfer_dst": "003"})
        with runtime(tmp_path, server.base, client) as it:
            # "3" resolves at 12.0 of call time; the question (hello.wav) plays from there; "4" answers it.
            switch, record = call(it, ids, tmp_path, keys=[(10.0, "3"), (13.0, "4")])
            assert switch.transferred_to == "003"
            assert [(r["rate"], r["extension_id"]) for r in record["ratings"]] == [(4, ids["extension"])]
            with gevent.Timeout(10, AssertionError("the rating never reached the API")):
                while not (posted := api.call("GET", "/client/@me/quality_rate/")):
                    gevent.sleep(0.05)
            assert it.metric("ivr_quality_rate_posts_total", result="posted") == 1
    (rating,) = posted
    assert {k: rating[k] for k in ("call_uuid", "extension_id", "max_rate", "rate")} == {
        "call_uuid": switch.unique_id, "extension_id": ids["extension"], "max_rate": 5, "rate": 4}
