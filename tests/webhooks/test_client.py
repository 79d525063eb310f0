"""The webhook client against a real HTTP server on loopback, in the same gevent hub.

The server runs in this process's hub, so a client that blocked the hub would
starve it: concurrency is shown by what the server saw, not by timing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ssl

import gevent
import gevent.event
import gevent.ssl
import pytest
from prometheus_client import CollectorRegistry

from ivrflow.menu.model import Context, Ivr
from ivrflow.service.metrics import Metrics
from ivrflow.webhooks.client import RequestHandle, WebhookClient, WebhookSettings
from ivrflow.webhooks.outcome import RESULTS, WebhookOutcome
from ivrflow.webhooks.request import CallFacts, WebhookRequest, build_request
from ivrflow.menu.verbs import TTS, Hangup, Jump, Pause, PlaySound, SetCaller, SetVar, SimpleTransfer

from .server import WebhookServer, serving, sleeping, xml
from .test_reply import ALL_VERBS, BILLION_LAUGHS

FACTS = CallFacts(
    call_id="call-1", caller_id_num="79991234567", caller_id_name="Caller", called_extension="000*071",
    called_number="071", call_api_id="api-1", variables={"account": "42"},
)


def redirect(to: str) -> object:
    return lambda _: ("302 Found", [("Location", to)], b"")


@pytest.fixture
def other() -> Iterator[WebhookServer]:
    """A second host (127.0.0.2 is loopback too) that redirects may point at."""
    with serving(WebhookServer({"/verbs": lambda _: xml(b"<Response><Hangup/></Response>")}, host="127.0.0.2")) as server:
        yield server


@pytest.fixture
def server(other: WebhookServer) -> Iterator[WebhookServer]:
    routes = {
        "/verbs": lambda _: xml(ALL_VERBS),
        "/slow": sleeping(10),
        "/error": lambda _: ("500 Internal Server Error", [], b"<Response><Hangup/></Response>"),
        "/garbage": lambda _: xml(b"<Response><Pause length='3'></Respo"),
        "/bomb": lambda _: xml(BILLION_LAUGHS),
        "/big": lambda _: xml(b"<Response>" + b"<Pause/>" * 20_000 + b"</Response>"),
        "/away": redirect(other.url("/verbs")),
        "/home": redirect("/verbs"),
        "/loop": redirect("/loop"),
        "/jump7": lambda _: xml(b"<Response><Jump context='7'/></Response>"),
    }
    with serving(WebhookServer(routes)) as running:
        yield running


class Outcomes:
    def __init__(self, expected: int = 1) -> None:
        self.got: list[WebhookOutcome] = []
        self.expected = expected
        self.event = gevent.event.Event()

    def __call__(self, outcome: WebhookOutcome) -> None:
        self.got.append(outcome)
        if len(self.got) >= self.expected:
            self.event.set()

    def all(self) -> list[WebhookOutcome]:
        assert self.event.wait(60), f"{len(self.got)} of {self.expected} outcomes"
        gevent.idle()  # anything still due runs now, so a second delivery would show
        assert len(self.got) == self.expected, self.got
        return self.got

    def one(self) -> WebhookOutcome:
        return self.all()[0]


def fetch(client: WebhookClient, request: WebhookRequest, **kwargs: object) -> tuple[WebhookOutcome, RequestHandle]:
    outcomes = Outcomes()
    handle = client.fetch(request, outcomes, **kwargs)  # type: ignore[arg-type]
    return outcomes.one(), handle


def get(server: WebhookServer, path: str, method: str = "GET") -> WebhookRequest:
    return build_request(server.url(path), method, FACTS)  # type: ignore[arg-type]


def test_every_verb_of_a_reply_arrives_typed_and_the_request_carries_the_parameters(server: WebhookServer) -> None:
    client = WebhookClient()
    outcome, handle = fetch(client, get(server, "/verbs", "POST"))
    assert outcome.result == "ok" and outcome.status == 200 and handle.done
    assert [type(v) for v in outcome.verbs] == [Pause, Pause, SetVar, SetCaller, PlaySound, PlaySound, TTS, SimpleTransfer, Jump, Hangup]
    seen = server.seen[0]
    assert seen.method == "POST" and ("CallID", "call-1") in seen.form and ("account", "42") in seen.form


def test_connections_are_reused(server: WebhookServer) -> None:
    client = WebhookClient()
    for _ in range(3):
        assert fetch(client, get(server, "/verbs"))[0].result == "ok"
    assert len({seen.client_port for seen in server.seen}) == 1


def test_a_slow_reply_hits_the_deadline(server: WebhookServer) -> None:
    outcome, _ = fetch(WebhookClient(WebhookSettings(deadline_s=0.2)), get(server, "/slow"))
    assert outcome.result == "timeout" and "0.2 s" in outcome.reason
    assert outcome.seconds >= 0.2


def test_a_rule_deadline_overrides_the_global_one(server: WebhookServer) -> None:
    outcome, _ = fetch(WebhookClient(WebhookSettings(deadline_s=60)), get(server, "/slow"), deadline_s=0.1)
    assert outcome.result == "timeout" and "0.1 s" in outcome.reason


def test_the_client_works_on_after_a_timeout(server: WebhookServer) -> None:
    client = WebhookClient(WebhookSettings(deadline_s=0.1))
    assert fetch(client, get(server, "/slow"))[0].result == "timeout"
    assert fetch(client, get(server, "/verbs"), deadline_s=5)[0].result == "ok"


@pytest.mark.parametrize(
    ("path", "result", "reason"),
    [
        ("/error", "http_error", "HTTP status 500"),
        ("/nowhere", "http_error", "HTTP status 404"),
        ("/garbage", "bad_xml", "not well-formed"),
        ("/bomb", "unsafe_xml", "DTDForbidden"),
        ("/big", "too_large", "over the limit"),
        ("/away", "host_refused", "127.0.0.2"),
        ("/loop", "too_many_redirects", "more than 3"),
        ("/jump7", "bad_verb", "context 7"),
    ],
)
def test_failures_have_their_result_and_reason(server: WebhookServer, path: str, result: str, reason: str) -> None:
    ivr = Ivr(extension="071", entry_context=1, contexts=(Context(id=1),))
    outcome, _ = fetch(WebhookClient(), get(server, path), ivr=ivr)
    assert outcome.result == result and reason in outcome.reason, outcome
    assert outcome.verbs == ()


def test_a_redirect_to_another_host_is_refused_before_it_is_followed(server: WebhookServer, other: WebhookServer) -> None:
    assert fetch(WebhookClient(), get(server, "/away"))[0].result == "host_refused"
    assert other.seen == []


def test_redirects_on_the_same_host_are_followed(server: WebhookServer) -> None:
    outcome, _ = fetch(WebhookClient(), get(server, "/home", "POST"))
    assert outcome.result == "ok" and len(outcome.verbs) == 10
    assert [s.method for s in server.seen] == ["POST", "GET"]  # 302 turns a POST into a GET


def test_with_an_allow_list_redirects_go_to_listed_hosts_only(server: WebhookServer, other: WebhookServer) -> None:
    both = WebhookClient(WebhookSettings(allowed_hosts=frozenset({"127.0.0.1", "127.0.0.2"})))
    assert fetch(both, get(server, "/away"))[0].verbs == (Hangup(),)
    assert len(other.seen) == 1
    only_other = WebhookClient(WebhookSettings(allowed_hosts=frozenset({"127.0.0.2"})))
    outcome, _ = fetch(only_other, get(server, "/verbs"))
    assert outcome.result == "host_refused" and server.seen[-1].path == "/away"  # /verbs never asked


def test_nothing_listening_is_a_connection_error() -> None:
    request = build_request("http://127.0.0.1:9/hook", "GET", FACTS)
    assert fetch(WebhookClient(), request)[0].result == "connection_error"


def test_cancelling_mid_request_ends_it_as_cancelled_once(server: WebhookServer) -> None:
    client = WebhookClient(WebhookSettings(deadline_s=30))
    outcomes = Outcomes()
    handle = client.fetch(get(server, "/slow"), outcomes)
    assert server.arrived.wait(5)
    handle.cancel()
    handle.cancel()
    outcome = outcomes.one()
    assert outcome.result == "cancelled" and outcome.seconds < 10
    assert fetch(client, get(server, "/verbs"))[0].result == "ok"


def test_cancelling_before_it_starts_still_delivers_one_outcome(server: WebhookServer) -> None:
    outcomes = Outcomes()
    handle = WebhookClient().fetch(get(server, "/verbs"), outcomes)
    handle.cancel()
    assert outcomes.one().result == "cancelled"
    assert server.seen == []


def test_500_slow_requests_run_at_once(server: WebhookServer) -> None:
    server.routes["/slow1"] = sleeping(1.0, b"<Response><Pause/></Response>")
    outcomes = Outcomes(500)
    client = WebhookClient(WebhookSettings(deadline_s=60))
    for _ in range(500):
        client.fetch(get(server, "/slow1"), outcomes)
    assert [o.result for o in outcomes.all()].count("ok") == 500
    assert server.most_in_progress == 500  # all were waiting on the server together


def test_observer_sees_every_outcome_with_a_known_result(server: WebhookServer) -> None:
    seen: list[WebhookOutcome] = []
    client = WebhookClient(WebhookSettings(deadline_s=0.2), observe=seen.append)
    for path in ("/verbs", "/slow", "/error"):
        fetch(client, get(server, path))
    assert [o.result for o in seen] == ["ok", "timeout", "http_error"]
    assert {o.result for o in seen} <= set(RESULTS)


def test_outcomes_feed_the_webhook_metrics(server: WebhookServer) -> None:
    registry = CollectorRegistry()
    client = WebhookClient(WebhookSettings(deadline_s=0.2), observe=Metrics(registry, lambda: 0).webhook_done)
    for path in ("/verbs", "/verbs", "/garbage"):
        fetch(client, get(server, path))

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("ivr_webhook_requests_total", result="ok") == 2
    assert sample("ivr_webhook_requests_total", result="bad_xml") == 1
    assert sample("ivr_webhook_requests_total", result="timeout") == 0
    assert sample("ivr_webhook_seconds_count") == 3


CERT = Path(__file__).parents[1] / "voicemail" / "relay-cert.pem"  # localhost and 127.0.0.1


def server_tls() -> ssl.SSLContext:
    context = gevent.ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERT, CERT.with_name("relay-key.pem"))
    return context


def test_https_webhooks_verify_the_certificate_and_run_concurrently() -> None:
    routes = {"/verbs": lambda _: xml(ALL_VERBS), "/slow1": sleeping(0.5), "/down": redirect("http://127.0.0.1:9/verbs")}
    with serving(WebhookServer(routes), server_tls()) as tls:
        outcomes = Outcomes(20)
        client = WebhookClient(WebhookSettings(ca_file=CERT, deadline_s=30))
        for _ in range(20):
            client.fetch(get(tls, "/slow1"), outcomes)
        assert [o.result for o in outcomes.all()] == ["ok"] * 20 and tls.most_in_progress == 20
        assert fetch(client, get(tls, "/verbs"))[0].result == "ok"
        assert fetch(client, get(tls, "/down"))[0].result == "host_refused"  # never from https to http
        unverified, _ = fetch(WebhookClient(), get(tls, "/verbs"))  # the system's CAs do not know it
        assert unverified.result == "connection_error" and "CERTIFICATE_VERIFY_FAILED" in unverified.reason
