"""Reloads inside the daemon: off the event loop, never overlapping, isolated from whatever a load raises."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import gevent
import gevent.event
import pytest

from ivrflow.menu import LoadedMenu
from ivrflow.menu.files import load_menu_text
from ivrflow.service import daemon as daemon_module
from ivrflow.service.daemon import Daemon
from ivrflow.service.settings import resolve

from .harness import SOUNDS, menu_text


@dataclass
class Source:
    """A menu source whose loads the test steers: they raise, or wait for `release`."""

    menus: list[LoadedMenu]
    fail_with: BaseException | None = None
    release: threading.Event | None = None
    loads: int = 0
    running: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return "test source"

    def load(self) -> LoadedMenu:
        with self.lock:
            self.loads += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.release is not None:
                assert self.release.wait(5), "never released"
            if self.fail_with is not None and self.loads > 1:
                raise self.fail_with
            return self.menus[min(self.loads, len(self.menus)) - 1]
        finally:
            with self.lock:
                self.running -= 1


def menu(timeout_dst: str) -> LoadedMenu:
    return load_menu_text(menu_text(timeout_dst), f"menu {timeout_dst}")


def make_daemon(tmp: Path, source: Source) -> Daemon:
    settings = resolve(
        {"menu": str(tmp / "unused.yaml"), "sounds": str(SOUNDS), "esl_listen": "127.0.0.1:0", "metrics_listen": "off",
         "call_records": str(tmp / "calls.jsonl")},
        environ={},
    )
    return Daemon(settings, source=source)


def reloads(d: Daemon, result: str) -> float:
    return d.registry.get_sample_value("ivr_config_reloads_total", {"result": result}) or 0.0


@pytest.mark.parametrize("exc", [RecursionError("maximum recursion depth exceeded"), MemoryError(), KeyError("x")])
def test_any_exception_in_a_load_is_a_rejected_reload(tmp_path: Path, exc: BaseException) -> None:
    d = make_daemon(tmp_path, Source([menu("050")], fail_with=exc))
    ok, messages = d.reload()
    assert not ok
    assert type(exc).__name__ in messages[0]
    assert reloads(d, "failure") == 1
    assert d.current_menu().ivrs[0].contexts[0].options["timeout"][0].transfer_dst == "050"  # type: ignore[union-attr]
    d.close()


def test_a_load_runs_off_the_event_loop(tmp_path: Path) -> None:
    source = Source([menu("050"), menu("060")])
    d = make_daemon(tmp_path, source)
    source.release = threading.Event()
    reload = gevent.spawn(d.reload)
    ticks = 0
    while ticks < 20:  # the loop keeps running while the load waits; then it lets the load end
        gevent.sleep(0.001)
        ticks += 1
    source.release.set()
    assert reload.get(timeout=10) == (True, [])
    assert d.loaded.source == "menu 060"
    d.close()


def test_reloads_never_overlap_and_requests_meanwhile_share_one_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(daemon_module, "RELOAD_GAP", 0.01)
    source = Source([menu("050"), menu("060"), menu("070")])
    d = make_daemon(tmp_path, source)
    source.release = threading.Event()
    replies = [gevent.event.AsyncResult() for _ in range(10)]
    d._want_reload(replies[0])
    gevent.sleep(0.05)  # the first load is under way (and held)
    for reply in replies[1:]:
        d._want_reload(reply)
    source.release.set()
    results = [r.get(timeout=10) for r in replies]
    assert all(ok for ok, _ in results)
    assert source.loads == 3  # the start, the first request, one load for the nine that came during it
    assert source.most_at_once == 1
    assert d.loaded.source == "menu 070"
    d.close()
