"""/extension/{id}/ivr/context/...: contexts, their options, and the options' ordered rules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..menu.model import SPECIAL_OPTIONS
from .auth import Db, Me
from .errors import bad, not_found
from .routes_extensions import owned_ivr
from .schemas import ERRORS, Id, ContextOut, OptionOut, Order, RuleOut
from .store import (
    CONTEXT_DEFAULTS, CONTEXT_FIELDS, checked_ivr, context_fields, context_index, options_of, rule_data, rules_of,
)
from .tables import ContextRow, ExtensionRow, OptionRow, RuleRow
from .usage import context_users

router = APIRouter(responses=ERRORS)
CONTEXT = "/extension/{extension_id}/ivr/context/{context_id}"
OPTION = CONTEXT + "/options/{option_digits}"


def _context(session: Session, me: int, extension_id: Id, context_id: Id) -> tuple[ExtensionRow, ContextRow]:
    ext = owned_ivr(session, me, extension_id)
    row = session.get(ContextRow, context_id)
    if row is None or row.extension != ext.id:
        raise not_found()
    return ext, row


def _option(session: Session, me: int, extension_id: Id, context_id: Id, digits: str) -> tuple[ExtensionRow, ContextRow, OptionRow]:
    ext, context = _context(session, me, extension_id, context_id)
    row = session.scalars(select(OptionRow).where(OptionRow.context == context.id, OptionRow.digits == digits)).first()
    if row is None:
        raise not_found()
    return ext, context, row


def _context_fields(body: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    for key in body:
        if key not in CONTEXT_FIELDS:
            raise bad(key, f"unknown field; a context has {', '.join(CONTEXT_FIELDS)}")
    return {**base, **body}


def _save_context(session: Session, ext: ExtensionRow, row: ContextRow) -> dict[str, Any]:
    session.flush()
    focus = ("contexts", context_index(session, ext, row.id))
    row.fields = context_fields(checked_ivr(session, ext, focus, "context"), row.id)
    session.commit()
    return {"id": row.id, **row.fields}


@router.post("/extension/{extension_id}/ivr/context/", response_model=ContextOut)
def create_context(extension_id: Id, me: Me, session: Db, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    ext = owned_ivr(session, me, extension_id)
    row = ContextRow(extension=ext.id, fields=_context_fields(body, CONTEXT_DEFAULTS))
    session.add(row)
    session.flush()
    session.add_all(OptionRow(context=row.id, digits=digits) for digits in SPECIAL_OPTIONS)
    return _save_context(session, ext, row)


@router.get("/extension/{extension_id}/ivr/context/", response_model=list[ContextOut])
def list_contexts(extension_id: Id, me: Me, session: Db) -> list[dict[str, Any]]:
    ext = owned_ivr(session, me, extension_id)
    rows = session.scalars(select(ContextRow).where(ContextRow.extension == ext.id).order_by(ContextRow.id))
    return [{"id": row.id, **row.fields} for row in rows]


@router.get(CONTEXT, response_model=ContextOut)
def get_context(extension_id: Id, context_id: Id, me: Me, session: Db) -> dict[str, Any]:
    _, row = _context(session, me, extension_id, context_id)
    return {"id": row.id, **row.fields}


@router.put(CONTEXT, response_model=ContextOut)
def update_context(
    extension_id: Id, context_id: Id, me: Me, session: Db, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    ext, row = _context(session, me, extension_id, context_id)
    row.fields = _context_fields(body, row.fields)
    return _save_context(session, ext, row)


@router.delete(CONTEXT, response_model=ContextOut)
def delete_context(extension_id: Id, context_id: Id, me: Me, session: Db) -> dict[str, Any]:
    ext, row = _context(session, me, extension_id, context_id)
    users = [user for user in context_users(session, ext, row.id) if f"context {row.id}," not in user]
    if users:
        raise bad("context_id", f"context {row.id} is still used by {'; '.join(users)}; change those first")
    out = {"id": row.id, **row.fields}
    session.delete(row)
    checked_ivr(session, ext)
    session.commit()
    return out


@router.post("/extension/{extension_id}/ivr/context/{context_id}/options/", response_model=OptionOut)
def create_option(
    extension_id: Id, context_id: Id, me: Me, session: Db, body: Annotated[dict[str, Any], Body()]
) -> dict[str, str]:
    ext, context = _context(session, me, extension_id, context_id)
    unknown = sorted(set(body) - {"digits"})
    if unknown:
        raise bad(unknown[0], "unknown field; an option has only digits")
    digits = body.get("digits")
    if not isinstance(digits, str) or not digits:
        raise bad("digits", "required: start, timeout, invalid or a string of 0-9, * and #")
    if session.scalars(select(OptionRow).where(OptionRow.context == context.id, OptionRow.digits == digits)).first():
        raise bad("digits", f"context {context.id} has an option {digits!r} already")
    session.add(OptionRow(context=context.id, digits=digits))
    checked_ivr(session, ext, ("contexts", context_index(session, ext, context.id), "options", digits), "digits")
    session.commit()
    return {"digits": digits}


@router.get("/extension/{extension_id}/ivr/context/{context_id}/options/", response_model=list[OptionOut])
def list_options(extension_id: Id, context_id: Id, me: Me, session: Db) -> list[dict[str, str]]:
    _, context = _context(session, me, extension_id, context_id)
    return [{"digits": row.digits} for row in options_of(session, context.id)]


@router.delete(OPTION, response_model=OptionOut)
def delete_option(extension_id: Id, context_id: Id, option_digits: str, me: Me, session: Db) -> dict[str, str]:
    ext, _, row = _option(session, me, extension_id, context_id, option_digits)
    if row.digits in SPECIAL_OPTIONS:
        raise bad("option_digits", f"{row.digits} is part of every context and cannot be deleted; delete its rules instead")
    session.delete(row)
    checked_ivr(session, ext)
    session.commit()
    return {"digits": option_digits}


def _save_rule(session: Session, ext: ExtensionRow, context: ContextRow, option: OptionRow, row: RuleRow) -> RuleOut:
    session.flush()
    position = [r.id for r in rules_of(session, option.id)].index(row.id)
    focus = ("contexts", context_index(session, ext, context.id), "options", option.digits, position)
    ivr = checked_ivr(session, ext, focus, "action")
    parsed = ivr.contexts[focus[1]].options[option.digits][position]
    row.params = parsed.model_dump(mode="json", exclude={"id"})
    session.commit()
    return rule_data(row)


def _params(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "id"}


@router.post(OPTION + "/rules/", response_model=RuleOut)
def create_rule(
    extension_id: Id, context_id: Id, option_digits: str, me: Me, session: Db,
    body: Annotated[dict[str, Any], Body()],
) -> RuleOut:
    ext, context, option = _option(session, me, extension_id, context_id, option_digits)
    last = session.scalar(select(func.max(RuleRow.position)).where(RuleRow.option == option.id))
    row = RuleRow(option=option.id, position=(last or 0) + 1, params=_params(body))
    session.add(row)
    return _save_rule(session, ext, context, option, row)


@router.get(OPTION + "/rules/", response_model=list[RuleOut])
def list_rules(extension_id: Id, context_id: Id, option_digits: str, me: Me, session: Db) -> list[RuleOut]:
    _, _, option = _option(session, me, extension_id, context_id, option_digits)
    return [rule_data(row) for row in rules_of(session, option.id)]


@router.get(OPTION + "/rules/order/", response_model=Order)
def get_order(extension_id: Id, context_id: Id, option_digits: str, me: Me, session: Db) -> dict[str, list[int]]:
    _, _, option = _option(session, me, extension_id, context_id, option_digits)
    return {"order": [row.id for row in rules_of(session, option.id)]}


@router.put(OPTION + "/rules/order/", response_model=Order)
def set_order(
    extension_id: Id, context_id: Id, option_digits: str, me: Me, session: Db, body: Annotated[dict[str, Any], Body()]
) -> dict[str, list[int]]:
    ext, _, option = _option(session, me, extension_id, context_id, option_digits)
    rows = {row.id: row for row in rules_of(session, option.id)}
    order = body.get("order")
    if set(body) != {"order"} or not isinstance(order, list) or not all(type(i) is int for i in order):
        raise bad("order", "required: the list of this option's rule ids, in the order they are to run")
    if sorted(order) != sorted(rows):
        raise bad("order", f"must list each of this option's rules once: {sorted(rows)}")
    for position, rule_id in enumerate(order, start=1):
        rows[rule_id].position = position
    checked_ivr(session, ext)
    session.commit()
    return {"order": order}


def _rule(session: Session, me: int, extension_id: Id, context_id: Id, digits: str, rule_id: Id) -> tuple[ExtensionRow, ContextRow, OptionRow, RuleRow]:
    ext, context, option = _option(session, me, extension_id, context_id, digits)
    row = session.get(RuleRow, rule_id)
    if row is None or row.option != option.id:
        raise not_found()
    return ext, context, option, row


@router.get(OPTION + "/rules/{rule_id}", response_model=RuleOut)
def get_rule(extension_id: Id, context_id: Id, option_digits: str, rule_id: Id, me: Me, session: Db) -> RuleOut:
    return rule_data(_rule(session, me, extension_id, context_id, option_digits, rule_id)[3])


@router.put(OPTION + "/rules/{rule_id}", response_model=RuleOut)
def update_rule(
    extension_id: Id, context_id: Id, option_digits: str, rule_id: Id, me: Me, session: Db,
    body: Annotated[dict[str, Any], Body()],
) -> RuleOut:
    ext, context, option, row = _rule(session, me, extension_id, context_id, option_digits, rule_id)
    row.params = _params(body)
    return _save_rule(session, ext, context, option, row)


@router.delete(OPTION + "/rules/{rule_id}", response_model=RuleOut)
def delete_rule(extension_id: Id, context_id: Id, option_digits: str, rule_id: Id, me: Me, session: Db) -> RuleOut:
    ext, _, _, row = _rule(session, me, extension_id, context_id, option_digits, rule_id)
    out = rule_data(row)
    session.delete(row)
    checked_ivr(session, ext)
    session.commit()
    return out
