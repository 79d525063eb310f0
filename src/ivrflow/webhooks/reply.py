"""Parsing a call_interactive reply into verbs (pure), safely.

The XML may hold no DTD, entity or external reference (defusedxml refuses
them before anything is expanded, so a billion-laughs reply costs nothing), is
at most `MAX_REPLY_BYTES`, and its root is `<Response>` whose children are
verbs. Any unknown verb or bad attribute rejects the whole reply: half a
script is never run.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from pydantic import ValidationError

from .. import safe_xml
from ..menu.model import Ivr
from ..menu.switch_variables import refusal
from ..menu.verbs import VERBS, Jump, PlaySound, SetVar, Verb

MAX_REPLY_BYTES = 64 * 1024
MAX_VERBS = 100

ReplyFailureKind = Literal["too_large", "bad_xml", "unsafe_xml", "unknown_verb", "bad_verb"]


@dataclass(frozen=True, slots=True)
class Reply:
    verbs: tuple[Verb, ...]


@dataclass(frozen=True, slots=True)
class ReplyFailure:
    kind: ReplyFailureKind
    reason: str


def parse_reply(
    body: bytes, ivr: Ivr | None = None, max_bytes: int = MAX_REPLY_BYTES, allowed_variables: Collection[str] = ()
) -> Reply | ReplyFailure:
    """The verbs of a reply, or why it is refused; with `ivr`, Jump targets must exist in it.

    A variable the reply would set (SetVar, PlaySound's digitvar) may not be one
    the switch acts on by itself, as in a menu (`allowed_variables` as there).
    """
    if len(body) > max_bytes:
        return ReplyFailure("too_large", f"reply of {len(body)} bytes is over the limit of {max_bytes}")
    if not body.strip():
        return ReplyFailure("bad_xml", "empty reply; expected <Response>...</Response>")
    try:
        root = safe_xml.parse(body)
    except defusedxml.DefusedXmlException as refused:
        return ReplyFailure("unsafe_xml", f"refused: {type(refused).__name__} (no DTD, entities or external references)")
    except ParseError as error:
        return ReplyFailure("bad_xml", f"not well-formed XML: {error}")
    if root.tag != "Response":
        return ReplyFailure("bad_xml", f"root element is <{root.tag}>, expected <Response>")
    if (root.text or "").strip() or any((child.tail or "").strip() for child in root):
        return ReplyFailure("bad_xml", "text directly inside <Response>; put it in a verb")
    if len(root) > MAX_VERBS:
        return ReplyFailure("bad_verb", f"{len(root)} verbs, at most {MAX_VERBS} are allowed")
    verbs: list[Verb] = []
    for index, element in enumerate(root):
        verb = _verb(element, index)
        if isinstance(verb, ReplyFailure):
            return verb
        if isinstance(verb, Jump) and ivr is not None:
            problem = _jump_problem(verb, ivr)
            if problem:
                return ReplyFailure("bad_verb", f"verb {index} <Jump>: {problem}")
        name = verb.name if isinstance(verb, SetVar) else verb.digitvar if isinstance(verb, PlaySound) else None
        not_settable = None if name is None else refusal(name, allowed_variables)
        if not_settable:
            return ReplyFailure("bad_verb", f"verb {index} <{type(verb).__name__}>: {not_settable}")
        verbs.append(verb)
    return Reply(tuple(verbs))


def _verb(element: Element, index: int) -> Verb | ReplyFailure:
    tag = element.tag
    cls = VERBS.get(tag)
    where = f"verb {index} <{tag}>"
    if cls is None:
        return ReplyFailure("unknown_verb", f"{where} is not a verb; use one of {', '.join(VERBS)}")
    unknown = sorted(set(element.attrib) - cls.ATTRIBUTES)
    if unknown:
        allowed = ", ".join(sorted(cls.ATTRIBUTES)) or "none"
        return ReplyFailure("bad_verb", f"{where}: unknown attribute {', '.join(unknown)} (allowed: {allowed})")
    if len(element):
        return ReplyFailure("bad_verb", f"{where}: verbs hold no elements")
    fields: dict[str, str] = dict(element.attrib)
    text = (element.text or "").strip()
    if cls.TEXT is not None:
        fields[cls.TEXT] = text
    elif text:
        return ReplyFailure("bad_verb", f"{where}: takes no text")
    try:
        return cls.model_validate(fields)
    except ValidationError as invalid:
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'verb'}: {error['msg']}" for error in invalid.errors()
        )
        return ReplyFailure("bad_verb", f"{where}: {details}")


def _jump_problem(verb: Jump, ivr: Ivr) -> str | None:
    target = ivr.context(verb.context)
    if target is None:
        return f"context {verb.context} is not a context of ivr {ivr.extension}"
    if verb.option not in ("start", "timeout", "invalid") and verb.option not in target.options:
        return f"context {verb.context} has no option {verb.option!r}"
    return None
