"""/client/{client_id}/sound/: upload, list, rename, replace, delete, and the telephony copy."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Form, Header, Query, UploadFile
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..menu.model import Sound
from ..menu.problems import format_path, from_validation_error
from .audio import MAX_BYTES, BadAudio, telephony_copy
from .auth import Db, Me, same_client
from .errors import ApiError, bad, not_found
from .schemas import ERRORS, Id, QueryId, SoundOut
from .store import sound_data
from .tables import ExtensionRow, SoundRow
from .usage import sound_users

from pydantic import ValidationError

router = APIRouter(responses=ERRORS)


def _sound(session: Session, me: int, client_id: str, sound_id: Id) -> SoundRow:
    same_client(client_id, me)
    row = session.get(SoundRow, sound_id)
    if row is None or row.client != me:
        raise not_found()
    return row


def _checked_fields(me: int, title: str, filename: str) -> None:
    try:
        Sound.model_validate({"id": 1, "title": title, "filename": filename, "client_id": me})
    except ValidationError as exc:
        problem = from_validation_error(exc, ())[0]
        field = "file" if problem.path[:1] == ("filename",) else format_path(problem.path)
        raise bad(field, problem.message) from exc


async def _audio(file: UploadFile) -> tuple[bytes, bytes, str]:
    data = await file.read(MAX_BYTES + 1)
    filename = (file.filename or "").rsplit("/", 1)[-1]
    if len(data) > MAX_BYTES:
        raise ApiError(413, f"file: larger than {MAX_BYTES} bytes (10 MB)")
    try:
        return data, telephony_copy(data, filename), filename
    except BadAudio as exc:
        raise bad("file", str(exc)) from exc


@router.post("/client/{client_id}/sound/", response_model=SoundOut)
async def upload(
    client_id: str, me: Me, session: Db, file: Annotated[UploadFile, File()], title: Annotated[str, Form()] = ""
) -> dict[str, Any]:
    same_client(client_id, me)
    original, telephony, filename = await _audio(file)
    _checked_fields(me, title, filename)
    row = SoundRow(client=me, title=title, filename=filename, original=original, telephony=telephony,
                   etag=hashlib.sha256(telephony).hexdigest())
    session.add(row)
    session.commit()
    return sound_data(row)


@router.get("/client/{client_id}/sound/", response_model=list[SoundOut])
def list_sounds(
    client_id: str, me: Me, session: Db, id: QueryId | None = None, title: Annotated[str | None, Query()] = None
) -> list[dict[str, Any]]:
    same_client(client_id, me)
    query = select(SoundRow).where(SoundRow.client == me).order_by(SoundRow.id)
    if id is not None:
        query = query.where(SoundRow.id == id)
    if title is not None:
        query = query.where(SoundRow.title == title)
    return [sound_data(row) for row in session.scalars(query)]


@router.get("/client/{client_id}/sound/{sound_id}", response_model=SoundOut)
def get_sound(client_id: str, sound_id: Id, me: Me, session: Db) -> dict[str, Any]:
    return sound_data(_sound(session, me, client_id, sound_id))


@router.put("/client/{client_id}/sound/{sound_id}", response_model=SoundOut)
def rename_sound(
    client_id: str, sound_id: Id, me: Me, session: Db, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    row = _sound(session, me, client_id, sound_id)
    unknown = sorted(set(body) - {"title"})
    if unknown:
        raise bad(unknown[0], "unknown field; a sound's only settable field is title")
    title = body.get("title", row.title)
    if not isinstance(title, str):
        raise bad("title", "must be a string")
    _checked_fields(me, title, row.filename)
    row.title = title
    session.commit()
    return sound_data(row)


@router.post("/client/{client_id}/sound/{sound_id}", response_model=SoundOut)
async def replace_audio(
    client_id: str, sound_id: Id, me: Me, session: Db, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    row = _sound(session, me, client_id, sound_id)
    original, telephony, filename = await _audio(file)
    _checked_fields(me, row.title, filename)
    row.original, row.telephony, row.filename = original, telephony, filename
    row.etag = hashlib.sha256(telephony).hexdigest()
    session.commit()
    return sound_data(row)


@router.delete("/client/{client_id}/sound/{sound_id}", response_model=SoundOut)
def delete_sound(client_id: str, sound_id: Id, me: Me, session: Db) -> dict[str, Any]:
    row = _sound(session, me, client_id, sound_id)
    exts = session.scalars(select(ExtensionRow).where(ExtensionRow.client == me, ExtensionRow.type == "ivr")).all()
    users = [user for ext in exts for user in sound_users(session, ext, sound_id)]
    if users:
        raise bad("sound_id", f"sound {sound_id} is still used by {'; '.join(users)}; change those first")
    out = sound_data(row)
    session.delete(row)
    session.commit()
    return out


@router.get(
    "/client/{client_id}/sound/{sound_id}/file",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}, 304: {"description": "not modified"}},
)
def sound_file(
    client_id: str, sound_id: Id, me: Me, session: Db, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    row = _sound(session, me, client_id, sound_id)
    etag = f'"{row.etag}"'
    if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(row.telephony, media_type="audio/wav", headers={"ETag": etag})
