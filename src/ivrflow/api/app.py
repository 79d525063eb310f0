"""The voice-menu API server: an ASGI app (FastAPI) over SQLAlchemy, its own process."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated, Any

import swagger_ui_bundle
from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import Engine, text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import routes_extensions, routes_menu, routes_ratings, routes_sounds
from .auth import Db, issue_token
from .db import sessions
from .errors import ApiError
from .schemas import ERRORS, TokenReply

BASE = "/api/ver1.0"
log = logging.getLogger("ivrflow.api")


class Observe:
    """Request id, a log line and metrics for every request (plain ASGI: no per-request task or copy)."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"")[:64].decode("latin-1")
        request_id = given if given.isprintable() and given else uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            self.requests.labels(route, scope["method"], str(status)).inc()
            self.latency.labels(route).observe(elapsed)
            log.info("request_id=%s method=%s path=%s status=%d ms=%.1f", request_id, scope["method"],
                     scope["path"], status, elapsed * 1000)


def create_app(engine: Engine, token_ttl: int = 3600, domain: str = "ivrflow.local") -> FastAPI:
    app = FastAPI(title="ivrflow voice-menu API", version="1.0", docs_url=None, redoc_url=None,
                  openapi_url=f"{BASE}/openapi.json")
    app.state.sessions = sessions(engine)
    app.state.domain = domain
    app.state.registry = registry = CollectorRegistry()
    requests = Counter("ivr_api_requests", "API requests by route and status", ["route", "method", "status"], registry=registry)
    latency = Histogram("ivr_api_request_seconds", "API request latency by route", ["route"], registry=registry,
                        buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))

    app.add_middleware(Observe, requests=requests, latency=latency)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"message": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors():
            loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
            parts.append(f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}")
        return JSONResponse({"message": "; ".join(parts)}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "Record not found" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse({"message": message}, status_code=exc.status_code)

    @app.post(f"{BASE}/oauth/token", response_model=TokenReply, responses=ERRORS, tags=["auth"])
    def token(
        session: Db, client_id: Annotated[str, Form()], client_secret: Annotated[str, Form()],
        grant_type: Annotated[str, Form()],
    ) -> dict[str, Any]:
        if grant_type != "client_credentials":
            raise ApiError(400, "grant_type: only client_credentials is supported")
        issued = issue_token(session, client_id, client_secret, token_ttl)
        return {"access_token": issued, "token_type": "Bearer", "expires_in": token_ttl}

    for module in (routes_sounds, routes_extensions, routes_menu, routes_ratings):
        app.include_router(module.router, prefix=BASE)

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{BASE}/openapi.json", title="ivrflow API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js", swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> PlainTextResponse:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any database failure means not ready
            return PlainTextResponse(f"database unreachable: {type(exc).__name__}\n", status_code=503)
        return PlainTextResponse("ready\n")

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
