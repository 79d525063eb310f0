"""The webhook HTTP client of the gevent daemon: many requests at once, none blocking a call.

urllib3 with cooperative sockets (gevent's, whether or not the process is
monkey-patched), one pool per host that keeps connections alive for reuse.
At most `max_in_flight` requests run at once (the bound on sockets); one that
waits for a slot spends its own deadline doing so. Each request has one
deadline for everything (slot, connect, send, reply). Redirects are followed
by hand, at most `max_redirects`, and only to allowed hosts: the allow-list
when one is set, else the request's own host; never from https to http.

`fetch` returns a handle whose `cancel()` stops the request (the caller hung
up); `on_outcome` is called exactly once per request, cancelled or not, in a
greenlet of its own.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import gevent
import gevent.lock
import gevent.ssl
import urllib3
from urllib3.exceptions import HTTPError

from ..cooperative_http import POOL_CLASSES
from ..menu.model import Ivr
from .outcome import Result, WebhookOutcome
from .reply import MAX_REPLY_BYTES, ReplyFailure, parse_reply
from .request import WebhookRequest

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_S = 5.0
REDIRECTS = frozenset({301, 302, 303, 307, 308})
OnOutcome = Callable[[WebhookOutcome], None]


class _Deadline(Exception):
    """The request's deadline ran out (a private exception so no other timeout is mistaken for it)."""


class _Refused(Exception):
    def __init__(self, result: Result, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.result: Result = result
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    deadline_s: float = DEFAULT_DEADLINE_S  # per request unless the rule gives its own
    allowed_hosts: frozenset[str] | None = None  # None: any host; redirects stay on the request's host
    max_in_flight: int = 1000
    max_hosts: int = 100  # hosts whose idle connections are kept
    max_redirects: int = 3
    max_reply_bytes: int = MAX_REPLY_BYTES
    ca_file: Path | None = None  # CA of https webhooks; None: the system's
    allowed_variables: frozenset[str] = frozenset()  # switch-acting variables a reply may set anyway


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """gevent's context class, so TLS handshakes and reads yield to other calls.

    (gevent.ssl.create_default_context would build the standard library's.)
    """
    context: ssl.SSLContext = gevent.ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the certificate and the host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is None:
        context.load_default_certs()
    else:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class RequestHandle:
    def __init__(self, greenlet: gevent.Greenlet) -> None:
        self._greenlet = greenlet

    def cancel(self) -> None:
        """Stop the request if it is still running; its outcome is then `cancelled`."""
        self._greenlet.kill(block=False)

    @property
    def done(self) -> bool:
        return bool(self._greenlet.dead)


class WebhookClient:
    def __init__(
        self, settings: WebhookSettings = WebhookSettings(), observe: OnOutcome | None = None
    ) -> None:
        """`observe` sees every outcome too (metrics), before the request's own callback."""
        self.settings = settings
        self._observe = observe
        self._slots = gevent.lock.BoundedSemaphore(settings.max_in_flight)
        self._pools = urllib3.PoolManager(
            num_pools=settings.max_hosts,
            maxsize=settings.max_in_flight,  # never more in flight, so the pool never overflows
            block=False,  # urllib3's own waiting would block the hub; the slots bound it
            retries=False,
            ssl_context=_tls_context(settings.ca_file),
        )
        self._pools.pool_classes_by_scheme = dict(POOL_CLASSES)
        self._allowed = None if settings.allowed_hosts is None else frozenset(h.lower() for h in settings.allowed_hosts)

    def fetch(
        self, request: WebhookRequest, on_outcome: OnOutcome, deadline_s: float | None = None, ivr: Ivr | None = None
    ) -> RequestHandle:
        """Start a request; `ivr`, when given, is where the reply's Jump verbs must lead."""
        started = time.monotonic()
        greenlet = gevent.spawn(self._run, request, deadline_s or self.settings.deadline_s, ivr, started)
        greenlet.link(lambda done: self._deliver(done, on_outcome, started))
        return RequestHandle(greenlet)

    def close(self) -> None:
        self._pools.clear()

    def _deliver(self, done: gevent.Greenlet, on_outcome: OnOutcome, started: float) -> None:
        outcome = done.value
        if not isinstance(outcome, WebhookOutcome):  # killed before it started
            outcome = WebhookOutcome("cancelled", time.monotonic() - started, reason="cancelled before it started")
        for deliver in (self._observe, on_outcome):
            if deliver is not None:
                try:
                    deliver(outcome)
                except Exception:
                    log.exception("webhook outcome callback failed")

    def _run(self, request: WebhookRequest, deadline_s: float, ivr: Ivr | None, started: float) -> WebhookOutcome:
        def outcome(result: Result, reason: str, status: int | None = None) -> WebhookOutcome:
            return WebhookOutcome(result, time.monotonic() - started, status=status, reason=reason)

        try:
            with gevent.Timeout(deadline_s, _Deadline):
                with self._slots:
                    status, body = self._exchange(request, deadline_s)
        except _Deadline:
            return outcome("timeout", f"no reply within {deadline_s:g} s")
        except gevent.GreenletExit:
            return outcome("cancelled", "cancelled (caller hung up)")
        except _Refused as refused:
            return outcome(refused.result, refused.reason, refused.status)
        except (HTTPError, OSError) as error:
            return outcome("connection_error", f"{type(error).__name__}: {error}")
        except Exception:
            log.exception("webhook request to %s failed inside ivrflow", request.host)
            return outcome("internal_error", "internal error (logged)")
        if not 200 <= status < 300:
            return outcome("http_error", f"HTTP status {status}", status)
        reply = parse_reply(body, ivr, self.settings.max_reply_bytes, self.settings.allowed_variables)
        if isinstance(reply, ReplyFailure):
            return outcome(reply.kind, reply.reason, status)
        return WebhookOutcome("ok", time.monotonic() - started, reply.verbs, status)

    def _exchange(self, request: WebhookRequest, deadline_s: float) -> tuple[int, bytes]:
        """Status and body of the final response, after the allowed redirects."""
        method, url, body, headers = request.method, request.url, request.body, dict(request.headers)
        allowed = self._allowed if self._allowed is not None else {(urlsplit(url).hostname or "").lower()}
        self._check_host(url, allowed, "")
        for _ in range(self.settings.max_redirects + 1):
            response = self._pools.urlopen(
                method, url, body=body, headers=headers, redirect=False, preload_content=False,
                decode_content=False, timeout=urllib3.Timeout(connect=deadline_s, read=deadline_s),
            )
            try:
                reply = self._read(response)  # a redirect's too, so its connection can be reused
            finally:
                response.release_conn()
            if response.status not in REDIRECTS:
                return response.status, reply
            location = response.headers.get("Location")
            if not location:
                raise _Refused("http_error", f"redirect {response.status} without Location", response.status)
            target = urljoin(url, location)
            if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
                raise _Refused("host_refused", f"redirect from https to {target!r} refused", response.status)
            self._check_host(target, allowed, " (redirect)")
            if response.status in (301, 302, 303) and method == "POST":
                method, body = "GET", None  # as browsers do; 307 and 308 keep the form
                headers.pop("Content-Type", None)
            url = target
        raise _Refused("too_many_redirects", f"more than {self.settings.max_redirects} redirects")

    def _check_host(self, url: str, allowed: Iterable[str], what: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https"):
            raise _Refused("host_refused", f"{url!r}{what}: only http and https are followed")
        if host not in allowed:
            raise _Refused("host_refused", f"host {host!r}{what} is not allowed")

    def _read(self, response: urllib3.BaseHTTPResponse) -> bytes:
        limit = self.settings.max_reply_bytes
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            response.close()
            raise _Refused("too_large", f"reply of {length} bytes is over the limit of {limit}", response.status)
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= limit:
                chunk = response.read(min(65536, limit + 1 - size))
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                size += len(chunk)
        except BaseException:
            response.close()  # a half-read connection is not reused
            raise
        response.close()
        raise _Refused("too_large", f"reply is over the limit of {limit} bytes", response.status)

