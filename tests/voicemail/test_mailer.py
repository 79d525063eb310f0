"""The mailer against a real SMTP relay on loopback: STARTTLS, AUTH, attachment, retries, crashes."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ivrflow.voicemail.mailer import Mailer, SmtpSettings
from ivrflow.voicemail.spool import Spool, VoicemailMeta

from .relay import CERT, PASSWORD, USER, Events, Received, free_port, relay

META = VoicemailMeta(
    call_uuid="call-1", caller_number="79991234567", caller_name="Test Caller", ivr="071",
    time=datetime(2026, 12, 2, 6, 1, 19, tzinfo=timezone.utc), duration_s=72.4,
    mailto="office@example.org, boss@example.org", attach_file=True,
)
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8


def settings(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=port, username=USER, password=PASSWORD, sender="ivr@example.org",
        ca_file=CERT, timeout_s=5, retry_first_s=0.05, retry_max_s=0.2,
    )


def spooled(spool: Spool, meta: VoicemailMeta = META) -> str:
    path = spool.new_recording()
    path.write_bytes(AUDIO)
    return spool.commit(path, meta).id


@pytest.fixture
def mailer_of() -> Iterator[list[Mailer]]:
    started: list[Mailer] = []
    yield started
    for mailer in started:
        mailer.stop()


def run(spool: Spool, port: int, events: Events, started: list[Mailer]) -> Mailer:
    mailer = Mailer(spool, settings(port), events)
    started.append(mailer)
    mailer.start()
    return mailer


def test_a_message_arrives_over_starttls_with_auth_and_its_attachment(tmp_path: Path, mailer_of: list[Mailer]) -> None:
    spool, port, events = Spool(tmp_path), free_port(), Events()
    message_id = spooled(spool)
    with relay(port) as received:
        run(spool, port, events, mailer_of)
        assert received.wait_for(1) and events.wait_for("delivered")
    (rcpt, email), = received.messages
    assert rcpt == ["office@example.org", "boss@example.org"] and received.logins == [USER]
    assert email["Subject"] == "Voicemail from 79991234567 (Test Caller) to 071, 1:12"
    assert email["From"] == "ivr@example.org" and email["Message-ID"] == f"<{message_id}@ivrflow>"
    body = email.get_body(("plain",))
    assert body is not None and "Call: call-1" in body.get_content()
    attachment, = email.iter_attachments()
    assert attachment.get_content_type() == "audio/x-wav"
    assert attachment.get_filename() == f"voicemail-{message_id}.wav"
    assert attachment.get_content() == AUDIO
    assert spool.messages() == []  # removed once the relay accepted it


def test_without_vm_attach_file_no_attachment_is_sent(tmp_path: Path, mailer_of: list[Mailer]) -> None:
    spool, port, events = Spool(tmp_path), free_port(), Events()
    spooled(spool, replace(META, attach_file=False))
    with relay(port) as received:
        run(spool, port, events, mailer_of)
        assert received.wait_for(1)
    assert list(received.messages[0][1].iter_attachments()) == []


def test_a_message_without_mailto_stays_in_the_spool(tmp_path: Path, mailer_of: list[Mailer]) -> None:
    spool, port, events = Spool(tmp_path), free_port(), Events()
    kept = spooled(spool, replace(META, mailto=None))
    with relay(port) as received:
        mailer = run(spool, port, events, mailer_of)
        sent = spooled(spool)
        mailer.notify()
        assert events.wait_for("delivered")
    assert [m.id for m in spool.messages()] == [kept] and sent != kept and len(received.messages) == 1


def test_a_relay_down_for_the_first_three_tries_still_delivers(tmp_path: Path, mailer_of: list[Mailer]) -> None:
    spool, port, events = Spool(tmp_path), free_port(), Events()
    message_id = spooled(spool)
    run(spool, port, events, mailer_of)  # nothing listens on the port yet
    assert events.wait_for("relay_failed", 3)
    assert [m.id for m in spool.messages()] == [message_id]  # still spooled while the relay is down
    with relay(port) as received:
        assert received.wait_for(1) and events.wait_for("delivered")
    assert [e.kind for e in events.seen][-1] == "delivered" and [e.kind for e in events.seen].count("relay_failed") >= 3
    assert spool.messages() == []


def test_a_wrong_password_keeps_the_message(tmp_path: Path, mailer_of: list[Mailer]) -> None:
    spool, port, events = Spool(tmp_path), free_port(), Events()
    spooled(spool)
    with relay(port) as received:
        mailer = Mailer(spool, replace(settings(port), password="wrong", timeout_s=0.5), events)
        mailer_of.append(mailer)
        mailer.start()
        assert events.wait_for("relay_failed", 2)
    assert received.messages == [] and received.logins == [] and len(spool.messages()) == 1


def test_a_refused_address_waits_alone_while_others_are_sent(tmp_path: Path, mailer_of: list[Mailer]) -> None:
    spool, port, events = Spool(tmp_path), free_port(), Events()
    bad = spooled(spool, replace(META, mailto="not an address"))
    spooled(spool)
    with relay(port) as received:
        run(spool, port, events, mailer_of)
        assert events.wait_for("delivered") and events.wait_for("refused", 2)
    assert len(received.messages) == 1 and [m.id for m in spool.messages()] == [bad]


CRASHING_WORKER = """
import os, signal, sys
from pathlib import Path
from ivrflow.voicemail.spool import Spool
from ivrflow.voicemail.mailer import Mailer, SmtpSettings
from tests.voicemail.test_mailer import settings

spool = Spool(Path(sys.argv[1]))
def crash(message):  # the relay has accepted; the process dies before the message leaves the spool
    os.kill(os.getpid(), signal.SIGKILL)
spool.remove = crash
mailer = Mailer(spool, settings(int(sys.argv[2])))
mailer.start()
mailer._thread.join()
"""


def test_a_crash_between_the_relays_acceptance_and_the_removal_loses_nothing(tmp_path: Path, mailer_of: list[Mailer]) -> None:
    spool, port, events = Spool(tmp_path / "vm"), free_port(), Events()
    message_id = spooled(spool)
    root = Path(__file__).resolve().parents[2]
    with relay(port) as received:
        worker = subprocess.run(
            [sys.executable, "-c", CRASHING_WORKER, str(spool.root), str(port)], cwd=root, timeout=60,
            capture_output=True, text=True,
        )
        assert worker.returncode == -signal.SIGKILL, worker.stderr
        assert received.wait_for(1)  # the relay had it ...
        assert [m.id for m in spool.messages()] == [message_id]  # ... and so does the spool
        run(spool, port, events, mailer_of)  # the restarted worker rescans and sends it again
        assert received.wait_for(2) and events.wait_for("delivered")
    assert [email["Message-ID"] for _, email in received.messages] == [f"<{message_id}@ivrflow>"] * 2
    assert spool.messages() == []
