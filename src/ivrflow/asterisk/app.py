"""The Stasis app's side of the one WebSocket: which call an event is about, new calls, and reconciliation.

WebSocket-loss rule (Asterisk drops the app's events while its socket is down
and replays nothing; transcript 07). On every reconnect, before new events are
trusted, `GET /applications/{app}` lists the channels still in the app; then:

1. A call we drive whose channel is no longer in the app ended during the gap:
   after a `continue` it was transferred (TransferFinished), otherwise the
   caller hung up (CallerHungUp). Either way it gets its one record.
2. A call we drive that is still in the app and whose state REST can tell
   (prompts and our own timers, not legs ringing or a bridge) is resumed: each
   prompt it waits on is asked for (`GET /playbacks/{id}`); one that is gone
   ended in the gap and its PlaybackFinished is posted. Digits pressed in the
   gap are lost; the engine's own timers go on as if none was pressed.
3. A call we drive whose state REST cannot tell (legs ringing, bridged, or a
   prompt's check that failed or found no answer within the REST deadline) is
   ended with SwitchFailed and the recorded reason `LOST_STATE`; the engine
   hangs it up, so it is not left in Stasis with nobody driving it.
4. A channel in the app that nobody drives (its StasisStart was lost) and that
   is not a leg we dialed is hung up, and the reason logged: after a grace
   period, since a new call's StasisStart may still be unread in the socket.
   One in a bridge is left talking (a transfer an earlier process bridged).

The prompt checks of rule 2 run concurrently (`CHECKS_AT_ONCE` at a time)
while the event stream goes on reading: one after another they took a REST
round trip each before any event was read, and Asterisk, whose write buffer to
the app fills meanwhile, drops a socket it cannot write to. An event for a call
under check waits in that call's hold until its decision is applied, then goes
to the call in the order it came (`CallRouter.hold` / `settle`).
"""

from __future__ import annotations

import collections
import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import gevent
import gevent.pool

from ..engine import SwitchFailed
from .call import AriCall
from .dialogue import LEG_ARG
from .rest import AriRest, AriUnavailable
from .wire import q850

log = logging.getLogger("ivrflow.asterisk")
LOST_STATE = "ARI events were lost while the WebSocket was down and the call's state could not be recovered"
LOST_CALL = "ivrflow lost this call's StasisStart while the ARI WebSocket was down"
Json = Mapping[str, Any]
# Prompt checks in flight at once. They share the REST pool (32 connections) with the
# calls' own requests, so they take half of it; Asterisk serves each HTTP connection
# in a thread of its own (http.conf `sessionlimit`, 100 by default).
CHECKS_AT_ONCE = 16


@dataclass(frozen=True, slots=True)
class AriCallStart:
    """A new call in the Stasis app: what the call layer needs to start a driver."""

    channel_id: str
    ivr: str
    caller_number: str
    caller_name: str
    destination: str
    context: str


def call_start(event: Json) -> AriCallStart | None:
    """The call a StasisStart begins, or None for a leg ivrflow dialed itself.

    The ivr is the first Stasis argument (`Stasis(ivrflow,071)`), else the
    dialed extension (`channel.dialplan.exten`), as the ESL side uses the called number.
    """
    args = [str(a) for a in event.get("args", [])]
    if args[:1] == [LEG_ARG]:
        return None
    channel = event.get("channel", {})
    dialplan = channel.get("dialplan", {})
    caller = channel.get("caller", {})
    exten = str(dialplan.get("exten", ""))
    return AriCallStart(
        channel_id=str(channel.get("id", "")),
        ivr=args[0] if args and args[0] else exten,
        caller_number=str(caller.get("number", "")),
        caller_name=str(caller.get("name", "")),
        destination=exten,
        context=str(dialplan.get("context", "")),
    )


def event_channel(event: Json) -> str | None:
    """The channel an event is about: its `channel`, a Dial's `peer`, or a playback's target."""
    if "channel" in event:
        return str(event["channel"].get("id"))
    if "peer" in event:
        return str(event["peer"].get("id"))
    target = str(event.get("playback", {}).get("target_uri", ""))
    return target.partition(":")[2] if target.startswith("channel:") else None


class CallRouter:
    """Hands each event to the call it is about; a StasisStart of a new call to `on_new_call`."""

    def __init__(self, on_new_call: Callable[[AriCallStart, Json], None]) -> None:
        self.calls: dict[str, AriCall] = {}  # channel id (the caller's or a leg's) -> call
        # Done calls whose last requests (a continue, a hangup) are still on their way: their
        # channels are in the app a moment longer, and still ours (see hang_up_orphans).
        self._leaving: dict[str, AriCall] = {}
        # Calls under a reconciliation check -> their events read meanwhile, in order.
        self._held: dict[str, collections.deque[Json]] = {}
        self._on_new_call = on_new_call

    def add(self, call: AriCall) -> None:
        self.calls[call.dialogue.channel_id] = call

    def route(self, event: Json) -> None:
        channel_id = event_channel(event)
        if event.get("type") == "StasisStart" and channel_id not in self.calls:
            start = call_start(event)
            if start is not None:
                self._on_new_call(start, event)
                return
        call = self._find(channel_id)
        if call is None:
            return
        held = self._held.get(call.dialogue.channel_id)
        if held is not None:
            held.append(event)
            return
        self._deliver(call, event)

    def _deliver(self, call: AriCall, event: Json) -> None:
        call.on_event(event)
        if call.dialogue.done:
            self.release(call)

    def hold(self, call: AriCall) -> None:
        """Keep the call's events from it until `settle`: its state is being asked for."""
        self._held.setdefault(call.dialogue.channel_id, collections.deque())

    def settle(self, call: AriCall, decision: Callable[[], None]) -> None:
        """Apply the call's reconciliation decision, then the events held for it, in the order they came."""
        try:
            decision()
        finally:  # even if handling it broke: the call's events must not stay held for ever
            held = self._held.get(call.dialogue.channel_id, collections.deque())
            while held:  # still held while it drains, so an event read meanwhile waits its turn
                event = held.popleft()
                if self._find(event_channel(event)) is call:  # what `route` would do now: a done call gets nothing
                    self._deliver(call, event)
            self._held.pop(call.dialogue.channel_id, None)

    def release(self, call: AriCall) -> None:
        """The call is done: no more events are routed to it, but it is owned until its requests are out."""
        self.calls.pop(call.dialogue.channel_id, None)
        self._leaving = {c: k for c, k in self._leaving.items() if k.sending}
        if call.sending:
            self._leaving[call.dialogue.channel_id] = call

    def _find(self, channel_id: str | None) -> AriCall | None:
        if channel_id is None:
            return None
        call = self.calls.get(channel_id)
        if call is not None:
            return call
        return next((c for c in self.calls.values() if c.dialogue.owns(channel_id)), None)

    def owned(self, channel_id: str) -> bool:
        leaving = self._leaving.get(channel_id)
        return self._find(channel_id) is not None or (leaving is not None and leaving.sending)


Decision = Literal["ended", "resumed", "lost_state", "orphan"]


class Reconciliation:
    """One reconnect's reconciliation: `decisions` per channel, complete once `wait` returns."""

    def __init__(self) -> None:
        self.decisions: dict[str, Decision] = {}
        self._checks = gevent.pool.Group()

    def check(self, work: collections.deque[Callable[[], None]]) -> None:
        """Run the queued checks, at most CHECKS_AT_ONCE at a time, without waiting for them."""
        for _ in range(min(CHECKS_AT_ONCE, len(work))):
            self._checks.spawn(_work_off, work)

    def wait(self, timeout: float | None = None) -> dict[str, Decision]:
        self._checks.join(timeout)
        return self.decisions


def reconcile(rest: AriRest, app: str, router: CallRouter, clock: Callable[[], float]) -> Reconciliation:
    """Apply the WebSocket-loss rule (module docstring) once; the prompt checks go on after it returns.

    Every decision but a resumed call's with prompts to ask for is taken
    before it returns, so events read next find those calls settled; a checked
    call's decision is timed by `clock` when it is taken.
    """
    result = Reconciliation()
    try:
        reply = rest.request("GET", f"/applications/{app}")
    except AriUnavailable as exc:
        log.warning("reconciliation postponed: %s", exc)
        return result
    in_app = set(reply.body.get("channel_ids", [])) if reply.status == 200 and isinstance(reply.body, dict) else set()
    # Taken before any call is reconciled: ending a call lets go of its ringing legs, which are not orphans.
    driven = {c for c in in_app if router.owned(c)}
    decisions, at = result.decisions, clock()
    work: collections.deque[Callable[[], None]] = collections.deque()
    for channel_id, call in list(router.calls.items()):
        dialogue = call.dialogue
        if channel_id != dialogue.channel_id:
            continue
        if channel_id not in in_app:
            call.apply(dialogue.resync(False, set(), at))
            decisions[channel_id] = "ended"
        elif not dialogue.state_known:
            decisions[channel_id] = _lose_state(call, at)
        elif dialogue.playback_ids():
            router.hold(call)
            work.append(functools.partial(_check, rest, router, call, clock, decisions))
        else:
            decisions[channel_id] = "resumed"  # only our own timers: nothing to ask Asterisk
    for channel_id in sorted(in_app - set(decisions) - driven):
        decisions[channel_id] = "orphan"
    result.check(work)
    return result


def _work_off(work: collections.deque[Callable[[], None]]) -> None:
    while work:
        try:
            work.popleft()()
        except Exception:  # as for an event (EventStream._dispatch): one call's failure stops no other check
            log.exception("reconciling a call failed")


def _check(rest: AriRest, router: CallRouter, call: AriCall, clock: Callable[[], float], decisions: dict[str, Decision]) -> None:
    """Rule 2 for one call: ask for each prompt it waits on, within one REST deadline, then settle it."""
    dialogue = call.dialogue
    asked = dialogue.playback_ids()
    gone: set[str] | None = None  # None: Asterisk could not tell
    try:
        with gevent.Timeout(rest.deadline, AriUnavailable(f"no answer for {len(asked)} prompts within {rest.deadline} s")):
            gone = {pb for pb in asked if not _playing(rest, pb)}
    except AriUnavailable as exc:
        log.warning("call=%s prompt check failed: %s", dialogue.channel_id, exc)

    def decide() -> None:
        at = clock()
        if gone is None:
            decisions[dialogue.channel_id] = _lose_state(call, at)
        else:
            call.apply(dialogue.resync(True, gone, at))
            decisions[dialogue.channel_id] = "resumed"

    router.settle(call, decide)


def _lose_state(call: AriCall, at: float) -> Decision:
    log.warning("call=%s hung up: %s", call.dialogue.channel_id, LOST_STATE)
    call.apply_event(SwitchFailed(at, LOST_STATE))
    return "lost_state"


def hang_up_orphans(rest: AriRest, app: str, router: CallRouter, candidates: list[str]) -> list[str]:
    """Step 4, once the grace period is over: hang up the candidates still in the app that nobody drives by now.

    A candidate whose StasisStart was only unread may have been driven and
    transferred (`continue`) during the grace: it has left the app, and
    `DELETE /channels` would cut it at its target, so the app is listed again.
    A channel in a bridge is left alone: it is a transferred call still talking
    (an earlier process bridged it), and hanging it up would cut a conversation.
    A candidate driven by now (or done, its last requests still on their way) is
    dropped before anything is asked: the listing is stale by the time its turn
    comes, and such a call may have left the app meanwhile.
    """
    candidates = [c for c in candidates if not router.owned(c)]
    if not candidates:
        return []
    try:
        listed = rest.request("GET", f"/applications/{app}")
        reply = rest.request("GET", "/bridges")
    except AriUnavailable as exc:
        log.warning("orphaned channels left for the next reconnect: %s", exc)
        return []
    in_app = set(listed.body.get("channel_ids", [])) if listed.status == 200 and isinstance(listed.body, dict) else set()
    bridges = reply.body if reply.status == 200 and isinstance(reply.body, list) else []
    bridged = {str(c) for b in bridges if isinstance(b, dict) for c in b.get("channels", [])}
    hung_up = []
    for channel_id in candidates:
        if channel_id not in in_app or router.owned(channel_id) or channel_id in bridged:
            continue
        log.warning("call=%s hung up: %s", channel_id, LOST_CALL)
        try:
            rest.request("DELETE", f"/channels/{channel_id}", (("reason_code", str(q850("NORMAL_TEMPORARY_FAILURE"))),))
            hung_up.append(channel_id)
        except AriUnavailable as exc:
            log.warning("call=%s could not be hung up: %s", channel_id, exc)
    return hung_up


def _playing(rest: AriRest, playback_id: str) -> bool:
    """Whether Asterisk still has the prompt; AriUnavailable when it cannot say (no reply, an error status)."""
    status = rest.request("GET", f"/playbacks/{playback_id}").status
    if status not in (200, 404):
        raise AriUnavailable(f"GET /playbacks/{playback_id}: HTTP {status}")
    return status == 200
