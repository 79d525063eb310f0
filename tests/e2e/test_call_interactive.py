"""call_interactive end to end: the example menu's option 3 asks a real HTTP server on loopback.

Calls go through the FreeSWITCH emulator and ivrflow's ESL server; the
webhook client is the daemon's. Menu time is scaled (harness.SCALE); HTTP
deadlines are real seconds.
"""

from __future__ import annotations

import gc
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest

from ivrflow.engine import CallOptions
from ivrflow.menu.model import CallInteractive, TransferRule
from ivrflow.testing import BridgeOutcome
from ivrflow.webhooks.client import WebhookSettings

from tests.webhooks.server import Environ, WebhookServer, serving, sleeping, xml
from .harness import Ivrflow, call, example_with_option, ivrflow, wait_until

HOLD = CallOptions(hold_sound="advertising.wav", webhook_deadline_s=5.0)
PRESS_3 = ((10.0, "3"),)  # during hello.wav; the entry resolves to option 3 after the inter-digit timeout


def bomb() -> bytes:
    entities = "".join(f'<!ENTITY e{i} "{"&e%d;" % (i - 1) * 10}">' for i in range(1, 10))
    return f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e0 "ha">{entities}]><Response><SetVar name="x">&e9;</SetVar></Response>'.encode()


def redirect_elsewhere(environ: Environ) -> tuple[str, list[tuple[str, str]], bytes]:
    return "302 Found", [("Location", "http://127.0.0.2:9/hook")], b""


ROUTES: dict[str, Any] = {
    "/verbs": lambda _: xml(
        b'<Response><SetVar name="tier">gold</SetVar><SetCaller name="Shop" number="+74950000000"/>'
        b'<Pause length="1"/><PlaySound where="foreground">hello.wav</PlaySound><TTS>hello</TTS>'
        b'<SimpleTransfer final="no" timeout="5">404</SimpleTransfer><Jump context="1" option="2"/></Response>'
    ),
    "/hangup": lambda _: xml(b"<Response><Hangup/></Response>"),
    "/pin": lambda _: xml(b'<Response><PlaySound digitvar="pin">hello.wav</PlaySound></Response>'),
    "/final": lambda _: xml(b'<Response><SimpleTransfer final="yes">300,301</SimpleTransfer></Response>'),
    "/slow": sleeping(10.0),
    "/error": lambda _: ("500 Internal Server Error", [], b"oops"),
    "/garbage": lambda _: xml(b"<Response><SetVar name='x'>unclosed"),
    "/bomb": lambda _: xml(bomb()),
    "/redirect": redirect_elsewhere,
    "/vars": lambda _: xml(b"<Response/>"),
}


@pytest.fixture
def server() -> Iterator[WebhookServer]:
    with serving(WebhookServer(dict(ROUTES))) as running:
        yield running


def menu_asking(url: str, timeout_ms: int | None = None) -> Any:
    """The example menu with option 3: ask `url`, then transfer to 003."""
    hook = CallInteractive(action="call_interactive", call_interactive_url=url, call_interactive_timeout=timeout_ms)
    return example_with_option("3", (hook, TransferRule(action="transfer", transfer_dst="003")))


def run(server: WebhookServer, path: str, timeout_ms: int | None = None, **script: Any) -> tuple[Ivrflow, Any, dict[str, Any]]:
    with ivrflow(menu_asking(server.url(path), timeout_ms), WebhookSettings(), HOLD) as it:
        switch, record = call(it, **{"keys": PRESS_3, **script})
    return it, switch, record


def apps(switch: Any) -> list[tuple[str, str]]:
    return [(run.name, run.arg) for run in switch.applications]


def test_every_verb_runs_in_order(server: WebhookServer) -> None:
    it, switch, record = run(server, "/verbs", bridge_outcomes={"user/404": BridgeOutcome("no_answer", ring_seconds=2.0)})
    ran = apps(switch)
    after_hook = ran[[name for name, _ in ran].index("export"):]
    assert after_hook[0] == ("export", "tier=gold")
    assert ("set", "effective_caller_id_number=+74950000000") in after_hook
    assert ("set", "effective_caller_id_name=Shop") in after_hook
    names = [name for name, _ in after_hook]
    assert names.index("playback") < names.index("bridge") < names.index("transfer")
    assert any(name == "bridge" and arg.startswith("{originate_timeout=5}") for name, arg in after_hook)
    assert switch.transferred_to == "002"  # Jump to option 2 after nobody answered 404
    assert record["outcome"] == "transfer" and record["variables"] == {"tier": "gold"}
    assert [step["option"] for step in record["path"]] == ["start", "3", "2"]
    assert any("NO_ANSWER" in error for error in record["errors"])
    assert any("TTS" in notice for notice in record["notices"])
    assert it.metric("ivr_webhook_requests_total", result="ok") == 1
    (seen,) = server.seen
    assert dict(seen.query)["CalledExtension"] == "000*071" and dict(seen.query)["CallerIDNum"] == "79991234567"


def test_hangup_ends_the_call(server: WebhookServer) -> None:
    _, switch, record = run(server, "/hangup")
    assert record["outcome"] == "hangup" and switch.hangup_cause == "NORMAL_CLEARING"
    assert switch.transferred_to is None


def test_keys_fill_the_reply_sounds_digitvar_and_the_next_rule_runs(server: WebhookServer) -> None:
    _, switch, record = run(server, "/pin", keys=(*PRESS_3, (12.5, "4"), (12.6, "2"), (12.7, "#")))
    assert record["variables"] == {"pin": "42"}
    assert switch.transferred_to == "003"


def test_a_final_transfer_leaves_the_menu(server: WebhookServer) -> None:
    _, switch, record = run(server, "/final")
    assert record["outcome"] == "transfer" and record["transfer_destinations"] == ["300", "301"]
    assert switch.bridged_to is not None


def test_a_slow_reply_plays_the_hold_sound_until_the_deadline_then_the_next_rule_runs(server: WebhookServer) -> None:
    started = time.monotonic()
    it, switch, record = run(server, "/slow", timeout_ms=1000)
    waited = time.monotonic() - started
    holds = [run for run in switch.applications if run.name == "playback" and run.arg.endswith("advertising.wav")]
    assert len(holds) >= 3  # the ad at the start, then the hold sound, looped
    assert switch.transferred_to == "003"
    assert any("timeout" in error for error in record["errors"])
    assert it.metric("ivr_webhook_requests_total", result="timeout") == 1
    assert waited < 10.0  # the 10 s reply was not waited for


@pytest.mark.parametrize(
    ("path", "result"),
    [("/error", "http_error"), ("/garbage", "bad_xml"), ("/bomb", "unsafe_xml"), ("/redirect", "host_refused")],
)
def test_a_failed_request_is_counted_and_the_next_rule_runs(server: WebhookServer, path: str, result: str) -> None:
    it, switch, record = run(server, path)
    assert switch.transferred_to == "003"
    assert it.metric("ivr_webhook_requests_total", result=result) == 1
    assert any(result in error for error in record["errors"])
    assert record["variables"] == {}


def test_a_caller_hanging_up_mid_request_cancels_it_and_the_call_is_recorded(server: WebhookServer) -> None:
    with ivrflow(menu_asking(server.url("/slow")), WebhookSettings(), HOLD) as it:
        switch, record = call(it, keys=PRESS_3, caller_hangup=(14.0, "NORMAL_CLEARING"))
        wait_until(lambda: it.metric("ivr_webhook_requests_total", result="cancelled") == 1)
    assert record["outcome"] == "caller_hangup"
    assert it.metric("ivr_webhook_requests_total", result="timeout") == 0



def _left_in_cycles() -> list[str]:
    """What a collection now finds of ivrflow's own (not the emulator's): objects and frames."""
    gc.collect()
    found = [f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage if type(o).__module__.startswith("ivrflow")]
    found += [f"frame {o.f_code.co_filename}:{o.f_code.co_name}" for o in gc.garbage if isinstance(o, types.FrameType)
              and "/ivrflow/" in o.f_code.co_filename]
    gc.garbage.clear()
    return [name for name in found if "ivrflow.testing" not in name and "/ivrflow/testing/" not in name]


@pytest.mark.parametrize("path", ["/verbs", "/hangup", "/error", "/garbage", "/bomb", "/redirect", "/slow", "cancelled"])
def test_webhook_calls_leave_nothing_for_the_cyclic_collector(server: WebhookServer, path: str) -> None:
    """The daemon collects cycles rarely (service/gc_schedule.py): a reply, a failure, a deadline
    and a cancelled request must all be freed by reference counting."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        url = server.url("/slow" if path == "cancelled" else path)
        with ivrflow(menu_asking(url, 1000 if path == "/slow" else None), WebhookSettings(), HOLD) as it:
            if path == "cancelled":
                call(it, keys=PRESS_3, caller_hangup=(14.0, "NORMAL_CLEARING"))
                wait_until(lambda: it.metric("ivr_webhook_requests_total", result="cancelled") == 1)
            else:
                call(it, keys=PRESS_3, bridge_outcomes={"user/404": BridgeOutcome("no_answer", ring_seconds=2.0)})
            left = _left_in_cycles()  # while the runtime lives: only what the call left
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []
