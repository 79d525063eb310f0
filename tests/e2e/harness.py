"""ivrflow's ESL server on a real socket, and emulated FreeSWITCH calls against it.

Menus run on a scaled clock: every millisecond setting of the menu is
multiplied by SCALE and the emulator plays its call time SCALE times faster,
so a 17 s walk of the example takes under a second and timing relations stay
exactly as on a real switch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gevent.event
from prometheus_client import CollectorRegistry

from ivrflow.menu import Menu
from ivrflow.menu.model import Rule
from ivrflow.menu.files import load_menu_file
from ivrflow.calls.registry import CallRegistry
from ivrflow.calls.setup import CallSetup
from ivrflow.calls.voicemail_box import VoicemailBox
from ivrflow.engine import CallOptions
from ivrflow.service.webhook_work import WebhookWork
from ivrflow.webhooks.client import WebhookClient, WebhookSettings
from tests.switch_settings import switch_settings
from ivrflow.freeswitch.server import EslServer
from ivrflow.service.metrics import Metrics
from ivrflow.service.observer import Observer
from ivrflow.testing import BRIEF_CALL_AT_TARGET, CallScript, start_call
from ivrflow.testing.fs_history import ChannelHistory

ROOT = Path(__file__).resolve().parents[2]
SOUNDS = (ROOT / "config" / "sounds").resolve()
SCALE = 0.05
SOUND_SECONDS = {str(SOUNDS / "advertising.wav"): 4.0, str(SOUNDS / "hello.wav"): 3.0}


def scaled(menu: Menu, scale: float = SCALE) -> Menu:
    """The menu with every millisecond setting multiplied by `scale`."""
    ivrs = []
    for ivr in menu.ivrs:
        contexts = tuple(
            c.model_copy(
                update={"timeout": round(c.timeout * scale), "inter_digit_timeout": round(c.inter_digit_timeout * scale)}
            )
            for c in ivr.contexts
        )
        ivrs.append(ivr.model_copy(update={"sleep_time": round(ivr.sleep_time * scale), "contexts": contexts}))
    return menu.model_copy(update={"ivrs": tuple(ivrs)})


def example_menu() -> Menu:
    return scaled(load_menu_file(ROOT / "config" / "example.yaml").menu)


def example_with_option(key: str, rules: tuple[Rule, ...]) -> Menu:
    """The example menu with one more option in its main context."""
    menu = example_menu()
    ivr = menu.ivrs[0]
    main = ivr.contexts[0]
    contexts = (main.model_copy(update={"options": {**main.options, key: rules}}), *ivr.contexts[1:])
    return menu.model_copy(update={"ivrs": (ivr.model_copy(update={"contexts": contexts}),)})


@dataclass
class Ivrflow:
    server: EslServer
    registry: CollectorRegistry
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until every connection is closed: calls done, held transfers released."""
        closed = gevent.event.Event()
        self.server.registry.on_all_closed.append(closed.set)
        try:
            assert not self.server.registry.open or closed.wait(timeout), f"{self.server.registry.open} call(s) still open"
        finally:
            self.server.registry.on_all_closed.remove(closed.set)

    def record_for(self, switch: ChannelHistory) -> dict[str, Any]:
        self.wait_idle()
        found = [r for r in self.records if r["call_uuid"] == switch.unique_id]
        assert len(found) == 1, f"expected one record for {switch.unique_id}, got {found}"
        return found[0]


@contextmanager
def ivrflow(
    menu: Menu | None = None, webhooks: WebhookSettings | None = None, options: CallOptions = CallOptions(),
    voicemail: VoicemailBox | None = None, **settings: Any,
) -> Iterator[Ivrflow]:
    """With `webhooks`, call_interactive requests go out through a real client, as in the daemon;
    with `voicemail` (and voicemail options), messages go to that box."""
    registry = CollectorRegistry()
    records: list[dict[str, Any]] = []
    calls = CallRegistry(max_calls=10_000)
    metrics = Metrics(registry, lambda: calls.active)
    observer = Observer(metrics, records.append)
    switch = switch_settings(SOUNDS, command_timeout=2.0, teardown_timeout=2.0, **settings)
    current = menu or example_menu()
    setup = CallSetup(options, voicemail=voicemail)
    if webhooks is not None:
        client = WebhookClient(webhooks, observe=metrics.webhook_done)
        setup = CallSetup(options, WebhookWork(client, "000", metrics.webhook_done), voicemail)
    server = EslServer(("127.0.0.1", 0), lambda: current, switch, observer, calls, setup)
    it = Ivrflow(server, registry, records)
    server.start()
    try:
        yield it
    finally:
        server.stop_accepting()
        it.wait_idle()


def script(**overrides: Any) -> CallScript:
    base = CallScript(
        destination_number="071", time_scale=SCALE, sounds=SOUND_SECONDS, default_transfer_extension=BRIEF_CALL_AT_TARGET
    )
    return replace(base, **overrides)


def call(it: Ivrflow, **overrides: Any) -> tuple[ChannelHistory, dict[str, Any]]:
    """One emulated call to its end: what the switch saw, and ivrflow's record of it."""
    switch_record = start_call(it.address, script(**overrides)).get(timeout=30)
    return switch_record, it.record_for(switch_record)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Until observable state says so (checked every few milliseconds), bounded."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        gevent.sleep(0.005)
