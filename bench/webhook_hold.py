"""Key→command for callers while hundreds of other calls wait on a slow webhook.

    python -m bench.webhook_hold [--waiting 500] [--callers 200] [--reply-after 2.0]

One process: ivrflow's ESL server with the daemon's webhook client, a webhook
server on loopback that answers every request after `reply_after` seconds, and
emulated FreeSWITCH calls on the example menu (its times scaled by SCALE).
Option 3 of the menu asks the webhook, then transfers to 003. Two runs of
`callers` direct-dial callers (105, keyed at 10.0/10.2/10.4 s of call time,
started over 2.5 s; the waiting calls are started over 0.5 s): alone, then while `waiting` calls are out on the webhook
(all of them in flight before the first caller starts (`in_flight_at_start`
says how many made it), their replies coming back during the run). Key→command is the emulator's time from writing the
last key's DTMF event to reading the `transfer` it causes, in wall
milliseconds. Everything shares one process, so the figures include the
emulator's and the webhook server's own work: a pessimistic bound.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import gevent
from gevent.pywsgi import WSGIServer
from prometheus_client import CollectorRegistry

from ivrflow.calls.registry import CallRegistry
from ivrflow.calls.setup import CallSetup
from ivrflow.engine import CallOptions
from ivrflow.freeswitch.dialogue import SwitchSettings
from ivrflow.freeswitch.server import EslServer
from ivrflow.menu import Menu
from ivrflow.menu.model import CallInteractive, TransferRule
from ivrflow.service.metrics import Metrics
from ivrflow.service.observer import Observer
from ivrflow.service.webhook_work import WebhookWork
from ivrflow.testing import BRIEF_CALL_AT_TARGET, CallScript, ChannelHistory, start_call
from ivrflow.webhooks.client import WebhookClient, WebhookSettings

from .transfer_release import SOUNDS, scaled_menu

SCALE = 0.1  # wall seconds per second of call time
LAST_KEY_AT = 10.4
SOUND_SECONDS = {str(SOUNDS / "advertising.wav"): 4.0, str(SOUNDS / "hello.wav"): 3.0}


class SlowHook:
    """Answers every request with an empty Response after `delay` seconds; counts what is in flight."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.in_flight = 0
        self.answered = 0
        self.server = WSGIServer(("127.0.0.1", 0), self, log=None, error_log=None, backlog=4096)

    def __call__(self, environ: dict[str, object], start_response: object) -> list[bytes]:
        self.in_flight += 1
        try:
            gevent.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.answered += 1
        start_response("200 OK", [("Content-Type", "application/xml")])  # type: ignore[operator]
        return [b"<Response/>"]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"


def menu_asking(url: str) -> Menu:
    menu = scaled_menu(SCALE)
    ivr = menu.ivrs[0]
    main = ivr.contexts[0]
    hook = CallInteractive(action="call_interactive", call_interactive_url=url)
    options = {**main.options, "3": (hook, TransferRule(action="transfer", transfer_dst="003"))}
    contexts = (main.model_copy(update={"options": options}), *ivr.contexts[1:])
    return menu.model_copy(update={"ivrs": (ivr.model_copy(update={"contexts": contexts}),)})


@contextmanager
def ivrflow(menu: Menu, registry: CollectorRegistry) -> Iterator[EslServer]:
    calls = CallRegistry(max_calls=10_000)
    metrics = Metrics(registry, lambda: calls.active)
    client = WebhookClient(WebhookSettings(deadline_s=10.0), observe=metrics.webhook_done)
    setup = CallSetup(CallOptions(webhook_deadline_s=10.0), WebhookWork(client, "000", metrics.webhook_done))
    settings = SwitchSettings(sound_dir=SOUNDS, transfer_context="", simple_transfer_context="ivrflow-simple-transfer",
                              bridge_template="user/{number}", exit_after_transfer=True, release_quiet_time=0.3)
    server = EslServer(("127.0.0.1", 0), lambda: menu, settings, Observer(metrics, lambda _: None), calls, setup)
    server.start()
    try:
        yield server
    finally:
        server.stop_accepting()
        client.close()


def script(keys: tuple[tuple[float, str], ...]) -> CallScript:
    return CallScript(destination_number="071", time_scale=SCALE, sounds=SOUND_SECONDS,
                      default_transfer_extension=BRIEF_CALL_AT_TARGET, keys=keys)


def key_to_command_ms(switch: ChannelHistory) -> float:
    """From the last DTMF event's writing (as the emulator fired it, however late) to the transfer's arrival."""
    key_at = max(t for t, name in switch.events_fired if name == "DTMF")
    transfer_at = next(run.started for run in switch.applications if run.name == "transfer")
    return (transfer_at - key_at) * SCALE * 1000


def direct_callers(server: EslServer, count: int) -> tuple[list[float], int]:
    """Key→command of each caller that reached 105, and how many did not (a key that fell outside the greeting)."""
    greenlets = []
    for _ in range(count):
        greenlets.append(start_call(server.address, script(((10.0, "1"), (10.2, "0"), (LAST_KEY_AT, "5")))))
        gevent.sleep(2.5 / count)
    switches = [g.get(timeout=120) for g in greenlets]
    reached = [s for s in switches if s.transferred_to == "105"]
    return [key_to_command_ms(s) for s in reached], len(switches) - len(reached)


def until_the_requests_stop_arriving(hook: SlowHook) -> int:
    """The requests in flight once no new one has come for 0.2 s."""
    peak, quiet_since = 0, time.monotonic()
    with gevent.Timeout(60, SystemExit("no webhook request arrived")):
        while peak == 0 or time.monotonic() - quiet_since < 0.2:
            gevent.sleep(0.01)
            if hook.in_flight > peak:
                peak, quiet_since = hook.in_flight, time.monotonic()
    return hook.in_flight


def summary(latencies: list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 2), "p99_ms": round(p99, 2), "max_ms": round(ordered[-1], 2)}


def run(waiting: int, callers: int, reply_after: float) -> dict[str, object]:
    hook = SlowHook(reply_after)
    hook.server.start()
    registry = CollectorRegistry()
    try:
        with ivrflow(menu_asking(hook.url), registry) as server:
            alone, lost_alone = direct_callers(server, callers)
            held = []
            for _ in range(waiting):  # a short ramp: a burst pushed keys out of the greeting
                held.append(start_call(server.address, script(((11.0, "3"),))))  # late in the greeting: setup lags under load
                gevent.sleep(0.5 / waiting)
            in_flight_at_start = until_the_requests_stop_arriving(hook)
            beside, lost_beside = direct_callers(server, callers)
            held_switches = [g.get(timeout=120) for g in held]
    finally:
        hook.server.stop()
    return {
        "waiting": waiting, "callers": callers, "reply_after_s": reply_after,
        "alone": summary(alone), "beside_waiting": summary(beside), "lost": lost_alone + lost_beside,
        "in_flight_at_start": in_flight_at_start, "webhook_answered": hook.answered,
        "waiting_transferred_to_003": sum(1 for s in held_switches if s.transferred_to == "003"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiting", type=int, default=500, help="calls waiting on the webhook")
    parser.add_argument("--callers", type=int, default=200, help="direct-dial callers measured in each run")
    parser.add_argument("--reply-after", type=float, default=2.0, help="seconds the webhook takes to answer")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    result = run(args.waiting, args.callers, args.reply_after)
    print("| run | key→command p50 | p99 | max |")
    print("|---|---|---|---|")
    for name in ("alone", "beside_waiting"):
        row = result[name]
        assert isinstance(row, dict)
        print(f"| {name} | {row['p50_ms']} ms | {row['p99_ms']} ms | {row['max_ms']} ms |")
    print(json.dumps(result))


if __name__ == "__main__":
    gevent.get_hub()
    main()
