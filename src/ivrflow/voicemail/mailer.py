"""E-mailing spooled voicemail through an SMTP relay; the spool stays the source of truth.

One background worker (a thread: smtplib's blocking sockets never stall the
gevent hub) sends each message that has a `mailto`, over one relay session
per pass, and removes it from the spool only once the relay has accepted it.
A crash between the relay's acceptance and the removal sends the message
again after the restart (same Message-ID), so a message may arrive twice but
is never lost. When the relay cannot be reached or fails mid-session, the
whole queue waits with exponential backoff; when the relay refuses one
message, that message alone waits. Messages without `mailto` stay in the
spool, unsent.
"""

from __future__ import annotations

import logging
import mimetypes
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Literal

from .spool import Spool, SpooledMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"  # tls: implicit TLS (port 465)
    username: str | None = None
    password: str | None = None
    sender: str = "ivrflow@localhost"
    ca_file: Path | None = None  # the relay's CA; None: the system's
    timeout_s: float = 30
    retry_first_s: float = 10
    retry_max_s: float = 900


@dataclass(frozen=True, slots=True)
class MailEvent:
    kind: Literal["delivered", "relay_failed", "refused"]
    message_id: str | None  # None when the relay failed before any message
    reason: str = ""


class MessageRefused(ValueError):
    """This message cannot be sent as it is (bad address, unreadable recording)."""


def recipients(mailto: str) -> list[str]:
    addresses = [address for _, address in getaddresses([mailto])]
    if not addresses or any("@" not in address or address != address.strip() for address in addresses):
        raise MessageRefused(f"vm_mailto {mailto!r} is not a list of e-mail addresses")
    return addresses


def build_email(message: SpooledMessage, sender: str) -> EmailMessage:
    meta = message.meta
    email = EmailMessage()
    caller = f"{meta.caller_number} ({meta.caller_name})" if meta.caller_name else meta.caller_number
    minutes, seconds = divmod(round(meta.duration_s), 60)
    email["Subject"] = f"Voicemail from {caller} to {meta.ivr}, {minutes}:{seconds:02d}"
    email["From"] = sender
    email["To"] = ", ".join(recipients(meta.mailto or ""))
    email["Date"] = format_datetime(meta.time)
    email["Message-ID"] = f"<{message.id}@ivrflow>"  # the same on every try: duplicates can be spotted
    email.set_content(
        f"Caller: {caller}\nIvr: {meta.ivr}\nTime: {meta.time.isoformat(timespec='seconds')}\n"
        f"Duration: {meta.duration_s:.1f} s\nCall: {meta.call_uuid}\n"
    )
    if meta.attach_file:
        kind = mimetypes.guess_type(message.recording.name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        try:
            audio = message.recording.read_bytes()
        except OSError as error:
            raise MessageRefused(f"recording unreadable: {error.strerror}") from error
        email.add_attachment(audio, maintype=maintype, subtype=subtype, filename=f"voicemail-{message.id}{message.recording.suffix}")
    return email


class Mailer:
    def __init__(
        self, spool: Spool, settings: SmtpSettings, on_event: Callable[[MailEvent], None] | None = None
    ) -> None:
        self.spool = spool
        self.settings = settings
        self._on_event = on_event
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._relay_failures = 0
        self._relay_due = 0.0
        self._message_failures: dict[str, int] = {}
        self._message_due: dict[str, float] = {}

    def start(self) -> None:
        """Rescan the spool (what a crash left is sent now) and run in the background."""
        self.spool.recover()
        self._thread = threading.Thread(target=self._run, name="voicemail-mailer", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """A message was committed: send it without waiting for the next pass."""
        self._wake.set()

    def stop(self, timeout_s: float = 10) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = self._pass()
            except Exception:
                log.exception("voicemail mailer pass failed")
                wait = self.settings.retry_first_s
            self._wake.wait(wait)
            self._wake.clear()

    def _pass(self) -> float | None:
        """Send what is due; seconds until something is due again (None: until notified)."""
        now = time.monotonic()
        if now < self._relay_due:
            return self._relay_due - now
        pending = [m for m in self.spool.messages() if m.meta.mailto]
        due = [m for m in pending if self._message_due.get(m.id, 0.0) <= now]
        if due:
            try:
                self._send(due)
            except (OSError, smtplib.SMTPException) as error:
                self._relay_failures += 1
                delay = self._backoff(self._relay_failures)
                self._relay_due = time.monotonic() + delay
                reason = f"{type(error).__name__}: {error}"
                log.warning("voicemail relay %s:%s failed (%s); next try in %.0f s", self.settings.host, self.settings.port, reason, delay)
                self._emit(MailEvent("relay_failed", None, reason))
                return delay
            self._relay_failures = 0
        waits = [self._message_due[m.id] - time.monotonic() for m in pending if m.id in self._message_due]
        waits = [w for w in waits if w > 0]
        return min(waits) if waits else None

    def _send(self, due: list[SpooledMessage]) -> None:
        with self._connect() as relay:
            for message in due:
                if self._stopping.is_set():
                    return
                try:
                    email = build_email(message, self.settings.sender)
                    relay.send_message(email, self.settings.sender, recipients(message.meta.mailto or ""))
                except (MessageRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as refused:
                    self._refused(message, refused)
                    continue
                self.spool.remove(message)
                self._message_failures.pop(message.id, None)
                self._message_due.pop(message.id, None)
                log.info("voicemail %s: mailed to %s", message.id, message.meta.mailto)
                self._emit(MailEvent("delivered", message.id))

    def _refused(self, message: SpooledMessage, error: Exception) -> None:
        failures = self._message_failures.get(message.id, 0) + 1
        self._message_failures[message.id] = failures
        delay = self._backoff(failures)
        self._message_due[message.id] = time.monotonic() + delay
        log.error("voicemail %s: not accepted (%s); kept, next try in %.0f s", message.id, error, delay)
        self._emit(MailEvent("refused", message.id, str(error)))

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
        relay: smtplib.SMTP
        if s.security == "tls":
            relay = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
        else:
            relay = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        try:
            if s.security == "starttls":
                relay.starttls(context=context)
            if s.username is not None:
                relay.login(s.username, s.password or "")
        except BaseException:
            relay.close()
            raise
        return relay

    def _backoff(self, failures: int) -> float:
        return float(min(self.settings.retry_max_s, self.settings.retry_first_s * 2 ** (failures - 1)))

    def _emit(self, event: MailEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)
