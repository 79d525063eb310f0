"""What an emulated call leaves behind for assertions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .fs_command_reader import ClientCommand

__all__ = ["AppRun", "ChannelHistory"]

ClosedBy = Literal["emulator", "exit", "app"]


@dataclass(slots=True)
class AppRun:
    """One execution of a dialplan application (times are call time in seconds)."""

    name: str
    arg: str
    app_uuid: str
    started: float
    ended: float | None = None
    response: str | None = None
    # How deep it ran inside other applications (0 = from the park loop).
    depth: int = 0


@dataclass(slots=True)
class ChannelHistory:
    """Everything that crossed the socket and what became of the channel."""

    unique_id: str
    received: list[tuple[float, ClientCommand]] = field(default_factory=list)
    sent: list[tuple[float, bytes]] = field(default_factory=list)
    events_fired: list[tuple[float, str]] = field(default_factory=list)
    applications: list[AppRun] = field(default_factory=list)
    dtmf: list[tuple[float, str]] = field(default_factory=list)
    speech: list[tuple[float, str]] = field(default_factory=list)  # words a running recognizer heard
    answered: bool = False
    hangup_cause: str | None = None
    transferred_to: str | None = None
    bridged_to: str | None = None
    closed_by: ClosedBy | None = None
    # socket_resume was set when the socket went away: the transferred channel was reset.
    reset_by_teardown: bool = False
    protocol_errors: list[str] = field(default_factory=list)
    # Whole frames written (a reply, an event, a notice): an event's head and body are one.
    frames_sent: int = 0

    @property
    def final_state(self) -> str:
        """``hangup:<cause>``, ``transferred:<dest>`` (still up) or ``up``."""
        if self.hangup_cause is not None:
            return f"hangup:{self.hangup_cause}"
        if self.transferred_to is not None:
            return f"transferred:{self.transferred_to}"
        return "up"

    @property
    def sent_bytes(self) -> bytes:
        return b"".join(data for _, data in self.sent)

    @property
    def bytes_sent(self) -> int:
        """What the switch wrote to the application: the proxy for its serialising work."""
        return sum(len(data) for _, data in self.sent)

    def app_names(self) -> list[str]:
        return [run.name for run in self.applications]
