"""The Asterisk side of `ivrflow serve`: one events WebSocket, the calls it brings, reconciliation on every (re)connect.

Reconciliation starts in the event stream's greenlet as soon as a socket is
up and before its first event is read, so the rule in `app.py` is applied
before any new event is trusted; its prompt checks go on while events are read
(each checked call's events wait for its decision), and the decisions are
logged once all are taken. On the first connect it finds the channels an
earlier ivrflow process left in the app and hangs them up.
"""

from __future__ import annotations

import collections
import functools
import logging

import gevent
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..calls.observer import CallObserver
from ..calls.registry import CallRegistry
from ..calls.setup import CallSetup
from ..menu import Menu
from ..menu.sound_files import sound_duration
from ..menu.sound_paths import sound_path
from . import wire
from .app import Decision, Reconciliation, hang_up_orphans, reconcile
from .dialogue import DialogueSettings
from .events import EventStream
from .rest import AriRest, Credentials
from .session import AriCalls

log = logging.getLogger("ivrflow.asterisk")


def sound_seconds_in(sound_dir: Path) -> Callable[[str], float | None]:
    """How long a sound file plays, read once per file (None if unreadable: the long deadline applies)."""

    @functools.lru_cache(maxsize=4096)
    def seconds(filename: str) -> float | None:
        try:
            return sound_duration(sound_path(sound_dir, filename))
        except ValueError:
            return None

    return seconds


def log_decisions(decisions: Mapping[str, Decision]) -> None:
    """The counts on one line, then each call on its own.

    One line naming every call was cut at the log's message limit past ~300
    calls, and what became of the rest went unsaid.
    """
    if not decisions:
        return
    counts = collections.Counter(decisions.values())
    log.info("ARI reconciliation: %s", ", ".join(f"{n} {d}" for d, n in sorted(counts.items())))
    for channel_id, decision in sorted(decisions.items()):
        log.info("reconciled: %s", decision, extra={"call": channel_id})


class AriService:
    def __init__(
        self,
        url: str,
        app: str,
        credentials: Credentials,
        menu: Callable[[], Menu],
        settings: DialogueSettings,
        observer: CallObserver,
        registry: CallRegistry,
        on_reconnect: Callable[[], None] = lambda: None,
        orphan_grace: float = 2.0,
        setup: CallSetup = CallSetup(),
    ) -> None:
        wire.check_dial_template(settings.dial_template)
        for context in (settings.transfer_context, settings.simple_transfer_context):
            if context:
                try:
                    wire.context(context)
                except ValueError as exc:
                    raise ValueError(f"transfer context for Asterisk: {exc}") from None
        self.app = app
        self.rest = AriRest(url, credentials)
        self.calls = AriCalls(self.rest, menu, settings, observer, registry, setup)
        self._on_reconnect = on_reconnect
        self.orphan_grace = orphan_grace
        self._reconciliation = Reconciliation()
        self.stream = EventStream(url, app, credentials, self._route, on_up=self._up)

    @property
    def connected(self) -> bool:
        return self.stream.connected

    def start(self) -> None:
        self.stream.start()

    def stop_accepting(self) -> None:
        self.calls.accepting = False

    def stop(self) -> None:
        self.stream.stop()
        self.rest.close()

    def _route(self, event: dict[str, Any]) -> None:
        self.calls.router.route(event)

    def _up(self) -> None:
        if self.stream.reconnects:
            self._on_reconnect()
        # A socket lost again while the last one's checks are out: let them settle (each has its
        # deadline), so every call is reconciled afresh against what this gap lost too.
        self._reconciliation.wait()
        reconciliation = self._reconciliation = reconcile(self.rest, self.app, self.calls.router, time.monotonic)
        orphans = [c for c, d in reconciliation.decisions.items() if d == "orphan"]
        if orphans:
            gevent.spawn_later(self.orphan_grace, hang_up_orphans, self.rest, self.app, self.calls.router, orphans)
        gevent.spawn(lambda: log_decisions(reconciliation.wait()))
