"""The emulated channel thread: the park loop, ``switch_core_session_exec`` and hangup.

Theory of operation (async socket).  Commands from ``sendmsg`` land in the
channel's private queue.  Only *polling* code drains that queue: the park loop
between applications, and ``playback``/``sleep``/``bridge`` while they run.  A
command dequeued by a running application therefore executes *nested* inside
it, unless the running one was sent with ``event-lock: true``.  Digits follow
the same rule: they sit in the DTMF queue until a polling loop dequeues them,
and the DTMF event fires at that moment.

Nothing here busy-polls: every loop blocks on one ``gevent.event.Event`` that
is set whenever something it could react to changes (a command, a digit, a
hangup, a break), with a timeout equal to the time left of the running media.

Test support past 400 lines: the emulated channel's behaviour is kept whole, as one
reads it against mod_event_socket and the transcripts.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol
from collections.abc import Callable, Mapping, Sequence

from xml.sax.saxutils import escape

import gevent.event

from .fs_channel import Channel, now_us
from .fs_history import AppRun, ChannelHistory
from .fs_script import BridgeOutcome, CallScript, Key
from .fresh_timers import refresh_now

__all__ = ["Message", "Outbox", "Session"]

PollResult = Literal["done", "break", "hangup", "transfer", "dtmf"]
HangupSource = Literal["command", "caller"]

# Causes after which a failed bridge leaves the A leg up (switch_channel_handle_cause).
_SOFT_BRIDGE_FAILURES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL"})
_BRIDGE_CAUSES = {
    "no_answer": ("NO_ANSWER", "NOANSWER"),
    "busy": ("USER_BUSY", "BUSY"),
    "rejected": ("CALL_REJECTED", "CONGESTION"),
    "unallocated": ("UNALLOCATED_NUMBER", "CONGESTION"),
}
_ALL_TERMINATORS = "1234567890*#"


@dataclass(frozen=True, slots=True)
class Message:
    """A queued ``sendmsg`` as ``switch_ivr_parse_event`` sees it."""

    call_command: str
    app: str = ""
    arg: str = ""
    event_uuid: str | None = None
    event_lock: bool = False
    loops: int = 1
    hangup_cause: str = "NORMAL_CLEARING"


class Outbox(Protocol):
    """What the channel thread needs from the socket side."""

    def emit(self, name: str, extra: Sequence[tuple[str, str]] = (), body: str | None = None) -> None: ...

    def channel_down(self) -> None: ...

    def hangup_noticed(self) -> None: ...


class Session:
    """State and behaviour of the controlled channel."""

    def __init__(
        self,
        script: CallScript,
        channel: Channel,
        record: ChannelHistory,
        outbox: Outbox,
        clock: Callable[[], float],
        applications: Mapping[str, Callable[[Session, str], None]],
    ) -> None:
        self.applications = applications
        self.script = script
        self.channel = channel
        self.record = record
        self.outbox = outbox
        self.now = clock
        self.queue: deque[Message] = deque()
        self.digits: deque[Key] = deque()
        self.wake = gevent.event.Event()
        self.break_flag = False
        self.stop_broadcast = False
        self.event_lock_depth = 0
        self.app_depth = 0
        self.hangup_source: HangupSource | None = None
        self.transferred_to: str | None = None
        self.controlled = True
        self.socket_app_uuid = str(uuid_mod.uuid4())
        self.recognizer: str | None = None  # detect_speech's "engine grammar name" while it runs

    # Inputs from the outside ------------------------------------------------------

    def notify(self) -> None:
        self.wake.set()

    def enqueue(self, message: Message) -> None:
        self.queue.append(message)
        self.notify()

    def receive_digits(self, key: Key) -> None:
        if not self.channel.ready:
            return
        for digit in key.digits:
            self.digits.append(Key(key.t, digit, key.source, key.duration))
        self.notify()

    def receive_speech(self, words: str) -> None:
        """The caller says `words`: with a recognizer running, its result is a DETECTED_SPEECH pair.

        switch_ivr_async.c's speech thread queues each event on the channel and,
        with `fire_asr_events`, fires a copy at once. A running application's
        input callback eats the queued one (playback's ignores it); the park loop
        fires it: so a parked channel with fire_asr_events sends each result twice.
        """
        if not self.channel.ready or self.recognizer is None:
            return
        self.record.speech.append((self.now(), words))
        copies = (self.channel.get_var("fire_asr_events") == "true") + (self.app_depth == 0)
        for speech_type, body in (("begin-speaking", None), ("detected-speech", _nlsml(words))):
            for _ in range(copies):
                self.outbox.emit("DETECTED_SPEECH", [("Speech-Type", speech_type)], body)

    def request_break(self, flush_queue: bool) -> None:
        self.break_flag = True
        if self.app_depth:
            self.stop_broadcast = True
        if flush_queue:
            self.queue.clear()
        self.notify()

    def release_control(self) -> None:
        """The socket went away: a park loop running now ends, as when CF_CONTROLLED is cleared.

        With socket_resume a transferred channel is reset instead: what it runs
        stops and it stays up, silent.
        """
        self.controlled = False
        resume = self.channel.get_var("socket_resume") == "true"
        if resume and self.channel.ready and self.record.transferred_to is not None:
            self.record.reset_by_teardown = True
            self.break_flag = True
        self.notify()

    # Waiting ---------------------------------------------------------------------

    def wait(self, seconds: float | None) -> None:
        """Block until something changes, or ``seconds`` of call time pass."""
        self.wake.clear()
        if seconds is None:
            self.wake.wait()
        elif seconds > 0:
            refresh_now()
            self.wake.wait(seconds * self.script.time_scale)

    def poll(self, seconds: float, *, digits: Literal["playback", "sleep", "bridge", "read"]) -> tuple[PollResult, str]:
        """Run media for ``seconds`` like FreeSWITCH's frame loops; returns why it stopped.

        ``read`` (switch_ivr_read's prompt and digit waits) stops on any digit and leaves the rest queued.
        """
        remaining = seconds
        while True:
            if not self.channel.ready:
                return "hangup", ""
            if self.break_flag or self.stop_broadcast:
                return "break", ""
            if self.transferred_to is not None:
                return "transfer", ""
            if digits == "sleep" and self.digits:
                # sleep stops on a digit but leaves it queued for the next reader.
                return "dtmf", ""
            if digits in ("playback", "bridge", "read"):
                while self.digits:
                    digit = self.dequeue_digit()
                    if digits == "read" or (digits == "playback" and digit in self.playback_terminators()):
                        return "dtmf", digit
            if self.queue and not self.event_lock_depth:
                self.parse_all_events()
                continue
            if remaining <= 0:
                return "done", ""
            started = self.now()
            self.wait(remaining)
            remaining -= self.now() - started

    def playback_terminators(self) -> str:
        value = self.channel.get_var("playback_terminators")
        if value is None:
            return "*"
        if value == "any":
            return _ALL_TERMINATORS
        if value == "none":
            return ""
        return value

    def dequeue_digit(self) -> str:
        key = self.digits.popleft()
        self.record.dtmf.append((self.now(), key.digits))
        self.outbox.emit(
            "DTMF",
            [("DTMF-Digit", key.digits), ("DTMF-Duration", str(key.duration)), ("DTMF-Source", key.source)],
        )
        return key.digits

    # The park loop and the private queue -------------------------------------------

    def park(self) -> None:
        """``switch_ivr_park``: idle between commands, dequeuing digits and commands.

        It sets CF_CONTROLLED itself, so a park that starts after the socket went
        away runs on; one running when it goes loses the flag and ends.
        """
        self.controlled = True
        self.outbox.emit("CHANNEL_PARK")
        while self.channel.ready and self.controlled and self.transferred_to is None:
            if self.digits or self.queue:
                # The park loop runs on the media clock: work waits for the next frame.
                gevent.sleep(self.script.frame_seconds * self.script.time_scale)
                if not (self.channel.ready and self.controlled):
                    break
            if self.digits:
                # Parked: every digit is evented at once, then dropped.
                self.dequeue_digit()
                continue
            if self.queue:
                self.parse_all_events()
                continue
            self.wait(None)
        self.outbox.emit("CHANNEL_UNPARK")

    def parse_all_events(self) -> None:
        while self.queue:
            self.run_message(self.queue.popleft())

    def run_message(self, message: Message) -> None:
        if message.call_command == "hangup":
            self.hangup(message.hangup_cause, "command")
        elif message.call_command == "execute" and message.app:
            self.execute_sendmsg(message)

    def execute_sendmsg(self, message: Message) -> None:
        if not self.channel.ready:
            # A down channel ignores applications (they get no EXECUTE events).
            return
        lock = 1 if message.event_lock else 0
        self.event_lock_depth += lock
        try:
            for loop in range(1, message.loops + 1):
                self.channel.set_var("current_loop", str(loop))
                self.channel.set_var("total_loops", str(message.loops))
                started = self.now()
                app_uuid = message.event_uuid if loop == 1 and message.event_uuid else None
                self.execute(message.app, message.arg, app_uuid)
                # FreeSWITCH stops looping on a break, a hangup, or a too-short iteration.
                if not self.channel.ready or self.stop_broadcast or self.now() - started < 0.5:
                    break
            self.channel.set_var("current_loop", None)
            self.channel.set_var("total_loops", None)
        finally:
            self.event_lock_depth -= lock

    # switch_core_session_exec ----------------------------------------------------

    def execute(self, app: str, arg: str, app_uuid: str | None) -> None:
        implementation = self.applications.get(app)
        if implementation is None:
            # Unknown application: FreeSWITCH hangs up without any EXECUTE event.
            self.hangup("DESTINATION_OUT_OF_ORDER", "command")
            return
        if not self.channel.ready:
            return
        app_uuid = app_uuid or str(uuid_mod.uuid4())
        expanded, scope = _split_scope(self.expand(arg))
        ch = self.channel
        ch.set_var("current_application", app)
        ch.set_var("current_application_data", expanded or None)
        ch.set_var("current_application_response", None)
        # An earlier break is forgotten when the next application starts.
        self.break_flag = False
        self.stop_broadcast = False
        head = [("Application", app)]
        if expanded:
            head.append(("Application-Data", expanded))
        self.outbox.emit("CHANNEL_EXECUTE", [*head, ("Application-UUID", app_uuid)])
        run = AppRun(app, expanded, app_uuid, self.now(), depth=self.app_depth)
        self.record.applications.append(run)
        ch.scopes.append(scope)
        self.app_depth += 1
        try:
            implementation(self, expanded)
        finally:
            self.app_depth -= 1
            ch.scopes.pop()
        response = ch.get_var("current_application_response") or "_none_"
        run.ended = self.now()
        run.response = response
        self.outbox.emit(
            "CHANNEL_EXECUTE_COMPLETE",
            [*head, ("Application-Response", response), ("Application-UUID", app_uuid)],
        )
        if self.app_depth == 0:
            self.stop_broadcast = False

    def expand(self, arg: str) -> str:
        """``${name}`` expansion from channel variables (unset expands to nothing)."""
        if "${" not in arg:
            return arg
        out: list[str] = []
        i = 0
        while i < len(arg):
            start = arg.find("${", i)
            end = arg.find("}", start + 2) if start >= 0 else -1
            if start < 0 or end < 0:
                out.append(arg[i:])
                break
            out.append(arg[i:start])
            out.append(self.channel.get_var(arg[start + 2 : end]) or "")
            i = end + 1
        return "".join(out)

    # Answer, hangup, transfer ------------------------------------------------------

    def answer(self) -> None:
        ch = self.channel
        if ch.answer_state == "answered" or not ch.ready:
            return
        ch.answer_state = "answered"
        ch.set_profile("Channel-Answered-Time", str(now_us()))
        self.record.answered = True
        self.outbox.emit("CHANNEL_ANSWER")
        ch.call_state = "ACTIVE"

    def hangup(self, cause: str, source: HangupSource) -> None:
        ch = self.channel
        if not ch.ready:
            return
        ch.hangup_cause = cause
        ch.answer_state = "hangup"
        ch.set_state_number("CS_HANGUP")
        self.hangup_source = source
        self.record.hangup_cause = cause
        self.outbox.emit("CHANNEL_HANGUP")
        self.outbox.hangup_noticed()
        self.notify()

    def transfer(self, destination: str, dialplan: str, context: str) -> None:
        ch = self.channel
        old_destination = ch.profile.get("Destination-Number", "")
        index = int(ch.profile.get("Profile-Index", "1")) + 1
        stamp = now_us()
        ch.set_profile("Dialplan", dialplan)
        ch.set_profile("Destination-Number", destination)
        ch.insert_profile_after(
            "Source", "Transfer-Source", f"{stamp // 1_000_000}:{uuid_mod.uuid4()}:bl_xfer:{destination}/{context}/{dialplan}"
        )
        ch.set_profile("Context", context)
        ch.insert_profile_after("Context", "RDNIS", old_destination)
        ch.set_profile("Profile-Index", str(index))
        ch.set_profile("Profile-Created-Time", str(stamp))
        ch.set_var("max_forwards", "69")
        ch.set_var("transfer_history", f"{stamp // 1_000_000}:{uuid_mod.uuid4()}:bl_xfer:{destination}/{context}/{dialplan}")
        ch.set_var("transfer_source", f"{stamp // 1_000_000}:{uuid_mod.uuid4()}:bl_xfer:{destination}/{context}/{dialplan}")
        ch.set_state_number("CS_ROUTING")
        # A transfer flushes digits that were queued but not yet read.
        self.digits.clear()
        self.transferred_to = destination
        self.record.transferred_to = destination
        self.notify()

    # The socket application's life ---------------------------------------------------

    def run_async(self, parked: gevent.event.Event) -> None:
        """The channel thread of an ``async`` socket, from park to the end of the call."""
        parked.wait()
        if self.channel.ready and self.controlled:
            self.park()
            self._complete_socket_app()
        while self.channel.ready and self.transferred_to is not None:
            self._route_transfer()
        while self.channel.ready and self.record.reset_by_teardown:
            self.wait(None)  # reset by the teardown: up and silent until someone hangs up
        if self.channel.ready:
            # The socket app returned and the dialplan has nothing left to run.
            self.hangup("NORMAL_CLEARING", "command")
        self.teardown()

    def _complete_socket_app(self) -> None:
        self.outbox.emit(
            "CHANNEL_EXECUTE_COMPLETE",
            [
                ("Application", "socket"),
                ("Application-Data", self.script.resolved_socket_app_data()),
                ("Application-Response", self.channel.get_var("current_application_response") or "_none_"),
                ("Application-UUID", self.socket_app_uuid),
            ],
        )

    def _route_transfer(self) -> None:
        destination = self.transferred_to or ""
        ch = self.channel
        self.transferred_to = None
        ch.running_state = "CS_ROUTING"
        ch.call_state = "RINGING"
        self.outbox.emit("CHANNEL_STATE")
        if destination in self.script.unrouted:
            self.hangup("NO_ROUTE_DESTINATION", "command")  # hung up while routing (06e)
            return
        ch.running_state = "CS_EXECUTE"
        ch.set_state_number("CS_EXECUTE")
        ch.call_state = "ACTIVE" if ch.answer_state == "answered" else "RINGING"
        self.outbox.emit("CHANNEL_STATE")
        steps = self.script.transfer_extensions.get(destination, self.script.default_transfer_extension)
        if steps is None:
            steps = [("park", "")]
        for app, arg in steps:
            if not ch.ready or self.transferred_to is not None or self.record.reset_by_teardown:
                return
            # The dialplan goes on after an app ends, a park knocked out by the teardown too.
            self.execute(app, arg.replace("{destination}", destination), None)

    def teardown(self) -> None:
        """CS_HANGUP and CS_REPORTING, then tell the socket side the channel is down."""
        ch = self.channel
        ch.running_state = "CS_HANGUP"
        self.outbox.emit("CHANNEL_STATE")
        ch.running_state = "CS_REPORTING"
        ch.set_state_number("CS_REPORTING")
        ch.call_state = "HANGUP"
        ch.set_profile("Channel-Hangup-Time", str(now_us()))
        self.outbox.emit("CHANNEL_STATE")
        ch.set_var("hangup_cause", ch.hangup_cause)
        self.outbox.emit("CHANNEL_HANGUP_COMPLETE")
        self.outbox.channel_down()

    # Bridge ----------------------------------------------------------------------

    def bridge(self, dial_string: str) -> None:
        legs = _bridge_legs(dial_string)
        give_up = _originate_timeout(dial_string)  # as switch_ivr_originate: nobody answered by then
        outcomes = [(leg, self.script.bridge_outcome(_endpoint(leg))) for leg in legs]
        # origination_uuid names a leg's channel; without it the switch makes one up.
        uuids = {leg: _leg_blocks(leg)[0].get("origination_uuid") or str(uuid_mod.uuid4()) for leg in legs}
        # The first to answer wins; at the same moment, the one dialled first.
        answered = [(o.ring_seconds, i, leg, o) for i, (leg, o) in enumerate(outcomes) if o.result == "answer" and o.ring_seconds <= give_up]
        # Without an answer the originate waits until every leg has failed, or until it gives up.
        ring = min(max((o.ring_seconds if o.result != "answer" else give_up for _, o in outcomes), default=0.0), give_up)
        if answered:
            ring = min(answered)[0]
        result, _ = self.poll(ring, digits="bridge")
        if result != "done":
            return
        ch = self.channel
        winner = min(answered)[2] if answered else None
        _push_originate_causes(ch, [(uuids[leg], _leg_cause(o, ring, leg == winner, winner is not None)) for leg, o in outcomes])
        if winner is None:
            first = outcomes[0][1].result
            cause, dial_status = _BRIDGE_CAUSES.get(first, ("NO_ANSWER", "NOANSWER"))
            if first == "answer" or outcomes[0][1].ring_seconds > give_up:  # still ringing when the originate gave up
                cause, dial_status = "NO_ANSWER", "NOANSWER"
            ch.set_var("originate_disposition", cause)
            ch.set_var("DIALSTATUS", dial_status)
            ch.set_var("originate_failed_cause", cause)
            continue_on_fail = ch.get_var("continue_on_fail") or ""
            failure_causes = ch.get_var("failure_causes")
            keeps_call = continue_on_fail.lower() == "true" or cause in continue_on_fail.split(",")
            if not keeps_call and (failure_causes is not None or cause not in _SOFT_BRIDGE_FAILURES or continue_on_fail):
                self.hangup(cause, "command")
            return
        _, _, leg, outcome = min(answered)
        b_uuid = uuids[leg]
        self.record.bridged_to = _endpoint(leg)
        self.answer()
        ch.set_profile("Channel-Bridged-Time", str(now_us()))
        ch.set_var("bridge_uuid", b_uuid)
        ch.set_var("last_bridge_to", b_uuid)
        ch.set_var("originate_disposition", "SUCCESS")
        ch.set_var("DIALSTATUS", "SUCCESS")
        bridge_ids = [("Bridge-A-Unique-ID", ch.unique_id), ("Bridge-B-Unique-ID", b_uuid)]
        self.outbox.emit("CHANNEL_BRIDGE", bridge_ids)
        result, _ = self.poll(outcome.talk_seconds, digits="bridge")
        self.outbox.emit("CHANNEL_UNBRIDGE", bridge_ids)
        ch.set_var("last_bridge_hangup_cause", "NORMAL_CLEARING")
        if result == "done" and (ch.get_var("hangup_after_bridge") or "").lower() == "true":
            self.hangup("NORMAL_CLEARING", "command")


def _leg_cause(outcome: BridgeOutcome, ended_at: float, won: bool, someone_answered: bool) -> str:
    """The leg's hangup cause when switch_ivr_originate pushes it onto originate_causes.

    The answering leg is still up (NONE); a leg that failed before the end has its own
    cause; the others are hung up by the originate: LOSE_RACE after an answer, else NO_ANSWER.
    """
    if won:
        return "NONE"
    if outcome.result != "answer" and outcome.ring_seconds <= ended_at:
        return _BRIDGE_CAUSES.get(outcome.result, ("NO_ANSWER", ""))[0]
    return "LOSE_RACE" if someone_answered else "NO_ANSWER"


def _push_originate_causes(channel: Channel, causes: Sequence[tuple[str, str]]) -> None:
    """`<uuid>;<CAUSE>` per leg, pushed onto the variable (switch_channel_add_variable_var_check, SWITCH_STACK_PUSH).

    One value is plain; a second turns it into an `ARRAY::a|:b` array. Entries pile up
    over the call's bridges, since the originate clears them only with preserve_originated_vars=false.
    """
    entries = [f"{uuid};{cause}" for uuid, cause in causes]
    old = channel.get_var("originate_causes")
    if old is not None:
        entries = [*(old[7:].split("|:") if old.startswith("ARRAY::") else [old]), *entries]
    channel.set_var("originate_causes", entries[0] if len(entries) == 1 else "ARRAY::" + "|:".join(entries))


def _leg_blocks(leg: str) -> tuple[dict[str, str], str]:
    """A leg's leading `[name=value,...]` blocks (several may lead it) and the endpoint after them."""
    variables: dict[str, str] = {}
    while leg.startswith("[") and "]" in leg:
        end = leg.index("]")
        for pair in leg[1:end].split(","):
            name, _, value = pair.partition("=")
            variables[name] = value
        leg = leg[end + 1 :]
    return variables, leg


def _endpoint(leg: str) -> str:
    return _leg_blocks(leg)[1]


def _nlsml(words: str) -> str:
    """The result mod_unimrcp passes on: NLSML with the MRCPv2 namespace, the words as the input."""
    return (
        '<?xml version="1.0"?>\n<result xmlns="http://www.ietf.org/xml/ns/mrcpv2">'
        f'<interpretation confidence="0.9"><instance>{escape(words)}</instance>'
        f'<input mode="speech">{escape(words)}</input></interpretation></result>\n'
    )


def _split_scope(arg: str) -> tuple[str, dict[str, str]]:
    """Strip a ``%[name=value,...]`` prefix into scope variables, as switch_core_session_exec does."""
    if not arg.startswith("%["):
        return arg, {}
    end = arg.find("]")
    if end < 0:
        return arg, {}
    scope: dict[str, str] = {}
    for pair in arg[2:end].split(","):
        name, sep, value = pair.partition("=")
        if sep and name:
            scope[name.strip()] = value
    return arg[end + 1 :], scope


def _originate_timeout(dial_string: str) -> float:
    """The `{originate_timeout=N}` of a dial string's global block, in seconds; FreeSWITCH's default is 60."""
    if dial_string.startswith("{") and "}" in dial_string:
        for pair in dial_string[1 : dial_string.index("}")].split(","):
            name, _, value = pair.partition("=")
            if name == "originate_timeout" and value.isdigit():
                return float(value)
    return 60.0


def _bridge_legs(dial_string: str) -> list[str]:
    rest = dial_string
    if rest.startswith("{"):
        end = rest.find("}")
        rest = rest[end + 1 :] if end >= 0 else rest
    legs: list[str] = []
    for group in rest.split("|"):
        legs.extend(leg for leg in group.split(",") if leg)
    return legs
