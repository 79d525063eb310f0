"""The daemon's voicemail box: recordings go to the spool, the spool's messages to the mailer.

The switch records into the spool's `incoming/`; once the call says the message is
kept, it is committed (moved, sidecar written, both synced) in gevent's thread pool,
since fsync may take a while and no call may wait for it, and the mailer is woken.
A message that cannot be committed stays where the switch wrote it, logged.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import gevent

from ..calls.info import CallInfo
from ..menu.model import Ivr
from ..voicemail.mailer import Mailer
from ..voicemail.spool import Spool, SpooledMessage, VoicemailMeta

log = logging.getLogger("ivrflow.voicemail")


class SpoolBox:
    """A `VoicemailBox` over a spool, with the mailer (None: messages stay in the spool)."""

    def __init__(self, spool: Spool, mailer: Mailer | None) -> None:
        self.spool = spool
        self.mailer = mailer

    def new_recording(self) -> Path:
        return self.spool.new_recording()

    def keep(self, info: CallInfo, ivr: Ivr, recording: Path, duration_s: float) -> None:
        meta = VoicemailMeta(
            call_uuid=info.call_id,
            caller_number=info.caller_number,
            caller_name=info.caller_name,
            ivr=ivr.extension,
            time=datetime.now(timezone.utc) - timedelta(seconds=duration_s),  # kept as it ends: it began that long ago
            duration_s=duration_s,
            mailto=ivr.vm_mailto,
            attach_file=ivr.vm_attach_file,
        )
        gevent.spawn(self._commit, info.call_id, recording, meta)

    def _commit(self, call_id: str, recording: Path, meta: VoicemailMeta) -> None:
        try:
            message: SpooledMessage = gevent.get_hub().threadpool.apply(self.spool.commit, (recording, meta))
        except OSError as error:
            log.error("voicemail from %s not spooled, left at %s: %s", meta.caller_number, recording, error, extra={"call": call_id})
            return
        log.info("voicemail %s spooled (%.1f s)", message.id, meta.duration_s, extra={"call": call_id})
        if self.mailer is not None and meta.mailto:
            self.mailer.notify()
