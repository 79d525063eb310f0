"""The spool: atomic commit, sidecar contents, removal, recovery after a crash."""

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ivrflow.voicemail.spool import Spool, SpoolError, VoicemailMeta

META = VoicemailMeta(
    call_uuid="call-1", caller_number="79991234567", caller_name="Тест Caller", ivr="071",
    time=datetime(2026, 12, 2, 6, 1, 19, 250000, tzinfo=timezone.utc), duration_s=12.3456,
    mailto="office@example.org", attach_file=True,
)


def recorded(spool: Spool, audio: bytes = b"RIFF....WAVEfmt ") -> Path:
    path = spool.new_recording()
    path.write_bytes(audio)
    return path


def test_a_committed_message_is_its_recording_and_a_json_sidecar(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "vm")
    source = recorded(spool, b"audio-bytes")
    message = spool.commit(source, META)
    assert not source.exists()
    assert message.recording.read_bytes() == b"audio-bytes"
    assert message.recording.parent == message.sidecar.parent == tmp_path / "vm" / "messages" / message.id
    assert json.loads(message.sidecar.read_text(encoding="utf-8")) == {
        "version": 1, "id": message.id, "call_uuid": "call-1",
        "caller": {"number": "79991234567", "name": "Тест Caller"}, "ivr": "071",
        "time": "2026-12-02T06:01:19.250Z", "duration_s": 12.346, "mailto": "office@example.org",
        "attach_file": True, "recording": message.recording.name,
    }
    assert [m.id for m in spool.messages()] == [message.id]


def test_messages_read_back_equal_what_was_committed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.commit(recorded(spool), META)
    second = spool.commit(recorded(spool), META)
    again = Spool(tmp_path).messages()
    assert [m.id for m in again] == sorted([first.id, second.id])
    assert again[0].meta.caller_name == "Тест Caller" and again[0].meta.time == META.time


def test_a_recording_from_elsewhere_is_moved_in(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "vm")
    outside = tmp_path / "rec.wav"
    outside.write_bytes(b"x")
    message = spool.commit(outside, META)
    assert message.recording.suffix == ".wav" and message.recording.read_bytes() == b"x" and not outside.exists()


def test_a_missing_recording_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(FileNotFoundError):
        spool.commit(spool.new_recording(), META)
    assert spool.messages() == [] and list(spool.tmp.iterdir()) == []


def test_removed_messages_are_gone(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    message = spool.commit(recorded(spool), META)
    spool.remove(message)
    assert spool.messages() == [] and not message.recording.exists() and list(spool.trash.iterdir()) == []


def test_recover_commits_a_complete_message_a_crash_left_in_tmp(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    message = spool.commit(recorded(spool), META)
    os.replace(message.sidecar.parent, spool.tmp / message.id)  # as if the final rename never happened
    (spool.tmp / "20261202T000000Z-half").mkdir()  # a commit cut short before its sidecar
    (spool.trash / "old").mkdir()
    assert spool.messages() == []
    spool.recover()
    assert [m.id for m in spool.messages()] == [message.id]
    assert list(spool.trash.iterdir()) == [] and (spool.tmp / "20261202T000000Z-half").exists()


def test_recover_names_a_recording_no_call_kept_and_leaves_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path)
    left = recorded(spool)
    spool.recover()
    assert left.exists() and spool.messages() == []
    assert any(str(left) in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


def test_a_message_with_a_broken_sidecar_is_left_alone(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    good = spool.commit(recorded(spool), META)
    bad = spool.commit(recorded(spool), META)
    bad.sidecar.write_text("{not json")
    assert [m.id for m in spool.messages()] == [good.id] and bad.recording.exists()


def test_an_unusable_spool_directory_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SpoolError, match="make it writable"):
        Spool(blocker / "vm")
