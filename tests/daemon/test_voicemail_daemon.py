"""`ivrflow serve` with voicemail settings: its spool, its mailer and a real SMTP relay; start-up mistakes in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ivrflow.engine import VoicemailOptions
from ivrflow.service.daemon import Daemon
from ivrflow.service.settings import resolve
from ivrflow.testing import BridgeOutcome, start_call

from tests.voicemail.relay import CERT, PASSWORD, USER, free_port, relay
from .harness import SOUNDS, daemon, menu_text
from .test_daemon import script

VOICEMAIL_MENU = menu_text("050,051").replace(
    "    entry_context: 1\n",
    "    entry_context: 1\n    vm_enabled: true\n    vm_greeting: 51\n    vm_mailto: office@example.org\n",
)
NOBODY = {"user/050": BridgeOutcome("no_answer", ring_seconds=0.5), "user/051": BridgeOutcome("busy", ring_seconds=0.2)}


def test_a_message_left_with_the_daemon_is_spooled_and_mailed_over_starttls(tmp_path: Path) -> None:
    port, password = free_port(), tmp_path / "smtp-password"
    password.write_text(PASSWORD + "\n")
    settings = (
        "--voicemail-spool", str(tmp_path / "spool"), "--voicemail-silence-seconds", "1",
        "--smtp-host", "127.0.0.1", "--smtp-port", str(port), "--smtp-user", USER,
        "--smtp-password-file", str(password), "--smtp-ca-file", str(CERT), "--smtp-sender", "ivr@example.org",
    )
    with relay(port) as received, daemon(tmp_path, *settings, menu=VOICEMAIL_MENU) as d:
        switch = start_call(d.esl, script(bridge_outcomes=NOBODY, message_seconds=2.0)).get(timeout=30)
        d.wait_for("the message mailed", lambda: len(received.messages) == 1)
        d.wait_for("its record", lambda: len(d.records()) == 1)
        d.wait_for("the spool emptied", lambda: not any((tmp_path / "spool" / "messages").iterdir()))
    (record,) = d.records()
    assert record["call_uuid"] == switch.unique_id and record["voicemail_s"] == 3.0
    assert [o["outcome"] for o in record["destination_outcomes"]] == ["no_answer", "busy"]
    played = [run.arg.rpartition("/")[2] for run in switch.applications if run.name == "playback"]
    assert played[-2:] == ["hello.wav", "beep.wav"]
    (rcpt, email), = received.messages
    assert rcpt == ["office@example.org"] and email["From"] == "ivr@example.org" and received.logins == [USER]
    assert len(list(email.iter_attachments())) == 1


def serve_fails(tmp_path: Path, *extra: str) -> str:
    menu = tmp_path / "menu.yaml"
    menu.write_text(VOICEMAIL_MENU)
    done = subprocess.run(
        [sys.executable, "-m", "ivrflow", "serve", "--menu", str(menu), "--sounds", str(SOUNDS),
         "--listen", "127.0.0.1:0", "--metrics-listen", "off", *extra],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    return done.stderr


def test_a_spool_path_with_a_space_or_an_unreadable_password_file_stops_the_start(tmp_path: Path) -> None:
    assert "has a space" in serve_fails(tmp_path, "--voicemail-spool", str(tmp_path / "voice mail"))
    stderr = serve_fails(tmp_path, "--voicemail-spool", str(tmp_path / "spool"), "--smtp-host", "127.0.0.1",
                         "--smtp-password-file", str(tmp_path / "missing"))
    assert "--smtp-password-file" in stderr and stderr.count("\n") <= 2
    assert "--voicemail-beep" in serve_fails(tmp_path, "--voicemail-spool", str(tmp_path / "spool"), "--voicemail-beep", "nope.wav")


def test_only_freeswitch_calls_get_the_voicemail_spool(tmp_path: Path) -> None:
    menu = tmp_path / "menu.yaml"
    menu.write_text(VOICEMAIL_MENU)
    settings = resolve(
        {"menu": str(menu), "sounds": str(SOUNDS), "esl_listen": "127.0.0.1:0", "metrics_listen": "off",
         "call_records": str(tmp_path / "calls.jsonl"), "voicemail_spool": str(tmp_path / "spool"),
         "voicemail_max_seconds": "30"},
        environ={},
    )
    d = Daemon(settings)
    assert d.server.setup.options.voicemail == VoicemailOptions(max_seconds=30, beep="beep.wav")
    assert d.server.setup.voicemail is not None and d.mailer is None  # no smtp_host: messages stay in the spool
    assert d.setup.options.voicemail is None and d.setup.voicemail is None  # what ARI calls are set up with
    d.close()
