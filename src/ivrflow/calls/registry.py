"""Every call the daemon serves, whatever its switch: what is in a menu, what is held after a transfer.

One source of truth for capacity, readiness, the active-calls gauge, the
drain and status lines. A call counts as active from the moment it is
admitted (the handshake included, so capacity and the gauge agree) until it
leaves its menu; it stays open until its adapter lets go of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class ServedCall(Protocol):
    def shut_down(self, reason: str) -> None:
        """End the call now (a call in a menu is hung up; a held one is let go)."""


class CallRegistry:
    def __init__(self, max_calls: int) -> None:
        self.max_calls = max_calls
        self._open: set[ServedCall] = set()
        self._active: set[ServedCall] = set()
        self.on_idle: list[Callable[[], None]] = []  # the last active call left its menu
        self.on_all_closed: list[Callable[[], None]] = []  # no call is open any more

    @property
    def active(self) -> int:
        return len(self._active)

    @property
    def held(self) -> int:
        return len(self._open) - len(self._active)

    @property
    def open(self) -> int:
        return len(self._open)

    @property
    def at_capacity(self) -> bool:
        return len(self._active) >= self.max_calls

    def active_calls(self) -> list[ServedCall]:
        return list(self._active)

    def admit(self, call: ServedCall) -> bool:
        """Take a new call unless at capacity."""
        if self.at_capacity:
            return False
        self._open.add(call)
        self._active.add(call)
        return True

    def left_menu(self, call: ServedCall) -> None:
        if call in self._active:
            self._active.discard(call)
            if not self._active:
                for callback in self.on_idle:
                    callback()

    def closed(self, call: ServedCall) -> None:
        self.left_menu(call)
        if call in self._open:
            self._open.discard(call)
            if not self._open:
                for callback in self.on_all_closed:
                    callback()

    def hang_up_active(self, reason: str) -> None:
        for call in self.active_calls():
            call.shut_down(reason)

    def release_held(self, reason: str) -> None:
        for call in list(self._open - self._active):
            call.shut_down(reason)
