"""The voicemail spool: a directory that is the source of truth for every recorded message.

    incoming/<id>.wav        the switch records here (`new_recording`)
    tmp/<id>/                a message being put together
    messages/<id>/<id>.wav   committed: the recording and its sidecar
    messages/<id>/<id>.json  (caller, ivr, time, duration, where to mail it)
    trash/<id>/              a sent message on its way out

A message appears in `messages/` by one rename of its whole directory, after
both files are written and synced, and leaves it by one rename to `trash/`:
a crash at any point leaves it either complete in `messages/` or gone.
`recover()` at start-up finishes what a crash interrupted.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

SIDECAR_VERSION = 1


class SpoolError(OSError):
    """A spool directory that cannot be used (with the path and what to do)."""


@dataclass(frozen=True, slots=True)
class VoicemailMeta:
    call_uuid: str
    caller_number: str
    caller_name: str
    ivr: str  # the ivr's extension, e.g. 071
    time: datetime  # when recording started, UTC
    duration_s: float
    mailto: str | None
    attach_file: bool = True

    def to_json(self, message_id: str, recording: str) -> dict[str, object]:
        return {
            "version": SIDECAR_VERSION,
            "id": message_id,
            "call_uuid": self.call_uuid,
            "caller": {"number": self.caller_number, "name": self.caller_name},
            "ivr": self.ivr,
            "time": self.time.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "duration_s": round(self.duration_s, 3),
            "mailto": self.mailto,
            "attach_file": self.attach_file,
            "recording": recording,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> VoicemailMeta:
        caller = data["caller"]
        if not isinstance(caller, dict):
            raise ValueError("caller is not an object")
        mailto = data["mailto"]
        return cls(
            call_uuid=str(data["call_uuid"]),
            caller_number=str(caller["number"]),
            caller_name=str(caller["name"]),
            ivr=str(data["ivr"]),
            time=datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00")),
            duration_s=float(str(data["duration_s"])),
            mailto=None if mailto is None else str(mailto),
            attach_file=bool(data["attach_file"]),
        )


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    id: str
    meta: VoicemailMeta
    recording: Path
    sidecar: Path


def new_message_id(now: datetime | None = None) -> str:
    """Sortable by time, unique without coordination: 20261202T060119Z-3f9a1c2e."""
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming, self.tmp, self.messages_dir, self.trash = (
            root / name for name in ("incoming", "tmp", "messages", "trash")
        )
        try:
            for directory in (self.incoming, self.tmp, self.messages_dir, self.trash):
                directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SpoolError(f"voicemail spool {root}: {error.strerror}; make it writable by ivrflow") from error

    def new_recording(self, suffix: str = ".wav") -> Path:
        """Where the switch should record a new message (it must see the same path)."""
        return self.incoming / f"{new_message_id()}{suffix}"

    def commit(self, recording: Path, meta: VoicemailMeta) -> SpooledMessage:
        """Take a finished recording into the spool with its sidecar; the file is moved, not copied."""
        if not recording.is_file():
            raise FileNotFoundError(f"voicemail recording {recording} does not exist")
        message_id = recording.stem if recording.parent == self.incoming else new_message_id(meta.time)
        building = self.tmp / message_id
        building.mkdir()
        kept = building / f"{message_id}{recording.suffix}"
        shutil.move(recording, kept)
        _fsync(kept)
        sidecar = building / f"{message_id}.json"
        with open(sidecar, "w", encoding="utf-8") as out:
            json.dump(meta.to_json(message_id, kept.name), out, ensure_ascii=False, indent=1)
            out.flush()
            os.fsync(out.fileno())
        _fsync(building)
        os.replace(building, self.messages_dir / message_id)
        _fsync(self.messages_dir)
        return SpooledMessage(message_id, meta, self.messages_dir / message_id / kept.name, self.messages_dir / message_id / sidecar.name)

    def messages(self) -> list[SpooledMessage]:
        """Committed messages, oldest first; one with an unreadable sidecar is logged and left alone."""
        found = (self._message(directory) for directory in sorted(self.messages_dir.iterdir()))
        return [message for message in found if message is not None]

    def remove(self, message: SpooledMessage) -> None:
        gone = self.trash / message.id
        os.replace(message.sidecar.parent, gone)
        _fsync(self.messages_dir)
        shutil.rmtree(gone, ignore_errors=True)

    def recover(self) -> None:
        """Finish what a crash interrupted: commit complete leftovers in tmp/, empty trash/."""
        for leftover in sorted(self.trash.iterdir()):
            shutil.rmtree(leftover, ignore_errors=True)
        for building in sorted(self.tmp.iterdir()):
            if self._message(building) is not None:
                os.replace(building, self.messages_dir / building.name)
                log.info("voicemail %s: committed after a restart", building.name)
            else:
                log.warning("voicemail %s: incomplete in %s, left for an operator", building.name, building)
        for recording in sorted(self.incoming.iterdir()):
            # Recorded, but its call never kept it (ivrflow stopped, or the switch reported no end).
            log.warning("voicemail recording %s was never kept as a message; left for an operator", recording)

    def _message(self, directory: Path) -> SpooledMessage | None:
        sidecar = directory / f"{directory.name}.json"
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8"))
            meta = VoicemailMeta.from_json(data)
            recording = directory / str(data["recording"])
            if recording.parent != directory or not recording.is_file():
                raise ValueError(f"recording {recording.name} is missing")
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("voicemail %s: unreadable sidecar (%s), left alone", directory.name, error)
            return None
        return SpooledMessage(directory.name, meta, recording, sidecar)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
