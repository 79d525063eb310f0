"""One call walking a voice menu: a pure state machine.

Theory of operation
-------------------
`Call.handle(event)` takes one event (events.py) and returns what the switch
must do (commands.py), in order. Nothing here touches a socket, a clock or a
thread: time arrives only as `at` on events and as TimerFired for timers the
engine itself started, so every walk can be replayed exactly.

Every transition lives in this file (h11's rule), which is why it runs past
400 lines. `_TRANSITIONS` maps each waiting state to
the events it takes; an event a state does not take (a digit after a transfer,
a playback that ended after it was stopped) is ignored. Three events apply in
every live state and are handled first: the caller hanging up, the switch
failing, the runtime shutting down, and `lifetime` running out.

The walk (spec §2): answer, wait `sleep_time`, run the entry context's `start`
rules, then wait for input. A digit during a background prompt stops it, drops
the option's remaining rules and begins an entry in the current context; a
digit during a foreground prompt, or during `sleep_time`, is discarded. An
entry resolves (dtmf_collection.py) to an option, a direct dial or `invalid`;
no digit within `timeout` runs `timeout`. An option other than `start` whose
rules run out without ending it hangs up.

Errors (h11's model): if handling an event raises, the call moves to ERROR and
`handle` raises EngineError; the outputs of that event are dropped, since the
driver never receives them, and every later `handle` raises EngineError at
once. The driver then calls `abort`, which ends the call with a record of
outcome `error`. A call is never fed again half-updated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from ..menu.model import (
    DIALABLE,
    CallInteractive,
    Context,
    HangupRule,
    Ivr,
    JumpToContext,
    Menu,
    PlayDigits,
    PlayDigitsFromVariable,
    PlaySilence as PlaySilenceRule,
    PlaySound,
    QualityRate,
    RecordDigits,
    Rule,
    SetCallerIdName,
    SetCallerIdNumber,
    SetVariable as SetVariableRule,
    SimpleTransfer,
    TransferFromVariable,
    TransferRule,
    VoiceHelper,
)
from .outputs import (
    ActionDone,
    Answer,
    CallFinished,
    CancelTimer,
    ContextEntered,
    Hangup,
    InputResolved,
    Notice,
    Output,
    Play,
    PlaySilence,
    SayDigits,
    SetCallerId,
    SetVariable,
    StartTimer,
    StopPlayback,
    Timer,
    TimerKind,
    Transfer,
)
from .checks import check_text, check_time
from .dtmf_collection import EntryRules, ends_entry, is_complete, resolve
from .errors import EngineError
from .events import (
    CallerHungUp,
    CallStarted,
    DtmfReceived,
    Event,
    PlaybackFinished,
    ShutdownRequested,
    SwitchFailed,
    TimerFired,
    TransferFinished,
)
from .record import CallRecord, Outcome, Step

SAYABLE_DIGITS = re.compile(r"[0-9*#]{1,64}")

# Rules run without time passing; more than this in a row can only be a loop
# of jumps (or of 0 ms input waits) that the config checks did not refuse.
MAX_RULES_WITHOUT_WAIT = 1000


class State(Enum):
    NEW = "new"  # waiting for CallStarted
    SLEEPING = "sleeping"  # sleep_time before the entry context
    PLAYING = "playing"  # a prompt of the current option is playing
    COLLECTING = "collecting"  # waiting for the digits of a menu entry
    RECORDING = "recording"  # record_digits: its prompt, then its digits
    TRANSFERRING = "transferring"  # waiting for the switch's verdict on a transfer
    ENDED = "ended"  # the record is out; later events are ignored
    ERROR = "error"  # a handler raised, or the call was aborted: handle raises EngineError


class Call:
    """The walk of one call through one ivr."""

    def __init__(self, menu: Menu, ivr: Ivr) -> None:
        self.menu = menu
        self.ivr = ivr
        self.state = State.NEW
        self._out: list[Output] = []
        self._context: Context = _entry_context(ivr)
        self._option = "start"
        self._rule_index = 0
        self._entry = ""
        self._next_play_id = 0
        self._playing: int | None = None
        self._interruptible = False
        self._timers: dict[TimerKind, Timer] = {}
        self._rules_by_context: dict[int, EntryRules] = {}
        self._timer_seq = 0
        self._recording: RecordDigits | None = None
        self._recording_rules = EntryRules.of_record_digits(1)
        self._channel_gone = False  # the caller hung up or left through a transfer: no Hangup
        self._channel_variables: Mapping[str, str] = {}
        self._variables: dict[str, str] = {}
        self._transfer_result: tuple[Outcome, str] = ("transfer", "")
        self._transfer_action = "transfer"
        self._now = 0.0
        self._steps_without_time = 0
        self._started_at = 0.0
        self._first_digit_at: float | None = None
        self._path: list[Step] = []
        self._entries: list[str] = []
        self._destinations: tuple[str, ...] = ()
        self._notices: list[str] = []
        self._errors: list[str] = []
        self.record: CallRecord | None = None

    def handle(self, event: Event) -> list[Output]:
        """Feed one event; return the commands and progress it causes, in order.

        Raises EngineError if handling it failed (the call is then in ERROR) or
        if the call already is in ERROR; the driver then calls `abort`.
        """
        if self.state is State.ERROR:
            raise EngineError(self._refusal())
        self._out = []
        if self.state is State.ENDED:
            return []
        state = self.state
        try:
            self._dispatch(event)
        except BaseException as exc:
            self._fault(event, state)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt, GreenletExit: the call is in ERROR all the same
            raise EngineError(f"{type(exc).__name__} while handling {type(event).__name__} in state {state.value}: {exc}") from exc
        return self._out

    def abort(self, at: float, reason: str) -> list[Output]:
        """End the call now, in any state before it finished: after an EngineError,
        or when the driver cannot go on with it.

        Cancels the live timers, hangs up unless the caller is already gone, and
        ends with CallFinished (outcome `error`, `reason`). The call is then in
        ERROR: `handle` and `abort` raise EngineError.
        """
        if self.record is not None:
            raise EngineError(f"abort: the call has already finished ({self.record.outcome})")
        check_time(self, "at", at)
        check_text(self, "reason", reason)
        self._out = []
        if self.state is State.NEW:
            self._started_at = at  # nothing happened to the call before: it lasts no time
        self._now = at
        self._errors.append(reason)
        self._cancel_all_timers()
        if not self._channel_gone:
            self._emit(Hangup("NORMAL_TEMPORARY_FAILURE"))
        self._end("error", reason)
        self.state = State.ERROR
        return self._out

    def _dispatch(self, event: Event) -> None:
        if event.at > self._now:
            self._steps_without_time = 0
        self._now = event.at
        if self.state is State.NEW:
            self._started_at = event.at  # a call that ends before it starts lasts no time
        if isinstance(event, CallerHungUp):
            self._on_caller_hangup(event)
        elif isinstance(event, SwitchFailed):
            self._on_switch_failed(event)
        elif isinstance(event, ShutdownRequested):
            self._on_shutdown(event)
        elif isinstance(event, TimerFired) and not self._take_timer(event.timer):
            pass  # a timer cancelled or replaced after it was started
        elif isinstance(event, TimerFired) and event.timer.kind is TimerKind.LIFETIME:
            self._on_lifetime()
        else:
            handler = _TRANSITIONS[self.state].get(type(event))
            if handler is not None:
                handler(self, event)

    def _fault(self, event: Event, state: State) -> None:
        """Handling `event` (which found the call in `state`) raised: enter ERROR.

        What this event output never reaches the driver, so the engine forgets
        it: the record, if one was made, and the timers it started; a timer it
        cancelled is still live on the driver's side.
        """
        self.state = State.ERROR
        self.record = None
        started = {o.timer for o in self._out if isinstance(o, StartTimer)}
        live = [t for t in self._timers.values() if t not in started]
        live += [o.timer for o in self._out if isinstance(o, CancelTimer) and o.timer not in started]
        self._timers = {t.kind: t for t in live}
        self._out = []
        self._channel_gone = isinstance(event, CallerHungUp) or (
            isinstance(event, TransferFinished) and event.ok and state is State.TRANSFERRING
        )

    def _refusal(self) -> str:
        if self.record is not None:
            return "the call was aborted; it takes no more events"
        return "the call is in ERROR after a failed event; only abort() may follow"

    # --- start ------------------------------------------------------------

    def _on_start(self, event: CallStarted) -> None:
        self._started_at = event.at
        self._channel_variables = event.variables  # read-only; may be read lazily from the switch's data
        self._emit(Answer())
        if self.ivr.lifetime > 0:
            self._start_timer(TimerKind.LIFETIME, self.ivr.lifetime * 1000)
        if self.ivr.sleep_time > 0:
            self.state = State.SLEEPING
            self._start_timer(TimerKind.SLEEP, self.ivr.sleep_time)
        else:
            self._enter(self._context, "start")

    def _on_sleep_timer(self, event: TimerFired) -> None:
        if event.timer.kind is TimerKind.SLEEP:
            self._enter(self._context, "start")

    # --- running rules ----------------------------------------------------

    def _enter(self, context: Context, option: str) -> None:
        self._context = context
        self._emit(ContextEntered(context.id, option))
        self._run_option(option)

    def _run_option(self, option: str) -> None:
        self._option = option
        self._rule_index = 0
        self._path.append(Step(self._context.id, option))
        self._run_rules()

    def _run_rules(self) -> None:
        while self._steps_without_time < MAX_RULES_WITHOUT_WAIT:
            # Counted across events too: a 0 ms input wait that loops back is no wait at all.
            self._steps_without_time += 1
            rules = self._context.rules(self._option)
            if self._rule_index >= len(rules):
                self._rules_done()
                return
            rule = rules[self._rule_index]
            self._rule_index += 1
            if _ACTIONS[type(rule)](self, rule):
                return
        self._fail(f"{MAX_RULES_WITHOUT_WAIT} rules ran without time passing (a loop of jumps)")

    def _rules_done(self) -> None:
        if self._option == "start":
            self.state = State.COLLECTING
            self._entry = ""
            self._start_timer(TimerKind.FIRST_DIGIT, self._context.timeout)
        else:
            self._hangup(
                "hangup", f"option {self._option!r} of context {self._context.id} ended without a transfer"
            )

    # Each action returns True when the call now waits (or has ended), False to run the next rule.

    def _play_sound(self, rule: PlaySound) -> bool:
        sound = self.menu.sound(rule.sound)
        if sound is None:  # config checks make this unreachable; survive it anyway
            return self._skip(rule.action, f"sound {rule.sound} is unknown")
        interruptible = rule.sound_type == "background"
        self._start_play(lambda pid: Play(pid, sound.filename, interruptible), interruptible)
        return self._done(rule.action)

    def _play_silence(self, rule: PlaySilenceRule) -> bool:
        self._start_play(lambda pid: PlaySilence(pid, rule.silence_time), True)
        return self._done(rule.action)

    def _play_digits(self, rule: PlayDigits) -> bool:
        self._start_play(lambda pid: SayDigits(pid, rule.digits, rule.play_digits_method), True)
        return self._done(rule.action)

    def _play_digits_from_variable(self, rule: PlayDigitsFromVariable) -> bool:
        digits = self._variable(rule.play_digits_variable)
        if digits is None or not SAYABLE_DIGITS.fullmatch(digits):
            return self._skip(rule.action, f"variable {rule.play_digits_variable} holds no digits ({digits!r})")
        self._start_play(lambda pid: SayDigits(pid, digits, rule.play_digits_method), True)
        return self._done(rule.action)

    def _transfer(self, rule: TransferRule | SimpleTransfer) -> bool:
        self._start_transfer(rule.destinations, rule.action, rule.action, "transfer", "")
        return self._done(rule.action)

    def _transfer_from_variable(self, rule: TransferFromVariable) -> bool:
        destination = self._variable(rule.transfer_variable)
        if destination is None or not DIALABLE.fullmatch(destination):
            return self._skip(
                rule.action, f"variable {rule.transfer_variable} holds no dialable number ({destination!r})"
            )
        self._start_transfer((destination,), "transfer", rule.action, "transfer", "")
        return self._done(rule.action)

    def _hangup_rule(self, rule: HangupRule) -> bool:
        self._emit(ActionDone(rule.action, "ok"))
        self._hangup("hangup", f"hangup rule in option {self._option!r} of context {self._context.id}")
        return True

    def _jump(self, rule: JumpToContext) -> bool:
        target = self.ivr.context(rule.context)
        if target is None:  # config checks make this unreachable; survive it anyway
            self._fail(f"jump_to_context to unknown context {rule.context}")
            return True
        self._emit(ActionDone(rule.action, "ok"))
        self._context = target
        self._emit(ContextEntered(target.id, rule.context_option))
        self._option = rule.context_option
        self._rule_index = 0
        self._path.append(Step(target.id, rule.context_option))
        return False

    def _record_digits(self, rule: RecordDigits) -> bool:
        self.state = State.RECORDING
        self._recording = rule
        self._recording_rules = EntryRules.of_record_digits(rule.record_digits_max)
        self._entry = ""
        sound = self.menu.sound(rule.record_digits_sound) if rule.record_digits_sound else None
        if sound is not None:
            self._start_play(lambda pid: Play(pid, sound.filename, True), True, State.RECORDING)
        else:
            self._start_timer(TimerKind.FIRST_DIGIT, self._context.timeout)
        return True

    def _set_variable(self, rule: SetVariableRule) -> bool:
        self._variables[rule.set_variable_name] = rule.set_variable_value
        self._emit(SetVariable(rule.set_variable_name, rule.set_variable_value))
        return self._continue(rule.action)

    def _set_caller_id_number(self, rule: SetCallerIdNumber) -> bool:
        self._emit(SetCallerId("number", rule.caller_id_number))
        return self._continue(rule.action)

    def _set_caller_id_name(self, rule: SetCallerIdName) -> bool:
        self._emit(SetCallerId("name", rule.caller_id_name))
        return self._continue(rule.action)

    def _deferred(self, rule: Rule) -> bool:
        return self._skip(rule.action, "not run by this release")

    def _done(self, action: str) -> bool:
        self._emit(ActionDone(action, "ok"))
        return True

    def _continue(self, action: str) -> bool:
        self._emit(ActionDone(action, "ok"))
        return False

    def _skip(self, action: str, why: str) -> bool:
        message = f"skipped {action} in option {self._option!r} of context {self._context.id}: {why}"
        self._notices.append(message)
        self._emit(Notice(message))
        self._emit(ActionDone(action, "skipped"))
        return False

    # --- prompts ----------------------------------------------------------

    def _start_play(
        self, make: Callable[[int], Output], interruptible: bool, state: State = State.PLAYING
    ) -> None:
        self._next_play_id += 1
        self._playing = self._next_play_id
        self._interruptible = interruptible
        self.state = state
        self._emit(make(self._playing))

    def _stop_play(self) -> None:
        if self._playing is not None:
            self._emit(StopPlayback(self._playing))
            self._playing = None

    def _on_playback_finished(self, event: PlaybackFinished) -> None:
        if event.play_id != self._playing:
            return  # a prompt stopped earlier
        self._playing = None
        if event.error:
            self._errors.append(f"prompt could not play: {event.error}")
            self._emit(Notice(f"prompt in option {self._option!r} could not play: {event.error}"))
        self._run_rules()

    def _on_digit_while_playing(self, event: DtmfReceived) -> None:
        if not self._interruptible:
            return  # foreground prompt: digits are discarded
        self._stop_play()
        self._note_digit()
        self.state = State.COLLECTING
        self._entry = ""
        self._collect(event.digit)

    def _discard_digit(self, event: DtmfReceived) -> None:
        pass

    # --- menu input -------------------------------------------------------

    def _note_digit(self) -> None:
        if self._first_digit_at is None:
            self._first_digit_at = self._now

    def _on_entry_digit(self, event: DtmfReceived) -> None:
        self._note_digit()
        self._collect(event.digit)

    def _collect(self, digit: str) -> None:
        rules = self._entry_rules()
        if self._take_digit(rules, digit):
            self._resolve_entry(rules)

    def _take_digit(self, rules: EntryRules, digit: str) -> bool:
        """Add a key to the entry by the collection rules; whether the entry is over.

        Menu entries and record_digits both collect through here, so digit_len,
        the terminator and the inter-digit timeout mean the same in both.
        """
        self._cancel_timer(TimerKind.FIRST_DIGIT)
        self._cancel_timer(TimerKind.INTER_DIGIT)
        if ends_entry(rules, digit):
            return True
        self._entry += digit
        if is_complete(rules, self._entry):
            return True
        self._start_timer(TimerKind.INTER_DIGIT, self._context.inter_digit_timeout)
        return False

    def _on_input_timer(self, event: TimerFired) -> None:
        if event.timer.kind is TimerKind.INTER_DIGIT:
            self._resolve_entry(self._entry_rules())
        elif event.timer.kind is TimerKind.FIRST_DIGIT:
            self._emit(InputResolved(self._context.id, "timeout", "timeout"))
            self._run_option("timeout")

    def _resolve_entry(self, rules: EntryRules) -> None:
        resolution = resolve(rules, self._entry)
        self._entries.append(self._entry)
        if resolution.result == "direct_dial":
            self._emit(InputResolved(self._context.id, "direct_dial", None))
            self._start_transfer((resolution.entry,), "transfer", "direct_dial", "transfer", "direct dial")
            return
        option = resolution.entry if resolution.result == "option" else "invalid"
        self._emit(InputResolved(self._context.id, resolution.result, option))
        self._run_option(option)

    # --- record_digits ----------------------------------------------------

    def _on_recording_playback_finished(self, event: PlaybackFinished) -> None:
        if event.play_id == self._playing:
            self._playing = None
            self._start_timer(TimerKind.FIRST_DIGIT, self._context.timeout)

    def _on_recording_digit(self, event: DtmfReceived) -> None:
        self._note_digit()
        self._stop_play()
        if self._take_digit(self._recording_rules, event.digit):
            self._finish_recording()

    def _on_recording_timer(self, event: TimerFired) -> None:
        if event.timer.kind in (TimerKind.FIRST_DIGIT, TimerKind.INTER_DIGIT):
            self._finish_recording()

    def _finish_recording(self) -> None:
        assert self._recording is not None
        name, self._recording = self._recording.record_digits_variable, None
        self._variables[name] = self._entry
        self._emit(SetVariable(name, self._entry))
        self._emit(ActionDone("record_digits", "ok"))
        self._run_rules()

    # --- leaving the menu -------------------------------------------------

    def _start_transfer(
        self, destinations: tuple[str, ...], kind: str, action: str, outcome: Outcome, reason: str
    ) -> None:
        """`action` names what asked for the transfer (a rule's action, direct_dial, lifetime_transfer)."""
        self._stop_play()
        self._transfer_action = action
        self._cancel_all_timers()
        self._destinations = destinations
        self._transfer_result = (outcome, reason)
        self.state = State.TRANSFERRING
        self._emit(Transfer(destinations, "simple_transfer" if kind == "simple_transfer" else "transfer"))

    def _on_transfer_finished(self, event: TransferFinished) -> None:
        outcome, reason = self._transfer_result
        if event.ok:
            self._end(outcome, reason or "transferred")
            return
        self._errors.append(f"transfer to {','.join(self._destinations)} failed: {event.cause}")
        self._emit(ActionDone(self._transfer_action, "failed"))
        # The call did not leave through the transfer: we hang it up. A lifetime
        # transfer that fails still ends the call because of the lifetime.
        self._hangup("hangup" if outcome == "transfer" else outcome, f"transfer failed: {event.cause}")

    def _on_lifetime(self) -> None:
        if self.state is State.TRANSFERRING:
            return
        self._stop_play()
        reason = f"lifetime of {self.ivr.lifetime} s ran out"
        if self.ivr.lifetime_exp_action == "transfer" and self.ivr.lifetime_exp_transfer_dst:
            self._start_transfer((self.ivr.lifetime_exp_transfer_dst,), "transfer", "lifetime_transfer", "lifetime", reason)
        else:
            self._hangup("lifetime", reason)

    def _on_caller_hangup(self, event: CallerHungUp) -> None:
        during = " during transfer" if self.state is State.TRANSFERRING else ""
        self._end("caller_hangup", f"caller hung up{during} ({event.cause})")

    def _on_shutdown(self, event: ShutdownRequested) -> None:
        self._stop_play()
        self._hangup("hangup", f"ivrflow stopping: {event.reason}")

    def _on_switch_failed(self, event: SwitchFailed) -> None:
        self._fail(f"switch failed: {event.reason}")

    def _fail(self, reason: str) -> None:
        self._errors.append(reason)
        self._stop_play()
        self._hangup("error", reason, cause="NORMAL_TEMPORARY_FAILURE")

    def _hangup(self, outcome: Outcome, reason: str, cause: str = "NORMAL_CLEARING") -> None:
        self._cancel_all_timers()
        self._emit(Hangup(cause))
        self._end(outcome, reason)

    def _end(self, outcome: Outcome, reason: str) -> None:
        self._cancel_all_timers()
        self.state = State.ENDED
        self.record = CallRecord(
            ivr=self.ivr.extension,
            outcome=outcome,
            reason=reason,
            started_at=self._started_at,
            ended_at=self._now,
            path=tuple(self._path),
            entries=tuple(self._entries),
            variables=tuple(self._variables.items()),
            transfer_destinations=self._destinations,
            notices=tuple(self._notices),
            errors=tuple(self._errors),
            first_digit_at=self._first_digit_at,
        )
        self._emit(CallFinished(self.record))

    # --- timers and helpers -----------------------------------------------

    # A timer is output before it is remembered, and forgotten only once its
    # cancel is output: if handling fails in between, `_fault` still knows
    # exactly which timers the driver has.

    def _start_timer(self, kind: TimerKind, milliseconds: int) -> None:
        self._cancel_timer(kind)
        self._timer_seq += 1
        timer = Timer(kind, self._timer_seq)
        self._emit(StartTimer(timer, milliseconds / 1000.0))
        self._timers[kind] = timer

    def _cancel_timer(self, kind: TimerKind) -> None:
        timer = self._timers.get(kind)
        if timer is not None:
            self._emit(CancelTimer(timer))
            del self._timers[kind]

    def _cancel_all_timers(self) -> None:
        for kind in list(self._timers):
            self._cancel_timer(kind)

    def _take_timer(self, timer: Timer) -> bool:
        """Whether `timer` is live; a live timer fires once, so it is forgotten here."""
        if self._timers.get(timer.kind) != timer:
            return False
        del self._timers[timer.kind]
        return True

    def _entry_rules(self) -> EntryRules:
        """The current context's input rules, derived once per context and call."""
        rules = self._rules_by_context.get(self._context.id)
        if rules is None:
            rules = self._rules_by_context[self._context.id] = EntryRules.of(self._context)
        return rules

    def _variable(self, name: str) -> str | None:
        if name in self._variables:
            return self._variables[name]
        return self._channel_variables.get(name)

    def _emit(self, output: Output) -> None:
        self._out.append(output)


def _entry_context(ivr: Ivr) -> Context:
    context = ivr.context(ivr.entry_context)
    if context is None:
        raise ValueError(f"ivr {ivr.extension}: entry_context {ivr.entry_context} does not exist")
    return context


_ACTIONS: dict[type[Any], Callable[[Call, Any], bool]] = {
    PlaySound: Call._play_sound,
    PlaySilenceRule: Call._play_silence,
    PlayDigits: Call._play_digits,
    PlayDigitsFromVariable: Call._play_digits_from_variable,
    TransferRule: Call._transfer,
    SimpleTransfer: Call._transfer,
    TransferFromVariable: Call._transfer_from_variable,
    HangupRule: Call._hangup_rule,
    JumpToContext: Call._jump,
    RecordDigits: Call._record_digits,
    SetVariableRule: Call._set_variable,
    SetCallerIdNumber: Call._set_caller_id_number,
    SetCallerIdName: Call._set_caller_id_name,
}
_ACTIONS.update({rule_type: Call._deferred for rule_type in (CallInteractive, QualityRate, VoiceHelper)})

_TRANSITIONS: dict[State, dict[type[Any], Callable[[Call, Any], None]]] = {
    State.NEW: {CallStarted: Call._on_start},
    State.SLEEPING: {TimerFired: Call._on_sleep_timer, DtmfReceived: Call._discard_digit},
    State.PLAYING: {
        PlaybackFinished: Call._on_playback_finished,
        DtmfReceived: Call._on_digit_while_playing,
    },
    State.COLLECTING: {DtmfReceived: Call._on_entry_digit, TimerFired: Call._on_input_timer},
    State.RECORDING: {
        PlaybackFinished: Call._on_recording_playback_finished,
        DtmfReceived: Call._on_recording_digit,
        TimerFired: Call._on_recording_timer,
    },
    State.TRANSFERRING: {TransferFinished: Call._on_transfer_finished},
    State.ENDED: {},
    State.ERROR: {},
}
