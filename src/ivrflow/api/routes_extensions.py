"""/client/{client_id}/extension/ and /extension/{id}/ivr/: extensions and their ivr settings."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..menu.model import Ivr
from ..menu.problems import format_path, from_validation_error
from .auth import Db, Me, same_client
from .errors import ApiError, bad, not_found
from .schemas import ERRORS, Id, ExtensionOut, IvrOut
from .store import IVR_DEFAULTS, bare_name, checked_ivr, settings_of
from .tables import Client, ExtensionRow

router = APIRouter(responses=ERRORS)

TYPES = ("phone", "queue", "ivr", "fax")
STORED: dict[str, type | tuple[type, ...]] = {
    "caller_id_name": str, "ani_rfc3325": bool, "did_as_transfer_caller_id": str, "dial_rule_id": int,
    "dial_rule_limit": int, "extension_group_id": int, "message_did": str, "extra_params": str,
}
STORED_DEFAULTS: dict[str, Any] = {name: None for name in STORED} | {"ani_rfc3325": False}


def owned_extension(session: Session, me: int, extension_id: Id) -> ExtensionRow:
    row = session.get(ExtensionRow, extension_id)
    if row is None or row.client != me:
        raise not_found()
    return row


def owned_ivr(session: Session, me: int, extension_id: Id) -> ExtensionRow:
    row = owned_extension(session, me, extension_id)
    if row.type != "ivr":
        raise not_found()
    return row


def extension_out(row: ExtensionRow, domain: str) -> dict[str, Any]:
    return {
        "id": row.id, "client_id": row.client, "name": row.name, "type": row.type, "status": row.status,
        "label": row.label, "domain": domain, "create_date": row.create_date, **STORED_DEFAULTS, **row.fields,
    }


def _apply(row: ExtensionRow, body: dict[str, Any], prefix: str, creating: bool) -> None:
    known = {"name", "type", "status", "label", *STORED}
    for key in body:
        if key not in known:
            raise bad(key, f"unknown field; known: {', '.join(sorted(known))}")
    if creating and "name" not in body:
        raise bad("name", "required")
    kind = body.get("type", row.type if not creating else "ivr")
    if kind not in TYPES:
        raise bad("type", f"{kind!r} is not one of {', '.join(TYPES)}")
    if not creating and kind != row.type:
        raise bad("type", "an extension's type cannot change; delete it and create another")
    name = body.get("name", bare_name(row.name) if not creating else None)
    label = body.get("label", row.label if not creating else "")
    status = body.get("status", row.status if not creating else "active")
    try:
        Ivr.model_validate({"extension": name, "label": label, "status": status})
    except ValidationError as exc:
        problem = from_validation_error(exc, ())[0]
        field = "name" if problem.path[:1] == ("extension",) else format_path(problem.path)
        raise bad(field, problem.message) from exc
    fields = dict(row.fields or {})
    for key, kinds in STORED.items():
        if key in body:
            value = body[key]
            if value is not None and (not isinstance(value, kinds) or isinstance(value, bool) is not (kinds is bool)):
                raise bad(key, f"must be {getattr(kinds, '__name__', kinds)} or null")
            fields[key] = value
    row.name, row.type, row.label, row.status, row.fields = f"{prefix}*{name}", kind, label, status, fields


def _unique_name(session: Session, row: ExtensionRow) -> None:
    clash = session.scalars(
        select(ExtensionRow).where(ExtensionRow.client == row.client, ExtensionRow.name == row.name, ExtensionRow.id != row.id)
    ).first()
    if clash is not None:
        raise bad("name", f"extension {bare_name(row.name)!r} exists already (id {clash.id})")


@router.post("/client/{client_id}/extension/", response_model=ExtensionOut)
def create_extension(
    client_id: str, me: Me, session: Db, request: Request, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    same_client(client_id, me)
    client = session.get(Client, me)
    assert client is not None
    row = ExtensionRow(client=me, fields={}, ivr=None,
                       create_date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"))
    _apply(row, body, client.prefix, creating=True)
    if row.type == "ivr":
        row.ivr = dict(IVR_DEFAULTS)
    _unique_name(session, row)
    session.add(row)
    if row.type == "ivr":
        checked_ivr(session, row)
    session.commit()
    return extension_out(row, request.app.state.domain)


@router.get("/client/{client_id}/extension/", response_model=list[ExtensionOut])
def list_extensions(
    client_id: str, me: Me, session: Db, request: Request, type: str | None = None
) -> list[dict[str, Any]]:
    same_client(client_id, me)
    query = select(ExtensionRow).where(ExtensionRow.client == me).order_by(ExtensionRow.id)
    if type is not None:
        query = query.where(ExtensionRow.type == type)
    return [extension_out(row, request.app.state.domain) for row in session.scalars(query)]


@router.get("/client/{client_id}/extension/{extension_id}", response_model=ExtensionOut)
def get_extension(client_id: str, extension_id: Id, me: Me, session: Db, request: Request) -> dict[str, Any]:
    same_client(client_id, me)
    return extension_out(owned_extension(session, me, extension_id), request.app.state.domain)


@router.put("/client/{client_id}/extension/{extension_id}", response_model=ExtensionOut)
def update_extension(
    client_id: str, extension_id: Id, me: Me, session: Db, request: Request, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    same_client(client_id, me)
    row = owned_extension(session, me, extension_id)
    client = session.get(Client, me)
    assert client is not None
    _apply(row, body, client.prefix, creating=False)
    _unique_name(session, row)
    if row.type == "ivr":
        checked_ivr(session, row)
    session.commit()
    return extension_out(row, request.app.state.domain)


@router.delete("/client/{client_id}/extension/{extension_id}", response_model=ExtensionOut)
def delete_extension(client_id: str, extension_id: Id, me: Me, session: Db, request: Request) -> dict[str, Any]:
    same_client(client_id, me)
    row = owned_extension(session, me, extension_id)
    out = extension_out(row, request.app.state.domain)
    session.delete(row)
    session.commit()
    return out


@router.get("/extension/{extension_id}/ivr/", response_model=IvrOut)
def get_ivr(extension_id: Id, me: Me, session: Db) -> dict[str, Any]:
    return dict(owned_ivr(session, me, extension_id).ivr or IVR_DEFAULTS)


@router.put("/extension/{extension_id}/ivr/", response_model=IvrOut)
def update_ivr(extension_id: Id, me: Me, session: Db, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    row = owned_ivr(session, me, extension_id)
    for key in body:
        if key not in IVR_DEFAULTS:
            raise bad(key, f"unknown field; the ivr settings are {', '.join(IVR_DEFAULTS)}")
    settings = {**(row.ivr or IVR_DEFAULTS), **body}
    if settings["entry_context"] is None:
        raise ApiError(400, "entry_context: must be a context id, or 0 for none")
    row.ivr = settings
    row.ivr = settings_of(checked_ivr(session, row, default_field="ivr"))
    session.commit()
    return row.ivr
