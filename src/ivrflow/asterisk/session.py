"""One Asterisk call in the Stasis app: the driver, its `AriCall`, and the greenlet that runs their timers.

Events reach the call from the event stream through `AriCall.on_event`, which
posts engine events to the driver; the driver runs the engine there and hands
its commands back to the `AriCall`, which queues REST requests. The session's
greenlet only waits for the nearest deadline (an engine timer, a prompt's
deadline) or a wake-up, and fires what is due. A call that is not ours (no ivr
for it, or at capacity) is sent back to its dialplan with an argument-less
`continue`, so the fallback after `Stasis()` runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import gevent
import gevent.event

from ..calls.driver import CallDriver
from ..calls.info import CallInfo
from ..calls.observer import CallObserver
from ..calls.registry import CallRegistry
from ..calls.routing import Rejected, choose_ivr
from ..calls.setup import CallSetup
from ..engine import Event, ShutdownRequested
from ..menu import Menu
from .app import AriCallStart, CallRouter
from .call import AriCall
from .dialogue import AriDialogue, DialogueSettings
from .rest import AriRest, AriUnavailable

log = logging.getLogger("ivrflow.call")


class AriSession:
    def __init__(self, start: AriCallStart) -> None:
        self.start = start
        self.call: AriCall | None = None
        self.driver: CallDriver | None = None
        self._wake = gevent.event.Event()

    def shut_down(self, reason: str) -> None:
        if self.driver is not None:
            self.driver.post(ShutdownRequested(time.monotonic(), reason))

    def post(self, event: Event) -> None:
        if self.driver is not None:
            self.driver.post(event)

    def wake(self) -> None:
        self._wake.set()

    def run(self, closed: Callable[[AriSession], None]) -> None:
        try:
            while self.driver is not None and self.call is not None:
                if self.driver.finished and self.call.dialogue.done:
                    return
                deadlines = [d for d in (self.driver.next_deadline(), self.call.next_deadline()) if d is not None]
                timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                self._wake.clear()
                if not self._wake.wait(timeout):
                    self.driver.fire_due_timers()
                    self.call.fire_due_timers()
        finally:
            if self.call is not None:
                self.call.close()
            closed(self)
            # The call and the driver hold this session's methods as callbacks: drop both
            # cycles, so the call's objects go by reference counting (gc_schedule.py).
            self.driver = None
            self.call = None


class AriCalls:
    """Starts a session for every new call the router reports, and keeps the registry true."""

    def __init__(
        self,
        rest: AriRest,
        menu: Callable[[], Menu],
        settings: DialogueSettings,
        observer: CallObserver,
        registry: CallRegistry,
        setup: CallSetup = CallSetup(),
    ) -> None:
        self.rest = rest
        self._menu = menu
        self._setup = setup
        self.settings = settings
        self.observer = observer
        self.registry = registry
        self.router = CallRouter(self.new_call)
        self.accepting = True  # off while draining: new calls go back to the dialplan

    def new_call(self, start: AriCallStart, event: object) -> None:
        session = AriSession(start)
        try:
            menu = self._menu()  # the call keeps this menu even if a reload swaps it
            ivr = choose_ivr(menu, start.ivr, start.destination)
            if not self.accepting:
                raise Rejected("draining", "ivrflow is stopping")
            if not self.registry.admit(session):
                raise Rejected("capacity", f"at max_calls={self.registry.max_calls}")
        except Rejected as exc:
            self.observer.call_rejected(exc.reason, str(exc))
            self._hand_back(start.channel_id)
            return
        info = CallInfo(start.channel_id, ivr.extension, start.caller_number, start.caller_name, start.destination)
        dialogue = AriDialogue(start.channel_id, start.context, self.settings)
        session.call = AriCall(dialogue, self.rest, session.post, on_done=session.wake, dtmf_handled=self.observer.dtmf_handled)
        session.driver = CallDriver(
            self._setup.call(menu, ivr), info, session.call, self.observer, time.monotonic,
            on_finished=lambda driver: self.registry.left_menu(session), wake=session.wake, outside=self._setup.outside,
        )
        self.router.add(session.call)
        gevent.spawn(session.run, self._closed)
        session.driver.start({})

    def _closed(self, session: AriSession) -> None:
        self.registry.closed(session)
        if session.call is not None:
            self.router.release(session.call)

    def _hand_back(self, channel_id: str) -> None:
        try:
            self.rest.request("POST", f"/channels/{channel_id}/continue")
        except AriUnavailable as exc:
            log.warning("could not hand call back to the dialplan: %s", exc, extra={"call": channel_id})
