"""call_interactive requests of the daemon's calls, through the shared webhook client.

The call layer hands over a FetchWebhook; this builds the documented request
from what the switch said about the call, starts it on the client, and turns
its outcome into the call's reply: the verbs, or an error naming the result
(the label `ivr_webhook_requests_total` counts it under).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..calls.info import CallInfo
from ..calls.outside import Cancellable, NothingToCancel, Reply
from ..engine import FetchWebhook
from ..menu.model import Ivr
from ..webhooks.client import RequestHandle, WebhookClient
from ..webhooks.outcome import WebhookOutcome
from ..webhooks.request import BadWebhookUrl, CallFacts, build_request

log = logging.getLogger("ivrflow.webhook")


class WebhookWork:
    def __init__(self, client: WebhookClient, client_prefix: str, observe: Callable[[WebhookOutcome], None]) -> None:
        """`observe` counts what never reaches the client (a URL that is not one)."""
        self.client = client
        self.client_prefix = client_prefix
        self._observe = observe

    def fetch_webhook(self, info: CallInfo, ivr: Ivr, fetch: FetchWebhook, reply: Reply) -> Cancellable:
        facts = CallFacts(
            call_id=info.call_id,
            caller_id_num=info.caller_number,
            caller_id_name=info.caller_name,
            called_extension=f"{self.client_prefix}*{ivr.extension}",
            called_number=info.destination,
            call_api_id=info.call_id,
            called_extension_id=ivr.id,
            variables=dict(fetch.variables),
        )
        try:
            request = build_request(fetch.url, fetch.method, facts)
        except BadWebhookUrl as exc:
            self._observe(WebhookOutcome("bad_url", 0.0, reason=str(exc)))
            log.warning("call_interactive: %s", exc, extra={"call": info.call_id})
            reply((), f"bad_url: {exc}")
            return NothingToCancel()

        def delivered(outcome: WebhookOutcome) -> None:
            if outcome.ok:
                reply(outcome.verbs, None)
                return
            if outcome.result != "cancelled":
                log.warning("call_interactive to %s: %s (%s)", request.host, outcome.result, outcome.reason, extra={"call": info.call_id})
            reply((), f"{outcome.result}: {outcome.reason}")

        handle: RequestHandle = self.client.fetch(request, delivered, fetch.deadline_s, ivr)
        return handle
