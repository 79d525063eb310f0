"""After a transfer: when the socket can be let go without ending the call at its target. Sans-I/O.

FreeSWITCH's listener teardown (`exit`, EOF, linger timeout) clears the
channel's CF_CONTROLLED flag, and `switch_ivr_park` (the `park` app, an async
`socket` app, the CS_PARK state) loops only while that flag is set: a park
running at the teardown ends and the call falls off the dialplan. A park that
starts after the teardown sets the flag itself and is safe. With
`socket_resume` the teardown resets the channel whatever it runs.

So the socket is held while the target is parked or runs park/socket, and let
go once it runs something else, nothing has started or ended on the channel
for `quiet_time`, and `current_application`, asked just before, names neither
(a park whose event has not arrived yet shows there first).
"""

from __future__ import annotations

from collections.abc import Mapping

from .frames import EslEvent

# The apps that run the park loop, and so end when the socket goes away.
PARKING_APPS = frozenset({"park", "socket"})
# The events the rule reads (subscribed at transfer time if the handshake did not).
WATCHED_EVENTS = ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_PARK", "CHANNEL_UNPARK")


def resume_set(headers: Mapping[str, str]) -> bool:
    return (headers.get("variable_socket_resume") or "").lower() == "true"


class TargetWatch:
    """What the transfer target is doing, from the events of the channel after the transfer."""

    def __init__(self, quiet_time: float, at: float, socket_resume: bool) -> None:
        self.quiet_time = quiet_time
        self._running: dict[str, str] = {}  # Application-UUID -> Application, started and not ended
        self._parked = False
        self._resume = socket_resume
        self._last_change = at
        self._checking = False  # a current_application check is out
        self._changed_since_check = True  # False: the last check's verdict still stands
        self.blind = False  # the events the rule needs could not be subscribed: hold until hangup

    def on_event(self, event: EslEvent, at: float) -> bool:
        """Follow the target; True when the event is one the rule reads."""
        if "variable_socket_resume" in event.headers:  # any event with variables says it
            self._resume = resume_set(event.headers)
        name = event.name
        if name not in WATCHED_EVENTS:
            return False
        self._last_change = at
        self._changed_since_check = True
        app_uuid = event.get("Application-UUID") or ""
        if name == "CHANNEL_EXECUTE":
            self._running[app_uuid] = event.get("Application") or ""
        elif name == "CHANNEL_EXECUTE_COMPLETE":
            self._running.pop(app_uuid, None)
        else:
            self._parked = name == "CHANNEL_PARK"
        return True

    def holds_because(self) -> str | None:
        """Why the socket must still be held whatever the quiet time; None when the target looks safe."""
        if self.blind:
            return "the park events could not be subscribed"
        if self._resume:
            return "socket_resume is set (a teardown resets the channel)"
        if self._parked:
            return "the channel is parked"
        parking = sorted(PARKING_APPS.intersection(self._running.values()))
        if parking:
            return f"the target runs {parking[0]}"
        if not self._running:
            return "the target runs no application yet"
        return None

    def check_due(self) -> float | None:
        """When to ask the switch for current_application; None: wait for the channel's next event."""
        if self._checking or not self._changed_since_check or self.holds_because() is not None:
            return None
        return self._last_change + self.quiet_time

    def checking(self) -> None:
        self._checking = True
        self._changed_since_check = False

    def checked(self, current_application: str) -> bool:
        """The check's answer: True when the socket may go now."""
        self._checking = False
        if current_application in PARKING_APPS:
            self._changed_since_check = False  # held until the channel moves on
            return False
        # Anything that happened while the check was out is looked at afresh.
        return not self._changed_since_check and self.holds_because() is None

    def check_lost(self, at: float) -> None:
        """The check got no usable answer: ask again after the next quiet time."""
        self._checking = False
        self._changed_since_check = True
        self._last_change = at
