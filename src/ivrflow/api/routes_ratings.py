"""/client/{client_id}/quality_rate/: call quality ratings, listed with the source's filters."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Body
from sqlalchemy import select

from .auth import Db, Me, same_client
from .errors import bad
from .routes_extensions import owned_extension
from .schemas import ERRORS, MAX_ID, Id, QueryId, RatingOut
from .tables import RatingRow

router = APIRouter(responses=ERRORS)
FORMAT = "%Y-%m-%d %H:%M:%S"


def _out(row: RatingRow) -> dict[str, Any]:
    return {"id": row.id, "call_uuid": row.call_uuid, "datetime": row.datetime, "extension_id": row.extension_id,
            "client_id": row.client, "max_rate": row.max_rate, "rate": row.rate}


def _when(field: str, text: str) -> str:
    try:
        return datetime.strptime(text, FORMAT).strftime(FORMAT)
    except ValueError as exc:
        raise bad(field, f"{text!r} is not a date and time as YYYY-MM-DD HH:MM:SS") from exc


@router.get("/client/{client_id}/quality_rate/", response_model=list[RatingOut])
def list_ratings(
    client_id: str, me: Me, session: Db,
    start_datetime: str | None = None, end_datetime: str | None = None, extension_id: QueryId | None = None,
) -> list[dict[str, Any]]:
    same_client(client_id, me)
    query = select(RatingRow).where(RatingRow.client == me).order_by(RatingRow.id)
    if start_datetime is not None:
        query = query.where(RatingRow.datetime >= _when("start_datetime", start_datetime))
    if end_datetime is not None:
        query = query.where(RatingRow.datetime <= _when("end_datetime", end_datetime))
    if extension_id is not None:
        query = query.where(RatingRow.extension_id == extension_id)
    return [_out(row) for row in session.scalars(query)]


@router.post("/client/{client_id}/quality_rate/", response_model=RatingOut)
def add_rating(client_id: str, me: Me, session: Db, body: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """[ivrflow] How the runtime reports a caller's rating."""
    same_client(client_id, me)
    allowed = {"call_uuid", "datetime", "extension_id", "max_rate", "rate"}
    for key in body:
        if key not in allowed:
            raise bad(key, f"unknown field; a rating has {', '.join(sorted(allowed))}")
    for key in ("call_uuid", "extension_id", "max_rate", "rate"):
        if key not in body:
            raise bad(key, "required")
    uuid, ext_id, max_rate, rate = body["call_uuid"], body["extension_id"], body["max_rate"], body["rate"]
    if not isinstance(uuid, str) or not 0 < len(uuid) <= 64:
        raise bad("call_uuid", "must be a string of 1 to 64 characters")
    for key in ("extension_id", "max_rate", "rate"):
        if type(body[key]) is not int:
            raise bad(key, "must be an integer")
    if not 1 <= max_rate <= 9:
        raise bad("max_rate", "must be 1 to 9")
    if not 1 <= rate <= max_rate:
        raise bad("rate", f"must be 1 to max_rate ({max_rate})")
    if not 0 <= ext_id <= MAX_ID:
        raise bad("extension_id", "no such extension")
    owned_extension(session, me, ext_id)
    when = body.get("datetime")
    stamp = _when("datetime", when) if isinstance(when, str) else datetime.now(timezone.utc).strftime(FORMAT)
    if when is not None and not isinstance(when, str):
        raise bad("datetime", "must be a string YYYY-MM-DD HH:MM:SS")
    row = RatingRow(client=me, call_uuid=uuid, datetime=stamp, extension_id=ext_id, max_rate=max_rate, rate=rate)
    session.add(row)
    session.commit()
    return _out(row)
