"""Voicemail end to end: a transfer nobody answers, the emulated switch records, the spool keeps, a real SMTP relay receives.

Calls go through the FreeSWITCH emulator and ivrflow's ESL server, the daemon's
spool box and mailer; the relay is aiosmtpd on loopback with STARTTLS and AUTH.
Menu time is scaled (harness.SCALE); the mailer's backoff is real seconds.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ivrflow.engine import CallOptions, VoicemailOptions
from ivrflow.menu import Menu
from ivrflow.menu.model import TransferRule
from ivrflow.service.voicemail_work import SpoolBox
from ivrflow.testing import BridgeOutcome
from ivrflow.voicemail.mailer import Mailer, SmtpSettings
from ivrflow.voicemail.spool import Spool

from tests.voicemail.relay import CERT, PASSWORD, USER, Events, free_port, relay
from .harness import call, example_menu, ivrflow, wait_until

# The record limit and silence are the switch's call seconds (the emulator's scaled clock).
VM = CallOptions(voicemail=VoicemailOptions(max_seconds=60, silence_threshold=200, silence_seconds=1, beep="beep.wav"))
NOBODY = {"user/050": BridgeOutcome("no_answer", ring_seconds=0.5), "user/051": BridgeOutcome("busy", ring_seconds=0.2)}


def voicemail_menu(mailto: str | None = "office@example.org", attach: bool = True, destination: str = "050,051") -> Menu:
    """The example menu whose timeout rings `destination` (050 and 051 together), with voicemail greeting hello.wav (sound 51)."""
    menu = example_menu()
    ivr = menu.ivrs[0]
    main = ivr.contexts[0]
    options = {**main.options, "timeout": (TransferRule(action="transfer", transfer_dst=destination),)}
    contexts = (main.model_copy(update={"options": options}), *ivr.contexts[1:])
    changes = {"contexts": contexts, "vm_enabled": True, "vm_greeting": 51, "vm_mailto": mailto, "vm_attach_file": attach}
    return menu.model_copy(update={"ivrs": (ivr.model_copy(update=changes),)})


def smtp(port: int) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1", port=port, username=USER, password=PASSWORD, sender="ivr@example.org",
        ca_file=CERT, timeout_s=5, retry_first_s=0.05, retry_max_s=0.2,
    )


@contextmanager
def mailing(spool: Spool, port: int, events: Events) -> Iterator[Mailer]:
    mailer = Mailer(spool, smtp(port), events)
    mailer.start()
    try:
        yield mailer
    finally:
        mailer.stop()


def leave_message(spool: Spool, mailer: Mailer | None = None, menu: Menu | None = None, **script: Any) -> tuple[Any, dict[str, Any]]:
    with ivrflow(menu or voicemail_menu(), options=VM, voicemail=SpoolBox(spool, mailer)) as it:
        return call(it, **{"bridge_outcomes": NOBODY, "message_seconds": 2.0, **script})


def seen(events: Events, kind: str, count: int = 1) -> bool:
    """Waited on with harness.wait_until: the spool is committed on the event loop, which must keep running."""
    return [e.kind for e in events.seen].count(kind) >= count


def seconds_of(audio: bytes) -> float:
    with wave.open(io.BytesIO(audio)) as recording:
        assert (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) == (8000, 1, 2)
        return recording.getnframes() / 8000


def test_an_unanswered_transfer_records_a_message_that_arrives_by_mail_with_its_recording(tmp_path: Path) -> None:
    spool, port, events = Spool(tmp_path / "spool"), free_port(), Events()
    with relay(port) as received, mailing(spool, port, events) as mailer:
        switch, record = leave_message(spool, mailer)
        wait_until(lambda: seen(events, "delivered"))
    names = [(run.name, Path(run.arg.split()[0].rpartition("]")[2]).name) for run in switch.applications[-4:]]
    assert names[1:] == [("playback", "hello.wav"), ("playback", "beep.wav"), ("record", names[3][1])]
    assert record["outcome"] == "hangup" and record["voicemail_s"] == 3.0  # 2 s spoken, then 1 s of silence
    assert record["destination_outcomes"] == [
        {"destination": "050", "outcome": "no_answer", "cause": "NO_ANSWER"},
        {"destination": "051", "outcome": "busy", "cause": "USER_BUSY"},
    ]
    (rcpt, email), = received.messages
    assert rcpt == ["office@example.org"] and received.logins == [USER]
    assert email["Subject"] == "Voicemail from 79991234567 (Test Caller) to 071, 0:03"
    body = email.get_body(("plain",))
    assert body is not None and f"Call: {switch.unique_id}" in body.get_content()
    (attachment,) = email.iter_attachments()
    assert attachment.get_content_type() == "audio/x-wav" and seconds_of(attachment.get_content()) == 3.0
    assert spool.messages() == [] and list(spool.incoming.iterdir()) == []


def test_a_message_survives_a_relay_down_for_the_first_three_tries(tmp_path: Path) -> None:
    spool, port, events = Spool(tmp_path / "spool"), free_port(), Events()
    with mailing(spool, port, events) as mailer:  # nothing listens on the port yet
        _, record = leave_message(spool, mailer)
        wait_until(lambda: seen(events, "relay_failed", 3))
        wait_until(lambda: len(spool.messages()) == 1)
        (kept,) = spool.messages()  # the spool holds it while the relay is down
        assert kept.meta.duration_s == record["voicemail_s"] and kept.meta.ivr == "071"
        with relay(port) as received:
            wait_until(lambda: seen(events, "delivered"))
    assert [e.kind for e in events.seen].count("relay_failed") >= 3 and events.seen[-1].kind == "delivered"
    (_, email), = received.messages
    assert email["Message-ID"] == f"<{kept.id}@ivrflow>"
    wait_until(lambda: spool.messages() == [])


def test_hash_ends_the_recording_and_the_message_stays_spooled_without_mailto(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    # The recording begins about 22 call seconds in (ad, hello, timeout, ringing, greeting, beep).
    switch, record = leave_message(spool, menu=voicemail_menu(mailto=None), message_seconds=None, keys=((26.0, "#"),))
    assert 0 < record["voicemail_s"] < 10  # well before the 60 s limit
    wait_until(lambda: len(spool.messages()) == 1)
    (kept,) = spool.messages()
    assert kept.meta.mailto is None and kept.meta.call_uuid == switch.unique_id
    assert abs(seconds_of(kept.recording.read_bytes()) - record["voicemail_s"]) < 0.001  # record_ms is whole milliseconds
    sidecar = kept.sidecar.read_text(encoding="utf-8")
    assert '"caller": {' in sidecar and '"number": "79991234567"' in sidecar


def test_a_caller_hanging_up_while_recording_still_leaves_the_message(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    _, record = leave_message(spool, menu=voicemail_menu(mailto=None), message_seconds=None, caller_hangup=(26.0, "NORMAL_CLEARING"))
    assert record["outcome"] == "caller_hangup" and 0 < record["voicemail_s"] < 10
    wait_until(lambda: len(spool.messages()) == 1)
    (kept,) = spool.messages()
    assert abs(seconds_of(kept.recording.read_bytes()) - record["voicemail_s"]) < 0.001  # record_ms is whole milliseconds



def test_a_one_destination_transfer_nobody_answers_reaches_voicemail_too(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    menu = voicemail_menu(mailto=None, destination="050")
    switch, record = leave_message(spool, menu=menu)
    bridge = next(run for run in switch.applications if run.name == "bridge")
    assert "originate_timeout=30" in bridge.arg and bridge.arg.endswith("user/050")
    assert record["destination_outcomes"] == [{"destination": "050", "outcome": "no_answer", "cause": "NO_ANSWER"}]
    assert record["voicemail_s"] == 3.0
    wait_until(lambda: len(spool.messages()) == 1)
