"""Work a call asks for that runs outside it (an HTTP request), and how its result comes back.

The driver hands a FetchWebhook to the `OutsideWork` it was given and keeps
the returned handle; the work calls `reply` exactly once, from any greenlet,
with the reply's verbs or an error, and the driver posts that to the call's
inbox as WebhookReplied. CancelWebhook, or the call's end, cancels it; a
reply after that is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..engine import FetchWebhook
from ..menu.model import Ivr
from ..menu.verbs import Verb
from .info import CallInfo

Reply = Callable[[tuple[Verb, ...], str | None], None]  # (verbs, error)


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class OutsideWork(Protocol):
    def fetch_webhook(self, info: CallInfo, ivr: Ivr, fetch: FetchWebhook, reply: Reply) -> Cancellable:
        """Start the request; `ivr` is where the reply's Jumps must lead."""


class NothingToCancel:
    """The handle of work that never started, or is already over."""

    def cancel(self) -> None:
        pass


class NoOutsideWork:
    """For runtimes without a webhook client: every request fails at once, and the menu goes on."""

    def fetch_webhook(self, info: CallInfo, ivr: Ivr, fetch: FetchWebhook, reply: Reply) -> Cancellable:
        reply((), "this runtime makes no webhook requests")
        return NothingToCancel()
