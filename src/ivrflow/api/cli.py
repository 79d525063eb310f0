"""`ivrflow api` (serve), `ivrflow api migrate`, `ivrflow api add-client`."""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys


DEFAULT_DB = "sqlite:///ivrflow-api.db"
log = logging.getLogger("ivrflow.api")


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    api = commands.add_parser("api", help="run the voice-menu REST API server (its own process)")
    api.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB}; postgresql://... for several instances)")
    api.add_argument("--listen", default="127.0.0.1:8000", help="HOST:PORT to serve on (port 0: any)")
    api.add_argument("--token-ttl", type=int, default=3600, help="seconds a bearer token is valid")
    api.add_argument("--domain", default="ivrflow.local", help="the domain extensions report")
    api.set_defaults(run=_serve)
    sub = api.add_subparsers(metavar="ACTION")
    migrate = sub.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument("--db", default=DEFAULT_DB, help="database URL")
    migrate.set_defaults(run=_migrate)
    add = sub.add_parser("add-client", help="create an API client; prints its id and secret once")
    add.add_argument("--db", default=DEFAULT_DB, help="database URL")
    add.add_argument("--prefix", help="extension prefix of the client (default: its id - 1, three digits)")
    add.set_defaults(run=_add_client)


def _fail(message: str) -> int:
    print(f"ivrflow api: {message}", file=sys.stderr)
    return 2


def _migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from .db import make_engine, migrate

    try:
        before, after = migrate(make_engine(args.db))
    except SQLAlchemyError as exc:
        return _fail(f"cannot migrate {args.db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    print(f"database at schema revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))
    return 0


def _add_client(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from .auth import add_client
    from .db import PendingMigrations, check_migrated, make_engine, sessions

    engine = make_engine(args.db)
    try:
        check_migrated(engine, args.db)
        with sessions(engine)() as session:
            client, secret = add_client(session, args.prefix)
    except (PendingMigrations, SQLAlchemyError) as exc:
        return _fail(str(exc).splitlines()[0])
    print(json.dumps({"client": client.id, "client_id": client.client_id, "client_secret": secret}))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    from ..logs import configure
    from .app import create_app
    from .db import PendingMigrations, check_migrated, make_engine

    configure("keyvalue", "info")
    host, _, port_text = args.listen.rpartition(":")
    if not host or not port_text.isdigit() or int(port_text) > 65535:
        return _fail(f"--listen: {args.listen!r} is not HOST:PORT")
    host, port = host.strip("[]"), int(port_text)
    engine = make_engine(args.db)
    try:
        check_migrated(engine, args.db)
    except PendingMigrations as exc:
        return _fail(str(exc))
    except SQLAlchemyError as exc:
        return _fail(f"cannot open the database {args.db}: {str(exc).splitlines()[0]}")
    try:
        sock = _listening_socket(host, port)
    except OSError as exc:
        return _fail(f"cannot listen on {args.listen}: {exc.strerror or exc}")
    bound = sock.getsockname()
    log.info("API listening on http://%s:%d/api/ver1.0 (browser: /docs)", bound[0], bound[1])
    config = uvicorn.Config(create_app(engine, args.token_ttl, args.domain), log_config=None, access_log=False,
                            timeout_graceful_shutdown=10)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _listening_socket(host: str, port: int) -> socket.socket:
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    # without it a keep-alive reply waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock
