"""ivrflow's ESL server on a real socket, and emulated FreeSWITCH calls against it.

Menus run on a scaled clock: every millisecond setting of the menu is
multiplied by SCALE and the emulator plays its call time SCALE times faster,
so a 17 s walk of the example takes under a second and timing relations stay
exactly as on a real switch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from ivrflow.menu import Menu
from ivrflow.menu.files import load_menu_file
from ivrflow.freeswitch.call_session import SwitchSettings
from ivrflow.freeswitch.server import EslServer
from ivrflow.service.metrics import Metrics
from ivrflow.calls.observers import Observer
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
        assert self.server.all_closed.wait(timeout), f"{len(self.server.sessions)} session(s) still open"

    def record_for(self, switch: ChannelHistory) -> dict[str, Any]:
        self.wait_idle()
        found = [r for r in self.records if r["call_uuid"] == switch.unique_id]
        assert len(found) == 1, f"expected one record for {switch.unique_id}, got {found}"
        return found[0]


@contextmanager
def ivrflow(menu: Menu | None = None, **settings: Any) -> Iterator[Ivrflow]:
    registry = CollectorRegistry()
    records: list[dict[str, Any]] = []
    observer = Observer(Metrics(registry, lambda: len(server.in_menu)), records.append)
    switch = SwitchSettings(sound_dir=SOUNDS, command_timeout=2.0, teardown_timeout=2.0, **settings)
    current = menu or example_menu()
    server = EslServer(("127.0.0.1", 0), lambda: current, switch, observer)
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
