"""A real SMTP relay on loopback (aiosmtpd): STARTTLS required, then AUTH, then mail."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from ivrflow.voicemail.mailer import MailEvent

HERE = Path(__file__).parent
CERT, KEY = HERE / "relay-cert.pem", HERE / "relay-key.pem"
USER, PASSWORD = "ivrflow", "s3cret"


class Received:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.logins: list[str] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
            self.arrived.notify_all()
        return "250 OK accepted"

    def wait_for(self, count: int, timeout: float = 20) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok)


class Events:
    """The mailer's events, to wait on."""

    def __init__(self) -> None:
        self.seen: list[MailEvent] = []
        self.changed = threading.Condition()

    def __call__(self, event: MailEvent) -> None:
        with self.changed:
            self.seen.append(event)
            self.changed.notify_all()

    def wait_for(self, kind: str, count: int = 1, timeout: float = 20) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: [e.kind for e in self.seen].count(kind) >= count, timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def relay(port: int, received: Received | None = None) -> Iterator[Received]:
    received = received or Received()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(CERT, KEY)
    controller = Controller(
        received, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        authenticator=received.authenticate, auth_required=True, auth_require_tls=True,
    )
    controller.start()
    try:
        yield received
    finally:
        controller.stop()
