"""XML from outside (a webhook's reply, a speech engine's result), parsed safely.

No DTD, entity or external reference (defusedxml: DefusedXmlException), a
ParseError for what is not well-formed, and nothing left in a reference
cycle: xml.etree raises ParseError while its own frame still holds the expat
error it replaces, whose traceback holds that frame, a cycle that keeps every
frame up the stack (a call's) alive until a full collection, which the
daemon makes rare (service/gc_schedule.py).
"""

from __future__ import annotations

import traceback
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeTree


def parse(text: str | bytes) -> Element:
    try:
        root: Element = SafeTree.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except ParseError as error:
        seen: BaseException | None = error
        while seen is not None:
            traceback.clear_frames(seen.__traceback__)
            seen = seen.__context__
        raise
    return root
