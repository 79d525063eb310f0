"""What a webhook request came to: the reply's verbs or why there are none.

`result` is the label of `ivr_webhook_requests_total{result}`; the set is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from ..menu.verbs import Verb

Result = Literal[
    "ok",  # a 2xx reply whose verbs all parsed
    "bad_url",  # the URL with its variables filled in is not http(s) with a host (request.BadWebhookUrl)
    "timeout",  # the deadline ran out (waiting for a slot, connecting, sending or reading)
    "connection_error",  # no connection, or it broke
    "http_error",  # a status other than 2xx (after any redirects followed)
    "host_refused",  # the host, or a redirect's, is not allowed
    "too_many_redirects",
    "too_large",  # the reply is over the size limit
    "bad_xml",  # empty, not well-formed, or not <Response>
    "unsafe_xml",  # DTD, entities or external references
    "unknown_verb",
    "bad_verb",  # a verb with a bad or missing attribute or value
    "cancelled",  # the caller hung up (the request was cancelled)
    "internal_error",  # a fault in ivrflow; logged with its traceback
]
RESULTS: tuple[Result, ...] = get_args(Result)


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    result: Result
    seconds: float  # from the request's start to its outcome
    verbs: tuple[Verb, ...] = ()  # only when ok
    status: int | None = None  # the last HTTP status seen, if any
    reason: str = ""  # what went wrong, for the log; empty when ok

    @property
    def ok(self) -> bool:
        return self.result == "ok"
