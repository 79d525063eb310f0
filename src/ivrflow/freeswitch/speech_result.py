"""The words of a DETECTED_SPEECH result, read safely from the event's body.

With `Speech-Type: detected-speech` FreeSWITCH's speech thread puts the
engine's result in the event body as it got it (switch_ivr_async.c). The
engines of mod_unimrcp and mod_pocketsphinx give NLSML (RFC 6787 §9.6): a
`<result>` of `<interpretation>`s, each with an `<input mode="speech">` holding
the words heard, or a `<nomatch/>` or `<noinput/>` in their place; with the
MRCPv2 namespace or without. The first input is the transcription. The body
comes from the switch and, through it, from an outside engine: it may hold no
DTD, entity or external reference (defusedxml).
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

import defusedxml

from .. import safe_xml

# A result is a few hundred bytes; more is not an NLSML result worth parsing.
MAX_RESULT_BYTES = 64 << 10


def transcription(body: str) -> str | None:
    """The words heard, whitespace runs as one space ("" when the result says none);
    None when the body is not an NLSML result."""
    if len(body) > MAX_RESULT_BYTES:
        return None
    try:
        root = safe_xml.parse(body)
    except (defusedxml.DefusedXmlException, ParseError):
        return None
    if _local(root) != "result":
        return None
    for element in root.iter():
        if _local(element) == "input":
            return " ".join("".join(element.itertext()).split())
    return ""


def _local(element: Element) -> str:
    """The tag without its namespace: `{http://www.ietf.org/xml/ns/mrcpv2}input` is `input`."""
    return element.tag.rpartition("}")[2] if isinstance(element.tag, str) else ""
