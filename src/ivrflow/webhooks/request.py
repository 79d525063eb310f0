"""The call_interactive request, built from a call's facts (pure: no I/O).

The documented parameters go in the query string (GET) or a form body
(POST), followed by the call's variables; a variable never replaces a
documented parameter. Parameters the call does not have (`CalledDID` when
unknown, `CallerExtension`/`CallerExtensionID` for outside callers) are left
out. In the URL, `$name` (letters, digits and `_`) and `${name}` (any variable
name) are replaced by the URL-encoded value of that variable or documented
parameter (`$CallerIDNum`), empty when there is none; the fragment is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from .. import __version__

Method = Literal["GET", "POST"]

# `${name}` takes the menu model's variable-name grammar; bare `$name` stops at
# the first character that is not a letter, digit or `_`, so `$id.xml` is `$id`.
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]{0,63})\}|\$([A-Za-z_][A-Za-z0-9_]{0,63})")
FORM_TYPE = "application/x-www-form-urlencoded"


class BadWebhookUrl(ValueError):
    """The URL, once its variables are filled in, is not an http(s) URL with a host."""


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the request tells the webhook about the call (spec §3)."""

    call_id: str
    caller_id_num: str
    caller_id_name: str
    called_extension: str  # clientprefix*name, e.g. 000*071
    called_number: str
    call_api_id: str  # stable across transfers
    called_did: str | None = None
    called_extension_id: int | None = None
    caller_extension: str | None = None  # internal callers only
    caller_extension_id: int | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A request ready for the HTTP client: the URL includes the query for GET."""

    method: Method
    url: str
    body: bytes | None
    headers: tuple[tuple[str, str], ...]

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


def parameters(facts: CallFacts) -> list[tuple[str, str]]:
    documented: list[tuple[str, str | int | None]] = [
        ("EventType", "call_interactive"),
        ("CallID", facts.call_id),
        ("CallerIDNum", facts.caller_id_num),
        ("CallerIDName", facts.caller_id_name),
        ("CalledDID", facts.called_did),
        ("CalledExtension", facts.called_extension),
        ("CalledExtensionID", facts.called_extension_id),
        ("CallStatus", "ANSWER"),
        ("CallFlow", "IN"),
        ("CallerExtension", facts.caller_extension),
        ("CallerExtensionID", facts.caller_extension_id),
        ("CalledNumber", facts.called_number),
        ("CallAPIID", facts.call_api_id),
    ]
    pairs = [(name, str(value)) for name, value in documented if value is not None]
    taken = {name for name, _ in documented}
    pairs.extend((name, value) for name, value in facts.variables.items() if name not in taken)
    return pairs


def expand_url(template: str, variables: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return quote(variables.get(match.group(1) or match.group(2), ""), safe="")

    url = _PLACEHOLDER.sub(value, template)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadWebhookUrl(f"{url!r} is not an http:// or https:// URL with a host")
    return urlunsplit(parts._replace(fragment=""))


def encode_form(pairs: list[tuple[str, str]]) -> str:
    """application/x-www-form-urlencoded as browsers write it: `*` stays itself (WHATWG URL, §5.2).

    Besides being the standard, it spares the HTTP client a pass: urllib3
    re-checks every request target byte by byte when it holds a `%`, and the
    extension of every request (`000*071`) would otherwise put one there.
    """
    return urlencode(pairs, safe="*")


def build_request(url_template: str, method: Method, facts: CallFacts) -> WebhookRequest:
    """The request of one call_interactive rule; raises BadWebhookUrl."""
    pairs = parameters(facts)
    url = expand_url(url_template, {**facts.variables, **dict(pairs)})
    form = encode_form(pairs)
    headers = [("User-Agent", f"ivrflow/{__version__}"), ("Accept", "application/xml, text/xml")]
    if method == "GET":
        joiner = "&" if urlsplit(url).query else "?"
        return WebhookRequest("GET", url + joiner + form, None, tuple(headers))
    headers.append(("Content-Type", FORM_TYPE))
    return WebhookRequest("POST", url, form.encode("ascii"), tuple(headers))
