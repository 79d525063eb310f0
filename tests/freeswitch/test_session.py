"""A whole FreeSWITCH call through CallSession on a scripted connection: no socket, the switch's side as a table."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from ivrflow.calls.info import CallInfo
from ivrflow.calls.observer import QuietObserver
from ivrflow.calls.registry import CallRegistry
from ivrflow.engine import CallRecord
from tests.switch_settings import switch_settings
from ivrflow.freeswitch.connection import ReadPriority
from ivrflow.freeswitch.session import CallSession
from ivrflow.menu.files import load_menu_text
from ivrflow.testing.fs_frames import (
    channel_data_frame,
    event_frame_head,
    plain_event_body,
    reply_frame,
)

UUID = "0c4f4a52-1d2e-4f7a-9b1c-3d5e7f9a0b1c"
MENU = load_menu_text(
    """
sounds: [{id: 1, filename: hello.wav}]
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        digit_len: 1
        options:
          start: [{action: play_sound, sound: 1, sound_type: background}]
          "2": [{action: transfer, transfer_dst: "002"}]
""",
    "test.yaml",
).menu
OK = reply_frame("+OK")


def event(name: str, *fields: tuple[str, str]) -> bytes:
    body = plain_event_body([("Event-Name", name), ("Unique-ID", UUID), *fields])
    return event_frame_head(body) + body


def app_event(name: str, app: str, app_uuid: str) -> bytes:
    return event(name, ("Application", app), ("Application-UUID", app_uuid), ("Application-Response", "+OK"))


@dataclass
class ScriptedSwitch:
    """Answers each command as FreeSWITCH would, from a table; the caller presses 2 during the greeting.

    The greeting stops on the digit by itself, so no break is sent for it.
    """

    written: list[bytes] = field(default_factory=list)
    closed_reason: str | None = None
    _queue: deque[bytes] = field(default_factory=deque)
    empty_reads: int = 0
    priorities: list[tuple[int, ReadPriority]] = field(default_factory=list)  # (writes before, priority)

    def write(self, data: bytes) -> None:
        self.written.append(data)
        for command in data.split(b"\n\n"):
            self._react(command)

    def _react(self, command: bytes) -> None:
        if command.startswith(b"connect"):
            fields = [("Event-Name", "CHANNEL_DATA"), ("Unique-ID", UUID), ("Caller-Destination-Number", "071")]
            self._queue.append(channel_data_frame(fields, socket_mode="async", control="full"))
        elif command.startswith((b"myevents", b"nixevent", b"linger", b"event")):
            self._queue.append(OK)
        elif command.startswith(b"sendmsg"):
            app = re.search(rb"execute-app-name: (\w+)", command)
            if app is None:  # a hangup command
                self._queue.append(OK)
                return
            name, uuid = app.group(1).decode(), re.search(rb"Event-UUID: (\S+)", command).group(1).decode()  # type: ignore[union-attr]
            self._queue.append(OK)  # CHANNEL_EXECUTE is not subscribed
            if name == "playback":
                # The greeting's playback_terminators=any: the digit ends it, in the same read.
                self._queue.append(event("DTMF", ("DTMF-Digit", "2")) + app_event("CHANNEL_EXECUTE_COMPLETE", name, uuid))
            else:
                self._queue.append(app_event("CHANNEL_EXECUTE_COMPLETE", name, uuid))
            if name == "transfer":
                self._queue.append(event("CHANNEL_HANGUP_COMPLETE"))  # the target's call ends
        elif command.startswith(b"exit"):
            self._queue.extend([reply_frame("+OK bye"), b""])

    def read(self, timeout: float | None) -> bytes | None:
        if not self._queue:
            self.empty_reads += 1
            assert self.empty_reads < 5, "the session waits for the switch, which has said everything"
            return None
        data = self._queue.popleft()
        if not data:
            self.closed_reason = "switch closed the connection"
        return data

    def close(self, reason: str = "closed by ivrflow") -> None:
        self.closed_reason = self.closed_reason or reason

    def set_priority(self, priority: ReadPriority) -> None:
        self.priorities.append((len(self.written), priority))


@dataclass
class Records(QuietObserver):
    records: list[CallRecord] = field(default_factory=list)

    def call_finished(self, info: CallInfo, record: CallRecord) -> None:
        self.records.append(record)


def test_a_call_from_handshake_to_exit_without_a_socket() -> None:
    switch, seen, registry = ScriptedSwitch(), Records(), CallRegistry(max_calls=10)
    session = CallSession(switch, lambda: MENU, switch_settings(Path("/srv/sounds")), seen, registry)
    assert registry.admit(session)
    session.run()
    commands = [c.split(b"\n")[0].split(b" ")[0] + b" " + (re.findall(rb"execute-app-name: (\w+)", c) or [b""])[0]
                for w in switch.written for c in w.split(b"\n\n") if c]
    assert commands == [
        b"connect ", b"myevents ", b"nixevent ", b"linger ",
        b"sendmsg answer", b"sendmsg playback", b"event ", b"sendmsg transfer", b"exit ",
    ]
    [record] = seen.records
    assert record.outcome == "transfer" and record.transfer_destinations == ("002",)
    assert registry.open == 0 and switch.closed_reason is not None
    # Its reads kept the menu's priority until the transfer, then gave way for the release.
    [(writes_before, priority)] = switch.priorities
    assert priority is ReadPriority.LETTING_GO
    assert b"execute-app-name: transfer" in switch.written[writes_before - 1]
    assert switch.written[writes_before].startswith(b"exit")
