"""OAuth2 client credentials: hashed client secrets, expiring opaque bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .errors import ApiError, not_found
from .tables import Client, Token

_ITERATIONS = 200_000
_bearer = HTTPBearer(auto_error=False, description="a token from POST /api/ver1.0/oauth/token")


def hash_secret(secret: str) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), _ITERATIONS).hex()
    return f"pbkdf2_sha256${_ITERATIONS}${salt}${digest}"


def secret_matches(secret: str, stored: str) -> bool:
    _, iterations, salt, digest = stored.split("$")
    candidate = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), int(iterations)).hex()
    return hmac.compare_digest(candidate, digest)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def add_client(session: Session, prefix: str | None = None) -> tuple[Client, str]:
    secret = secrets.token_urlsafe(32)
    client = Client(client_id=secrets.token_hex(12), secret_hash=hash_secret(secret), prefix=prefix or "")
    session.add(client)
    session.flush()
    if not client.prefix:
        client.prefix = f"{client.id - 1:03d}"
    session.commit()
    return client, secret


def issue_token(session: Session, client_id: str, client_secret: str, ttl: int) -> str:
    client = session.scalars(select(Client).where(Client.client_id == client_id)).first()
    if client is None or not secret_matches(client_secret, client.secret_hash):
        raise ApiError(401, "client_id/client_secret: unknown client or wrong secret")
    token = secrets.token_urlsafe(32)
    session.execute(delete(Token).where(Token.expires_at < now()))
    session.add(Token(token_hash=_token_hash(token), client=client.id, expires_at=now() + timedelta(seconds=ttl)))
    session.commit()
    return token


async def db(request: Request) -> AsyncIterator[Session]:
    # async only to run on the event loop: making a session does no I/O, its queries run in the endpoint's thread.
    with request.app.state.sessions() as session:
        yield session


Db = Annotated[Session, Depends(db)]


def authenticated(
    session: Db, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> int:
    """The database id of the client whose bearer token came with the request."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "Authorization: a Bearer token is required")
    token = session.get(Token, _token_hash(credentials.credentials))
    if token is None:
        raise ApiError(401, "Authorization: unknown token")
    if token.expires_at <= now():
        raise ApiError(401, "Authorization: the token has expired; ask POST /oauth/token for a new one")
    return token.client


Me = Annotated[int, Depends(authenticated)]


def same_client(path_client: str, me: int) -> None:
    """`@me` or the caller's own numeric id; another client's id is a record not found."""
    if path_client != "@me" and path_client != str(me):
        raise not_found()
