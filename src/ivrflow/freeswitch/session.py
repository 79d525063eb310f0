"""One FreeSWITCH call on its socket: the greenlet that runs the dialogue and the call driver.

The call's greenlet reads the socket, gives the bytes to the dialogue, posts
the events it yields to the driver, writes what both leave to send, and fires
the engine's timers as the timeout of its read. Another greenlet reaches the
call only through the driver's inbox (`post`) or `shut_down`; either wakes the
read. Every wait is bounded: replies by `command_timeout`, silence from the
switch by `idle_timeout`, the switch letting go of the channel by
`teardown_timeout`. A hangup, a disconnect notice, EOF or a socket error ends
the call at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import gevent

from ..calls.driver import CallDriver
from ..calls.info import CallInfo
from ..calls.observer import CallObserver
from ..calls.registry import CallRegistry
from ..calls.routing import Rejected, choose_ivr
from ..calls.setup import CallSetup
from ..engine import CallerHungUp, DtmfReceived, Event, ShutdownRequested, SwitchFailed, clip_text
from ..menu import Menu
from .connection import Connection, ConnectionLost, ReadPriority
from .dialogue import ChannelVariables, EslDialogue, SwitchSettings
from .frames import caller_value

log = logging.getLogger("ivrflow.call")


class _Wakeup(Exception):
    """Thrown into a call's greenlet idle in a read, when work for it arrives from elsewhere."""


class CallSession:
    """The life of one outbound connection, from `connect` until the socket closes."""

    def __init__(
        self,
        conn: Connection,
        menu: Callable[[], Menu],
        settings: SwitchSettings,
        observer: CallObserver,
        registry: CallRegistry,
        setup: CallSetup = CallSetup(),
    ) -> None:
        self._menu_source = menu
        self._setup = setup
        self.settings = settings
        self.observer = observer
        self._registry = registry
        self.conn = conn
        self.dialogue = EslDialogue(settings, observer, time.monotonic)
        self.driver: CallDriver | None = None
        self._greenlet: gevent.Greenlet | None = None
        self._idle = False  # blocked in a read with nothing else to do
        self._shutdown: str | None = None
        self._early: list[Event] = []  # events that came before the call was set up
        self._last_heard = time.monotonic()

    def shut_down(self, reason: str) -> None:
        """Ask the call to end now (from any greenlet)."""
        self._shutdown = reason
        self._wake()

    def _wake(self) -> None:
        # The call's own greenlet is not waiting: whatever it queued goes out before it reads again.
        if gevent.getcurrent() is not self._greenlet:
            gevent.get_hub().loop.run_callback(self._interrupt_read)

    def _interrupt_read(self) -> None:
        # Runs in the hub; only a read is interrupted, never a half-done write.
        if self._idle and self._greenlet is not None:
            self._greenlet.throw(_Wakeup)

    # --- lifecycle ----------------------------------------------------------

    def run(self) -> None:
        self._greenlet = gevent.getcurrent()
        try:
            self._start()
            self._drive()
            self._let_go()
        except Rejected as exc:
            self.observer.call_rejected(exc.reason, str(exc))
            self.conn.set_priority(ReadPriority.LETTING_GO)
            self._exit()
        except ConnectionLost as exc:
            self.observer.error("connection_lost")
            self._end_unexpectedly(CallerHungUp(time.monotonic(), clip_text(f"connection lost: {exc}")))
        except Exception:
            log.exception("call failed", extra={"call": self.dialogue.call_id})
            self.observer.error("internal")
            self._end_unexpectedly(SwitchFailed(time.monotonic(), "internal error"))
        finally:
            self.conn.close()
            self._registry.closed(self)
            # The driver's callbacks refer back to this session: drop the cycle, so every
            # call's objects go with reference counting, not in the collector's long pauses.
            self.driver = None
            self._greenlet = None

    def _start(self) -> None:
        dialogue = self.dialogue
        dialogue.start()
        try:
            self._flush()
            while dialogue.channel is None:
                self._step(self._early.append)
        except ConnectionLost as exc:
            raise Rejected("handshake_failed", f"handshake: {exc}") from exc
        headers = dialogue.channel.headers
        menu = self._menu_source()  # the call keeps this menu even if a reload swaps it
        ivr = choose_ivr(menu, headers.get("variable_ivr_extension", ""), headers.get("Caller-Destination-Number", ""))
        info = CallInfo(
            call_id=dialogue.call_id,
            ivr=ivr.extension,
            caller_number=caller_value(headers.get("Caller-Caller-ID-Number", "")),
            caller_name=caller_value(headers.get("Caller-Caller-ID-Name", "")),
            destination=caller_value(headers.get("Caller-Destination-Number", "")),
        )
        self.driver = CallDriver(
            self._setup.call(menu, ivr), info, dialogue, self.observer, time.monotonic,
            on_finished=lambda driver: self._registry.left_menu(self), wake=self._wake, outside=self._setup.outside,
            voicemail=self._setup.voicemail,
        )
        self.driver.start(ChannelVariables(headers))
        for event in self._early:
            self.driver.post(event)
        self._flush()

    def _drive(self) -> None:
        driver = self.driver
        assert driver is not None
        while not self.dialogue.done:
            if self._shutdown is not None:
                reason, self._shutdown = self._shutdown, None
                driver.post(ShutdownRequested(time.monotonic(), reason))
                self._flush()
                continue
            self._step(self._post)

    def _post(self, event: Event) -> None:
        assert self.driver is not None
        self.driver.post(event)
        if isinstance(event, DtmfReceived):
            written = self._flush()
            done_by_switch, self.dialogue.stop_already_done = self.dialogue.stop_already_done, False
            if written or done_by_switch:
                self.observer.dtmf_handled(time.monotonic() - event.at)

    def _step(self, deliver: Callable[[Event], None]) -> None:
        """Wait for the switch until the nearest deadline, then hand on what came or what is due."""
        # Work posted by another greenlet while this one was writing is still to be sent.
        self._flush()
        now = time.monotonic()
        deadline = self._last_heard + self.settings.idle_timeout
        for other in (self.dialogue.reply_deadline(), self.driver.next_deadline() if self.driver else None):
            if other is not None and other < deadline:
                deadline = other
        data = self._read(deadline - now)
        now = time.monotonic()
        if data is not None:
            self._last_heard = now
            self.dialogue.receive_data(data, now)
            while (event := self.dialogue.next_event()) is not None:
                deliver(event)
            if not data and not self.dialogue.done:
                raise ConnectionLost(self.conn.closed_reason or "switch closed the connection")
        else:
            if (failed := self.dialogue.check_deadlines(now)) is not None:
                deliver(failed)
            if self.driver is not None:
                self.driver.fire_due_timers()
            if now - self._last_heard >= self.settings.idle_timeout and self._shutdown is None:
                raise ConnectionLost(f"nothing from the switch for {self.settings.idle_timeout} s")
        self._flush()

    def _read(self, timeout: float) -> bytes | None:
        """Bytes from the switch within `timeout`, or None (timed out, or woken for other work)."""
        self._idle = True
        try:
            return self.conn.read(max(timeout, 0.0))
        except _Wakeup:
            return None
        finally:
            self._idle = False

    def _flush(self) -> int:
        data = self.dialogue.data_to_send()
        if data:
            try:
                self.conn.write(data)
            except ConnectionLost:
                if not self.dialogue.hung_up:
                    raise
        return len(data)

    # --- the end --------------------------------------------------------------

    def _let_go(self) -> None:
        """Wait (bounded) until the switch is done with the channel, then say exit.

        A transferred call that is held waits until its target is safe without
        the socket (the dialogue's check, at its deadline) or hangs up, or until
        the switch has said nothing for `idle_timeout`. A shutdown ends the wait,
        except for a held call: its target might be parked, and exit would end
        it there; it is let go only when safe, and otherwise closes with the process.
        Its reads now go after those of calls still in their menus.
        """
        self.conn.set_priority(ReadPriority.LETTING_GO)
        dialogue = self.dialogue
        holding = dialogue.transferred and not self.settings.exit_after_transfer
        deadline = time.monotonic() + self.settings.teardown_timeout
        stop_logged = False
        try:
            while not dialogue.released:
                if self._shutdown is not None:
                    if not holding:
                        break
                    if not stop_logged:
                        stop_logged = True
                        self._log_stop_while_held()
                if holding:
                    deadline = self._last_heard + self.settings.idle_timeout
                now = time.monotonic()
                if deadline <= now:
                    log.warning("switch did not release the channel in time; exiting", extra={"call": dialogue.call_id})
                    break
                wake = min(d for d in (deadline, dialogue.release_deadline(), dialogue.reply_deadline()) if d is not None)
                data = self._read(wake - now)
                now = time.monotonic()
                if data:
                    self._last_heard = now
                    dialogue.receive_data(data, now)
                    while dialogue.next_event() is not None:
                        pass  # the call is over: only the release matters now
                elif data is None:
                    dialogue.check_deadlines(now)
                    dialogue.check_release(now)
                else:
                    return  # the switch closed first: nothing left to release
                self._flush()
        except ConnectionLost:
            return
        self._exit()

    def _log_stop_while_held(self) -> None:
        reason = self.dialogue.hold_reason()
        if reason is None:
            log.info("ivrflow stopping: the transfer target runs without the socket; letting it go once quiet",
                     extra={"call": self.dialogue.call_id})
        else:
            log.warning("ivrflow stopping: holding the transferred call's socket (%s); it is let go if the target "
                        "moves on, else it closes as ivrflow exits and FreeSWITCH ends the call there", reason,
                        extra={"call": self.dialogue.call_id})

    def _exit(self) -> None:
        """Say exit and wait (bounded) for its reply: FreeSWITCH then lets go of the channel."""
        if self.conn.closed_reason is not None:
            return
        self.dialogue.exit()
        deadline = time.monotonic() + self.settings.command_timeout
        try:
            self._flush()
            while not self.dialogue.exit_acknowledged:
                remaining = deadline - time.monotonic()
                data = self.conn.read(remaining) if remaining > 0 else None
                if not data:
                    return
                self.dialogue.receive_data(data, time.monotonic())
                while self.dialogue.next_event() is not None:
                    pass
        except ConnectionLost:
            pass

    def _end_unexpectedly(self, event: CallerHungUp | SwitchFailed) -> None:
        """Still record a call whose connection failed or whose handling broke."""
        self.dialogue.hung_up = self.dialogue.hung_up or isinstance(event, CallerHungUp)
        if self.driver is None:
            return
        try:
            self.driver.end_unexpectedly(event)
        except Exception:
            log.exception("could not record the end of the call", extra={"call": self.dialogue.call_id})
