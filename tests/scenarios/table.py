"""One scenario table for both switches: every row runs on emulated FreeSWITCH and on emulated Asterisk.

A row is a menu, what the caller does (keys at call times, a hangup, a dropped
socket) and what must come of it: the record's outcome, path, entries and
transfer destinations, and what the switch was told (where the call went, who
hung up, which prompts were cut short). The menu is the documented example 071
at 1/20 speed unless the row needs another.

Call time of the example (seconds, as both emulators count it): sleep 0-5,
advertising.wav (foreground) 5-9, hello.wav (background) 9-12, the first-digit
timeout 12-17. ivrflow can only lag the emulator's clock (at 1/20 speed a call
second is 50 ms), so a key is pressed late in the state it is meant for.

Where the two adapters honestly differ, the row says so in `differs`, with the
reason; nothing else may differ. The test module compares both adapters' records
and metrics against each other as well as against the row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ivrflow.menu import Menu
from ivrflow.testing import BridgeOutcome

from e2e.harness import SCALE, SOUNDS, example_menu, scaled

Adapter = Literal["freeswitch", "asterisk"]
ADAPTERS: tuple[Adapter, ...] = ("freeswitch", "asterisk")

AD, HELLO = "advertising", "hello"


def lifetime_example() -> Menu:
    """The example with a one-second lifetime (the smallest there is; seconds are not scaled) and a 60 s first-digit wait."""
    menu = example_menu()
    ivr = menu.ivrs[0]
    context = ivr.contexts[0].model_copy(update={"timeout": round(60_000 * SCALE)})
    return menu.model_copy(update={"ivrs": (ivr.model_copy(update={"lifetime": 1, "contexts": (context,)}),)})


def ring_together() -> Menu:
    """The example, but its option 2 rings internal numbers 101 and 102 together."""
    menu = example_menu()
    ivr = menu.ivrs[0]
    context = ivr.contexts[0]
    option = context.options["2"][0].model_copy(update={"transfer_dst": "101,102"})
    context = context.model_copy(update={"options": {**context.options, "2": (option,)}})
    return menu.model_copy(update={"ivrs": (ivr.model_copy(update={"contexts": (context,)}),)})


@dataclass(frozen=True, slots=True)
class Differs:
    """What one adapter does differently in a row, and why."""

    adapter: Adapter
    reason: str
    outcome: str | None = None
    reason_contains: str | None = None
    path: tuple[tuple[int, str], ...] | None = None
    destinations: tuple[str, ...] | None = None
    transferred_to: str | None = None
    hung_up_by_ivrflow: bool | None = None
    # Metric samples only this adapter has in this row: (family, labels).
    extra_metrics: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    menu: Callable[[], Menu] = example_menu
    keys: tuple[tuple[float, str], ...] = ()
    hangup_at: float | None = None
    # The switch's connection to ivrflow drops once this prompt is playing (ESL socket / ARI WebSocket).
    drop_socket_during: str | None = None
    sounds: Mapping[str, float] = field(default_factory=lambda: {AD: 4.0, HELLO: 3.0})
    # How dialed destinations behave, by number (a FreeSWITCH bridge leg; an Asterisk dialed channel).
    ring: Mapping[str, BridgeOutcome] = field(default_factory=dict)
    ring_default: BridgeOutcome = BridgeOutcome()
    # Expected record.
    outcome: str = "transfer"
    reason_contains: str = ""
    path: tuple[tuple[int, str], ...] = ((1, "start"), (1, "timeout"))
    entries: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ("050",)
    first_key: bool = False  # whether the record has a first key time
    # Expected on the switch: where the call went (None: nowhere), whether ivrflow ended it, prompts cut short.
    transferred_to: str | None = "050"
    hung_up_by_ivrflow: bool = False
    stopped: tuple[str, ...] = ()
    differs: tuple[Differs, ...] = ()

    def expected(self, adapter: Adapter) -> dict[str, object]:
        want: dict[str, object] = {
            "outcome": self.outcome,
            "reason_contains": self.reason_contains,
            "path": self.path,
            "entries": self.entries,
            "destinations": self.destinations,
            "first_key": self.first_key,
            "transferred_to": self.transferred_to,
            "hung_up_by_ivrflow": self.hung_up_by_ivrflow,
            "stopped": self.stopped,
        }
        for d in self.differs:
            if d.adapter == adapter:
                for key in want:
                    value = getattr(d, key, None)
                    if value is not None:
                        want[key] = value
        return want

    def extra_metrics(self, adapter: Adapter) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
        return {m for d in self.differs if d.adapter == adapter for m in d.extra_metrics}


def _caller_hangup(name: str, at: float, path: tuple[tuple[int, str], ...] = ((1, "start"),), **kw: Any) -> Scenario:
    return Scenario(name, hangup_at=at, outcome="caller_hangup", path=path, destinations=(), transferred_to=None, **kw)


SCENARIOS: tuple[Scenario, ...] = (
    # --- every path of the example menu ------------------------------------------
    Scenario("no key: timeout transfers to 050"),
    Scenario("option 1 during hello", keys=((11.0, "1"),), path=((1, "start"), (1, "1")), entries=("1",),
             destinations=("+79876543210",), first_key=True, transferred_to="+79876543210", stopped=(HELLO,)),
    Scenario("option 2 during hello", keys=((11.0, "2"),), path=((1, "start"), (1, "2")), entries=("2",),
             destinations=("002",), first_key=True, transferred_to="002", stopped=(HELLO,)),
    Scenario("option 2 while waiting for input", keys=((14.5, "2"),), path=((1, "start"), (1, "2")), entries=("2",),
             destinations=("002",), first_key=True, transferred_to="002"),
    Scenario("2# ends the entry early", keys=((14.0, "2#"),), path=((1, "start"), (1, "2")), entries=("2",),
             destinations=("002",), first_key=True, transferred_to="002"),
    Scenario("direct dial 105", keys=((11.0, "1"), (11.2, "0"), (11.4, "5")), path=((1, "start"),),
             entries=("105",), destinations=("105",), first_key=True, transferred_to="105", stopped=(HELLO,)),
    Scenario("invalid 9 hangs up", keys=((14.5, "9"),), outcome="hangup", path=((1, "start"), (1, "invalid")),
             entries=("9",), destinations=(), first_key=True, transferred_to=None, hung_up_by_ivrflow=True),
    Scenario("# alone is an empty, invalid entry", keys=((11.0, "#"),), outcome="hangup", path=((1, "start"), (1, "invalid")),
             entries=("",), destinations=(), first_key=True, transferred_to=None, hung_up_by_ivrflow=True, stopped=(HELLO,)),
    # --- type-ahead ---------------------------------------------------------------
    Scenario("a key during the foreground advertising is discarded", keys=((7.0, "2"),)),
    Scenario("a key during sleep_time is discarded", keys=((2.0, "2"),)),
    Scenario("keys typed ahead into the background hello make one entry", keys=((11.0, "1"), (11.1, "0"), (11.2, "2")),
             path=((1, "start"),), entries=("102",), destinations=("102",), first_key=True,
             transferred_to="102", stopped=(HELLO,)),
    # --- lifetime -----------------------------------------------------------------
    Scenario("lifetime runs out while waiting for input", menu=lifetime_example, outcome="lifetime",
             path=((1, "start"),), destinations=(), transferred_to=None, hung_up_by_ivrflow=True),
    Scenario("lifetime runs out during hello", menu=lifetime_example, sounds={AD: 4.0, HELLO: 1000.0}, outcome="lifetime",
             path=((1, "start"),), destinations=(), transferred_to=None, hung_up_by_ivrflow=True, stopped=(HELLO,)),
    # --- the caller hangs up in each engine state -----------------------------------
    _caller_hangup("caller hangs up while sleeping", 2.0, path=()),
    _caller_hangup("caller hangs up during the foreground advertising", 7.0),
    _caller_hangup("caller hangs up during the background hello", 11.0),
    _caller_hangup("caller hangs up while waiting for input", 14.5),
    _caller_hangup("caller hangs up between digits", 15.0, keys=((14.0, "1"),), first_key=True),
    Scenario("caller hangs up while the transfer rings", menu=ring_together, keys=((11.0, "2"),), hangup_at=15.0,
             ring_default=BridgeOutcome("no_answer", ring_seconds=50.0), outcome="caller_hangup", reason_contains="during transfer",
             path=((1, "start"), (1, "2")), entries=("2",), destinations=("101", "102"), first_key=True, transferred_to=None,
             stopped=(HELLO,)),
    # --- ring together ---------------------------------------------------------------
    Scenario("ring together: the one that answers is bridged", menu=ring_together, keys=((11.0, "2"),),
             ring={"101": BridgeOutcome("no_answer", ring_seconds=5.0), "102": BridgeOutcome("answer", ring_seconds=1.0, talk_seconds=2.0)},
             path=((1, "start"), (1, "2")), entries=("2",), destinations=("101", "102"), first_key=True,
             # When the target hangs up, the caller is hung up too (a bridge does not outlive it).
             transferred_to="102", hung_up_by_ivrflow=True, stopped=(HELLO,)),
    Scenario("ring together: nobody answers, the call is hung up", menu=ring_together, keys=((11.0, "2"),),
             ring_default=BridgeOutcome("busy", ring_seconds=1.0), outcome="hangup", reason_contains="transfer failed",
             path=((1, "start"), (1, "2")), entries=("2",), destinations=("101", "102"), first_key=True,
             transferred_to=None, hung_up_by_ivrflow=True, stopped=(HELLO,)),
    # --- the switch's connection drops ------------------------------------------------
    Scenario(
        "the switch connection drops during hello", drop_socket_during=HELLO,
        outcome="caller_hangup", reason_contains="connection", path=((1, "start"),), destinations=(), transferred_to=None,
        differs=(
            Differs(
                "asterisk",
                "ARI keeps the channel in Stasis when the events WebSocket drops; ivrflow reconnects and "
                "reconciles (asterisk/app.py rule 2, transcript 07), so the call goes on to its timeout. "
                "An ESL call is its socket: once it is gone FreeSWITCH has ended the socket app.",
                outcome="transfer", reason_contains="", path=((1, "start"), (1, "timeout")), destinations=("050",),
                transferred_to="050",
                extra_metrics=(("ivr_ari_reconnects_total", ()),),
            ),
            Differs("freeswitch", "a lost ESL connection is counted as an error", extra_metrics=(
                ("ivr_errors_total", (("kind", "connection_lost"),)),
            )),
        ),
    ),
)

# The load row: this many callers at once. hello lasts until every one of them hears it (set-up
# takes a while); then each presses 2 and goes to 002. Pressing on observed state keeps it fast.
CONCURRENT_CALLS = 500
CONCURRENT = Scenario(
    "500 callers at once press 2 during hello", keys=((0.0, "2"),), sounds={AD: 4.0, HELLO: 1e6},
    path=((1, "start"), (1, "2")), entries=("2",), destinations=("002",), first_key=True, transferred_to="002", stopped=(HELLO,),
)

__all__ = ["ADAPTERS", "AD", "CONCURRENT", "CONCURRENT_CALLS", "HELLO", "SCALE", "SCENARIOS", "SOUNDS", "Adapter", "Differs", "Scenario"]
