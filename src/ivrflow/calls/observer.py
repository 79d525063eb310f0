"""What the call layer tells whoever watches calls (metrics, records, logs)."""

from __future__ import annotations

from typing import Protocol

from ..engine import CallRecord, Output
from .info import CallInfo


class CallObserver(Protocol):
    def call_rejected(self, reason: str, message: str) -> None: ...

    def call_started(self, info: CallInfo) -> None: ...

    def outputs(self, info: CallInfo, outputs: list[Output]) -> None: ...

    def dtmf_handled(self, seconds: float) -> None: ...

    def command_timed(self, command: str, seconds: float) -> None: ...

    def error(self, kind: str) -> None: ...

    def call_finished(self, info: CallInfo, record: CallRecord) -> None: ...


class QuietObserver:
    """An observer that watches nothing; subclasses keep what they need (simulate, tests)."""

    def call_rejected(self, reason: str, message: str) -> None:
        pass

    def call_started(self, info: CallInfo) -> None:
        pass

    def outputs(self, info: CallInfo, outputs: list[Output]) -> None:
        pass

    def dtmf_handled(self, seconds: float) -> None:
        pass

    def command_timed(self, command: str, seconds: float) -> None:
        pass

    def error(self, kind: str) -> None:
        pass

    def call_finished(self, info: CallInfo, record: CallRecord) -> None:
        pass
