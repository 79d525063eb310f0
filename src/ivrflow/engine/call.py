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
rules run out without ending it hangs up. voice_helper (LISTENING) is an
input wait of its own: a transcription (SpeechDetected) or keys choose the option.

Errors (h11's model): if handling an event raises, the call moves to ERROR and
`handle` raises EngineError; the outputs of that event are dropped, since the
driver never receives them, and every later `handle` raises EngineError at
once. The driver then calls `abort`, which ends the call with a record of
outcome `error`. A call is never fed again half-updated.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Literal

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
    SetCallerIdName,
    SetCallerIdNumber,
    SetVariable as SetVariableRule,
    SimpleTransfer,
    TransferFromVariable,
    TransferRule,
    VoiceHelper,
)
from ..menu import verbs
from .outputs import (
    ActionDone,
    Answer,
    CallFinished,
    CancelTimer,
    CancelWebhook,
    ContextEntered,
    FetchWebhook,
    Hangup,
    InputResolved,
    KeepMessage,
    Notice,
    Output,
    Play,
    PlaySilence,
    RatingGiven,
    RecordMessage,
    SayDigits,
    SetCallerId,
    SetVariable,
    Speak,
    StartSpeech,
    StartTimer,
    StopPlayback,
    StopSpeech,
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
    MessageRecorded,
    PlaybackFinished,
    ShutdownRequested,
    SpeechDetected,
    SwitchFailed,
    TimerFired,
    TransferFinished,
    WebhookReplied,
)
from .options import CallOptions, SpeechRecognition, SpeechSynthesis
from .rating import AskAgain, Rated, judge_rating
from .record import CallRecord, DestinationOutcome, Outcome, Rating, Step
from .speech import choose_route

SAYABLE_DIGITS = re.compile(r"[0-9*#]{1,64}")

# Rules run without time passing; more than this in a row can only be a loop
# of jumps (or of 0 ms input waits) that the config checks did not refuse.
MAX_RULES_WITHOUT_WAIT = 1000
# Keys kept while a webhook request is out (see `_on_waiting_digit`).
MAX_TYPEAHEAD = 64
# The engine's own deadline for a request trails the HTTP client's, which normally reports first.
WEBHOOK_GRACE_MS = 1000
# The switch reports a recording's end at once; past its longest length plus this, it never will.
VOICEMAIL_GRACE_MS = 10_000


class State(Enum):
    NEW = "new"  # waiting for CallStarted
    SLEEPING = "sleeping"  # sleep_time before the entry context
    PLAYING = "playing"  # a prompt of the current option is playing
    COLLECTING = "collecting"  # waiting for the digits of a menu entry
    RECORDING = "recording"  # record_digits: its prompt, then its digits
    TRANSFERRING = "transferring"  # waiting for the switch's verdict on a transfer
    WAITING = "waiting"  # a call_interactive request is out; the hold sound may play
    RATING = "rating"  # quality_rate: its sound, then one key
    LISTENING = "listening"  # voice_helper: the switch recognises speech, its sound may play, keys collect
    VOICEMAIL = "voicemail"  # nobody answered the transfer: greeting, beep, then the switch records a message
    ENDED = "ended"  # the record is out; later events are ignored
    ERROR = "error"  # a handler raised, or the call was aborted: handle raises EngineError


class Call:
    """The walk of one call through one ivr."""

    def __init__(self, menu: Menu, ivr: Ivr, options: CallOptions = CallOptions()) -> None:
        self.menu = menu
        self.ivr = ivr
        self.options = options
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
        self._recording: tuple[str, str] | None = None  # (variable, action) collecting digits
        self._recording_rules = EntryRules.of_record_digits(1)
        self._script: deque[verbs.Verb] = deque()  # a webhook reply's verbs still to run
        self._digitvar: str | None = None  # the playing reply sound's digitvar
        self._job: int | None = None  # the call_interactive request out, if any
        self._next_job = 0
        self._typeahead: list[str] = []
        self._rating: tuple[QualityRate, str] | None = None  # the quality_rate asking, and its sound's file
        self._rating_retried = False
        self._ratings: list[Rating] = []
        self._listening: int | None = None  # voice_helper's recognition under way, if any
        self._next_listen_id = 0
        self._voice_rule: VoiceHelper | None = None
        self._unmatched = 0  # the rule's transcriptions no route matched so far
        self._ring_timeout: int | None = None  # the transfer under way comes back if nobody answers
        self._lifetime_due = False
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
        self._destination_outcomes: list[DestinationOutcome] = []
        self._vm_prompts: deque[str] = deque()  # greeting and beep still to play before the recording
        self._vm_job: int | None = None  # the recording under way
        self._vm_end: tuple[Outcome, str] | None = None  # the caller or a shutdown ended the call while recording
        self._voicemail_s: float | None = None
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
        self._script.clear()
        self._path.append(Step(self._context.id, option))
        self._run_rules()

    def _run_rules(self) -> None:
        while self._steps_without_time < MAX_RULES_WITHOUT_WAIT:
            # Counted across events too: a 0 ms input wait that loops back is no wait at all.
            self._steps_without_time += 1
            if self._script:
                if self._run_verb(self._script.popleft()):
                    return
                continue
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
        self._go_to(target, rule.context_option)
        return False

    def _go_to(self, target: Context, option: str) -> None:
        """Continue at `option` of `target` with the next rule run (jump_to_context, a reply's Jump)."""
        self._context = target
        self._emit(ContextEntered(target.id, option))
        self._option = option
        self._rule_index = 0
        self._script.clear()
        self._path.append(Step(target.id, option))

    def _record_digits(self, rule: RecordDigits) -> bool:
        self._collect_into(rule.record_digits_variable, rule.action, rule.record_digits_max)
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

    # --- call_interactive -------------------------------------------------

    def _call_interactive(self, rule: CallInteractive) -> bool:
        self._next_job += 1
        job = self._job = self._next_job
        timeout_ms = rule.call_interactive_timeout
        deadline_s = self.options.webhook_deadline_s if timeout_ms is None else timeout_ms / 1000.0
        self.state = State.WAITING
        variables = tuple(self._variables.items())
        self._emit(FetchWebhook(job, rule.call_interactive_url, rule.call_interactive_method, variables, deadline_s))
        self._start_timer(TimerKind.WEBHOOK, round(deadline_s * 1000) + WEBHOOK_GRACE_MS)
        self._play_hold()
        return True

    def _play_hold(self) -> None:
        hold = self.options.hold_sound
        if hold is not None:
            self._start_play(lambda pid: Play(pid, hold, False), False, State.WAITING)

    def _on_hold_finished(self, event: PlaybackFinished) -> None:
        # Not looped after an error: a missing file would come back at once, forever.
        if self._prompt_ended(event, "hold sound") and not event.error:
            self._play_hold()

    def _on_waiting_digit(self, event: DtmfReceived) -> None:
        """Keys pressed while a request is out: kept, in order, for when the call next waits.

        The hold sound goes on. Once the reply's verbs (or, without a reply, the
        next rules) reach a prompt or an input wait, the keys arrive there as if
        pressed at that moment: a background sound or Pause is stopped by the
        first and the entry begins (a digitvar takes them), a foreground sound
        discards them, a transfer drops them.
        """
        self._note_digit()
        if len(self._typeahead) < MAX_TYPEAHEAD:
            self._typeahead.append(event.digit)

    def _on_webhook_replied(self, event: WebhookReplied) -> None:
        if event.job != self._job:
            return  # a reply that came after its deadline
        self._webhook_over()
        if event.error is not None:
            self._webhook_failed(event.error)
        else:
            self._emit(ActionDone("call_interactive", "ok"))
            self._script.extend(event.verbs)
        self._run_rules()
        self._replay_typeahead()

    def _on_webhook_timer(self, event: TimerFired) -> None:
        if event.timer.kind is not TimerKind.WEBHOOK or self._job is None:
            return
        self._drop_webhook()
        self._webhook_over()
        self._webhook_failed("no verdict from the webhook client in time")
        self._run_rules()
        self._replay_typeahead()

    def _webhook_over(self) -> None:
        self._job = None
        self._cancel_timer(TimerKind.WEBHOOK)
        self._stop_play()

    def _webhook_failed(self, error: str) -> None:
        message = f"call_interactive in option {self._option!r} of context {self._context.id} failed: {error}"
        self._errors.append(message)
        self._emit(Notice(message))
        self._emit(ActionDone("call_interactive", "failed"))

    def _drop_webhook(self) -> None:
        if self._job is not None:
            self._emit(CancelWebhook(self._job))
            self._job = None

    def _replay_typeahead(self) -> None:
        while self._typeahead and self.state in (
            State.PLAYING, State.COLLECTING, State.RECORDING, State.RATING, State.LISTENING
        ):
            _TRANSITIONS[self.state][DtmfReceived](self, DtmfReceived(self._now, self._typeahead.pop(0)))
        if self.state is not State.WAITING:
            self._typeahead.clear()

    def _run_verb(self, verb: verbs.Verb) -> bool:
        """One verb of a reply; True when the call now waits (or has ended), as for rules."""
        match verb:
            case verbs.Hangup():
                self._hangup("hangup", f"call_interactive reply in option {self._option!r} said Hangup")
                return True
            case verbs.Pause(length=seconds):
                self._start_play(lambda pid: PlaySilence(pid, seconds * 1000), True)
                return True
            case verbs.SetVar(name=name, value=value):
                self._variables[name] = value
                self._emit(SetVariable(name, value))
            case verbs.Jump(context=context_id, option=option):
                target = self.ivr.context(context_id)
                if target is None:  # the reply's checks make this unreachable; survive it anyway
                    self._fail(f"call_interactive reply jumps to unknown context {context_id}")
                    return True
                self._go_to(target, option)
            case verbs.SetCaller(name=name, number=number):
                if number is not None:
                    self._emit(SetCallerId("number", number))
                if name is not None:
                    self._emit(SetCallerId("name", name))
            case verbs.PlaySound(filename=filename, where=where, digitvar=digitvar):
                background = where == "background"
                self._start_play(lambda pid: Play(pid, filename, background), background)
                self._digitvar = digitvar
                return True
            case verbs.SimpleTransfer(destinations=destinations, final=final, timeout=timeout):
                ring = None if final else timeout
                self._start_transfer(destinations, "simple_transfer", "call_interactive", "transfer", "", ring)
                return True
            case verbs.TTS(text=text, lang=lang, play_now=play_now):
                tts = self.options.tts
                if tts is None:
                    self._skip("call_interactive", "TTS: the switch has no speech synthesis configured")
                else:  # a background prompt, as Pause is: a key stops it and begins an entry
                    if not play_now:  # verbs already speak one after another: there is no later to defer to
                        self._note(f"TTS in option {self._option!r} of context {self._context.id}: "
                                   "play_now=\"false\" has no meaning here; spoken in turn, as every verb")
                    voice = self._tts_voice(tts, lang)
                    self._start_play(lambda pid: Speak(pid, tts.engine, voice, text), True)
                    return True
        return False

    def _tts_voice(self, tts: SpeechSynthesis, lang: str | None) -> str:
        """The voice of the reply's language; the default one, said in a notice, when the language
        has none (speaking is better than dropping the text). Without tts_voices every language
        speaks with the default voice, as configured, and no notice is needed."""
        voice = tts.voice_for(lang)
        if voice is not None:
            return voice
        if tts.voices:
            message = (f"TTS in option {self._option!r} of context {self._context.id}: no voice for lang "
                       f"{lang!r} in tts_voices, spoken with the default voice {tts.voice!r}")
            self._note(message)
        return tts.voice

    # --- quality_rate -----------------------------------------------------

    def _quality_rate(self, rule: QualityRate) -> bool:
        sound = self.menu.sound(rule.sound)
        if sound is None:  # config checks make this unreachable; survive it anyway
            return self._skip(rule.action, f"sound {rule.sound} is unknown")
        self._rating = (rule, sound.filename)
        self._rating_retried = False
        self._ask_rating()
        return True

    def _ask_rating(self) -> None:
        """The sound, interruptible: a key pressed while it plays is the answer."""
        assert self._rating is not None
        filename = self._rating[1]
        self._start_play(lambda pid: Play(pid, filename, True), True, State.RATING)

    def _on_rating_playback_finished(self, event: PlaybackFinished) -> None:
        if self._prompt_ended(event, "quality_rate sound"):  # failed or not: the caller may know what to press
            self._start_timer(TimerKind.FIRST_DIGIT, self._context.timeout)

    def _on_rating_digit(self, event: DtmfReceived) -> None:
        self._note_digit()
        self._stop_play()
        self._cancel_timer(TimerKind.FIRST_DIGIT)
        self._judge_rating(event.digit)

    def _on_rating_timer(self, event: TimerFired) -> None:
        if event.timer.kind is TimerKind.FIRST_DIGIT:
            self._judge_rating(None)

    def _judge_rating(self, digit: str | None) -> None:
        assert self._rating is not None
        rule = self._rating[0]
        verdict = judge_rating(digit, rule.max_rate, self._rating_retried)
        if isinstance(verdict, AskAgain):
            self._rating_retried = True
            self._ask_rating()
            return
        self._rating = None
        if isinstance(verdict, Rated):
            rating = Rating(verdict.rate, rule.max_rate, self._now, self.ivr.client_id, self.ivr.id)
            self._ratings.append(rating)
            self._emit(RatingGiven(rating))
            self._emit(ActionDone(rule.action, "ok"))
        else:
            message = (f"quality_rate in option {self._option!r} of context {self._context.id}: "
                       f"no rating ({verdict.reason.replace('_', ' ')}, asked twice)")
            self._note(message)
            self._emit(ActionDone(rule.action, "not_rated"))
        self._run_rules()

    # --- voice_helper -----------------------------------------------------

    def _voice_helper(self, rule: VoiceHelper) -> bool:
        """Listen while the rule's sound plays; a transcription, keys or the timeout then choose the option.

        The first key stops the sound and the recognition; keys end at `#`,
        `voice_helper_digits_max` of them or `voice_helper_timeout` after the
        last (with `voice_helper_classic_term`, as the context's own entry
        ends: `#`, `digit_len`, a complete option, `inter_digit_timeout`), and
        resolve like any entry of the context. A
        transcription runs its route's option; one no route matches stops the
        sound and listens again, until `voice_helper_final_count` of them
        (0 counts as 1) were heard, and then runs `invalid`. Nothing heard
        within `voice_helper_timeout` of the sound's end runs `timeout`
        (`invalid` once unmatched words were heard).
        """
        speech = self.options.speech
        if speech is None:
            return self._skip(rule.action, "the switch has no speech recognition configured")
        self._listen(speech)
        self._voice_rule = rule
        self._unmatched = 0
        self._entry = ""
        self.state = State.LISTENING
        sound = self.menu.sound(rule.sound) if rule.sound is not None else None
        if sound is not None:
            self._start_play(lambda pid: Play(pid, sound.filename, True), True, State.LISTENING)
        else:
            self._start_timer(TimerKind.SPEECH, rule.voice_helper_timeout)
        return self._done(rule.action)

    def _on_listening_playback_finished(self, event: PlaybackFinished) -> None:
        if self._voice_rule is None or not self._prompt_ended(event, "prompt"):
            return
        if event.error:  # the recognition goes on without its sound
            self._emit(Notice(f"voice_helper's sound in option {self._option!r} could not play: {event.error}"))
        self._start_timer(TimerKind.SPEECH, self._voice_rule.voice_helper_timeout)

    def _on_listening_digit(self, event: DtmfReceived) -> None:
        assert self._voice_rule is not None
        self._note_digit()
        self._stop_play()
        self._stop_listening()  # keys chose: a transcription would come too late
        self._cancel_timer(TimerKind.SPEECH)
        rule = self._voice_rule
        classic = rule.voice_helper_classic_term
        keys = self._entry_rules() if classic else EntryRules.of_record_digits(rule.voice_helper_digits_max)
        if ends_entry(keys, event.digit):
            self._resolve_entry(self._entry_rules())
            return
        self._entry += event.digit
        if is_complete(keys, self._entry):
            self._resolve_entry(self._entry_rules())
        else:
            wait = self._context.inter_digit_timeout if classic else rule.voice_helper_timeout
            self._start_timer(TimerKind.SPEECH, wait)

    def _on_speech_detected(self, event: SpeechDetected) -> None:
        if event.listen_id != self._listening or self._voice_rule is None:
            return  # a recognition stopped earlier
        self._stop_play()  # the caller spoke over the sound: it has done its work
        self._stop_listening()
        self._cancel_timer(TimerKind.SPEECH)
        rule = self._voice_rule
        route = choose_route(event.text, rule.voice_helper_rules)
        if route is None:
            self._unmatched += 1
            if self._unmatched < max(1, rule.voice_helper_final_count):
                assert self.options.speech is not None  # a voice_helper listens only with it
                self._listen(self.options.speech)  # another try: a fresh recognition and a fresh timeout
                self._start_timer(TimerKind.SPEECH, rule.voice_helper_timeout)
                return
        option = "invalid" if route is None else route.to_option
        self._emit(InputResolved(self._context.id, "invalid" if route is None else "option", option))
        self._run_option(option)

    def _on_listening_timer(self, event: TimerFired) -> None:
        if event.timer.kind is not TimerKind.SPEECH:
            return
        self._stop_listening()
        if self._entry:
            self._resolve_entry(self._entry_rules())
        elif self._unmatched:  # words were heard, none chose: not a silent caller
            self._emit(InputResolved(self._context.id, "invalid", "invalid"))
            self._run_option("invalid")
        else:
            self._emit(InputResolved(self._context.id, "timeout", "timeout"))
            self._run_option("timeout")

    def _listen(self, speech: SpeechRecognition) -> None:
        self._next_listen_id += 1
        self._listening = self._next_listen_id
        self._emit(StartSpeech(self._listening, speech.engine, speech.grammar))

    def _stop_listening(self) -> None:
        if self._listening is not None:
            self._emit(StopSpeech(self._listening))
            self._listening = None

    def _note(self, message: str) -> None:
        """A notice for the record and the log."""
        self._notices.append(message)
        self._emit(Notice(message))

    def _done(self, action: str) -> bool:
        self._emit(ActionDone(action, "ok"))
        return True

    def _continue(self, action: str) -> bool:
        self._emit(ActionDone(action, "ok"))
        return False

    def _skip(self, action: str, why: str) -> bool:
        self._note(f"skipped {action} in option {self._option!r} of context {self._context.id}: {why}")
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

    def _prompt_ended(self, event: PlaybackFinished, what: str) -> bool:
        """Whether `event` ends the prompt now playing (not one stopped earlier); a failure goes into errors."""
        if event.play_id != self._playing:
            return False
        self._playing = None
        if event.error:
            self._errors.append(f"{what} could not play: {event.error}")
        return True

    def _stop_play(self) -> None:
        if self._playing is not None:
            self._emit(StopPlayback(self._playing))
            self._playing = None

    def _on_playback_finished(self, event: PlaybackFinished) -> None:
        if not self._prompt_ended(event, "prompt"):
            return
        self._digitvar = None
        if event.error:
            self._emit(Notice(f"prompt in option {self._option!r} could not play: {event.error}"))
        self._run_rules()

    def _on_digit_while_playing(self, event: DtmfReceived) -> None:
        if not self._interruptible:
            return  # foreground prompt: digits are discarded
        self._stop_play()
        self._note_digit()
        if self._digitvar is not None:  # a reply's sound: its digits fill the variable, then the verbs go on
            self._collect_into(self._digitvar, "call_interactive", self._context.digit_len)
            self._digitvar = None
            if self._take_digit(self._recording_rules, event.digit):
                self._finish_recording()
            return
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

    def _collect_into(self, variable: str, action: str, max_digits: int) -> None:
        """Digits go into `variable` (record_digits, a reply's digitvar) until the entry ends."""
        self.state = State.RECORDING
        self._recording = (variable, action)
        self._recording_rules = EntryRules.of_record_digits(max_digits)
        self._entry = ""

    def _finish_recording(self) -> None:
        assert self._recording is not None
        (name, action), self._recording = self._recording, None
        self._variables[name] = self._entry
        self._emit(SetVariable(name, self._entry))
        self._emit(ActionDone(action, "ok"))
        self._run_rules()

    # --- leaving the menu -------------------------------------------------

    def _start_transfer(
        self,
        destinations: tuple[str, ...],
        kind: str,
        action: str,
        outcome: Outcome,
        reason: str,
        ring_timeout: int | None = None,
    ) -> None:
        """`action` names what asked for the transfer (a rule's action, direct_dial, lifetime_transfer).

        With `ring_timeout` the call comes back to the menu if nobody answers
        in time, so its lifetime keeps running.
        """
        self._stop_play()
        self._stop_listening()  # the recognition would follow the channel to its destination
        self._drop_webhook()
        self._transfer_action = action
        for kind_live in list(self._timers):
            if ring_timeout is None or kind_live is not TimerKind.LIFETIME:
                self._cancel_timer(kind_live)
        self._destinations = destinations
        self._transfer_result = (outcome, reason)
        self._ring_timeout = ring_timeout
        self.state = State.TRANSFERRING
        transfer_kind: Literal["transfer", "simple_transfer"] = "simple_transfer" if kind == "simple_transfer" else "transfer"
        switch_ring = self._voicemail_ring(outcome) if ring_timeout is None else ring_timeout
        self._emit(Transfer(destinations, transfer_kind, switch_ring))

    def _voicemail_ring(self, outcome: Outcome) -> int | None:
        """A transfer that leaves a vm_enabled ivr rings as a bridge, even to one destination,
        so that the switch says whether it was answered and nobody answering reaches voicemail."""
        vm = self.options.voicemail
        if outcome == "transfer" and self.ivr.vm_enabled and vm is not None:
            return vm.ring_seconds
        return None

    def _on_transfer_finished(self, event: TransferFinished) -> None:
        self._destination_outcomes.extend(event.destinations)
        outcome, reason = self._transfer_result
        if event.ok:
            self._end(outcome, reason or "transferred")
            return
        self._errors.append(f"transfer to {','.join(self._destinations)} failed: {event.cause}")
        self._emit(ActionDone(self._transfer_action, "failed"))
        if self._ring_timeout is not None:  # nobody answered: the caller is back in the menu
            self._ring_timeout = None
            self._emit(Notice(f"nobody of {','.join(self._destinations)} answered ({event.cause}); the menu goes on"))
            if self._lifetime_due:
                self._lifetime_ran_out()
            else:
                self._run_rules()
            return
        if outcome == "transfer" and self.ivr.vm_enabled and self._start_voicemail(event.cause):
            return
        # The call did not leave through the transfer: we hang it up. A lifetime
        # transfer that fails still ends the call because of the lifetime.
        self._hangup("hangup" if outcome == "transfer" else outcome, f"transfer failed: {event.cause}")

    def _on_lifetime(self) -> None:
        if self.state is State.TRANSFERRING:
            self._lifetime_due = self._ring_timeout is not None  # acted on if the call comes back
            return
        self._lifetime_ran_out()

    def _lifetime_ran_out(self) -> None:
        self._stop_play()
        reason = f"lifetime of {self.ivr.lifetime} s ran out"
        if self.ivr.lifetime_exp_action == "transfer" and self.ivr.lifetime_exp_transfer_dst:
            self._start_transfer((self.ivr.lifetime_exp_transfer_dst,), "transfer", "lifetime_transfer", "lifetime", reason)
        else:
            self._hangup("lifetime", reason)

    def _on_caller_hangup(self, event: CallerHungUp) -> None:
        if self._vm_job is not None:  # callers hang up when they have said it: the message still comes
            self._channel_gone = True
            self._vm_end = self._vm_end or ("caller_hangup", f"caller hung up after leaving voicemail ({event.cause})")
            return
        during = " during transfer" if self.state is State.TRANSFERRING else ""
        self._end("caller_hangup", f"caller hung up{during} ({event.cause})")

    def _on_shutdown(self, event: ShutdownRequested) -> None:
        if self._vm_job is not None:  # the hangup ends the recording; the message is kept when it comes
            if not self._channel_gone:
                self._channel_gone = True
                self._emit(Hangup("NORMAL_CLEARING"))
            self._vm_end = self._vm_end or ("hangup", f"ivrflow stopping: {event.reason}")
            return
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
        self._drop_webhook()
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
            ratings=tuple(self._ratings),
            destination_outcomes=tuple(self._destination_outcomes),
            voicemail_s=self._voicemail_s,
        )
        self._emit(CallFinished(self.record))

    # --- voicemail ----------------------------------------------------------

    def _start_voicemail(self, cause: str) -> bool:
        """Nobody answered a transfer the call would leave by: greeting, beep, then record (False: no voicemail here)."""
        vm = self.options.voicemail
        if vm is None:
            self._note("vm_enabled, but this runtime has no voicemail spool: hanging up")
            return False
        self.state = State.VOICEMAIL
        self._emit(Notice(f"nobody of {','.join(self._destinations)} answered ({cause}): voicemail"))
        greeting = self.menu.sound(self.ivr.vm_greeting) if self.ivr.vm_greeting else None
        self._vm_prompts = deque(name for name in (greeting and greeting.filename, vm.beep) if name)
        self._next_voicemail_step()
        return True

    def _next_voicemail_step(self) -> None:
        vm = self.options.voicemail
        assert vm is not None
        if self._vm_prompts:
            filename = self._vm_prompts.popleft()
            self._start_play(lambda pid: Play(pid, filename, False), False, State.VOICEMAIL)
            return
        self._next_job += 1
        self._vm_job = self._next_job
        self._emit(RecordMessage(self._vm_job, vm.max_seconds, vm.silence_threshold, vm.silence_seconds))
        self._start_timer(TimerKind.VOICEMAIL, vm.max_seconds * 1000 + VOICEMAIL_GRACE_MS)

    def _on_voicemail_prompt_finished(self, event: PlaybackFinished) -> None:
        if self._prompt_ended(event, "voicemail prompt"):  # without its greeting or beep a message can still be left
            self._next_voicemail_step()

    def _on_message_recorded(self, event: MessageRecorded) -> None:
        if event.job != self._vm_job:
            return
        self._vm_job = None
        if event.error is None:
            self._voicemail_s = event.duration_s
            self._emit(KeepMessage(event.job, event.duration_s))
            self._leave_voicemail("hangup", f"voicemail recorded ({event.duration_s:.1f} s)")
        else:
            self._errors.append(f"voicemail not recorded: {event.error}")
            self._leave_voicemail("error", f"voicemail not recorded: {event.error}")

    def _on_voicemail_timer(self, event: TimerFired) -> None:
        if event.timer.kind is TimerKind.VOICEMAIL and self._vm_job is not None:
            self._vm_job = None
            self._errors.append("the switch reported no end of the voicemail recording")
            self._leave_voicemail("error", self._errors[-1])

    def _leave_voicemail(self, outcome: Outcome, reason: str) -> None:
        if self._vm_end is not None:  # already hung up, by the caller or by a shutdown
            ended_by, why = self._vm_end
            self._end(ended_by if outcome != "error" else outcome, f"{why}; {reason}")
        else:
            self._hangup(outcome, reason)

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
    CallInteractive: Call._call_interactive,
    SetVariableRule: Call._set_variable,
    SetCallerIdNumber: Call._set_caller_id_number,
    SetCallerIdName: Call._set_caller_id_name,
    QualityRate: Call._quality_rate,
    VoiceHelper: Call._voice_helper,
}

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
    State.WAITING: {
        WebhookReplied: Call._on_webhook_replied,
        TimerFired: Call._on_webhook_timer,
        PlaybackFinished: Call._on_hold_finished,
        DtmfReceived: Call._on_waiting_digit,
    },
    State.RATING: {
        PlaybackFinished: Call._on_rating_playback_finished,
        DtmfReceived: Call._on_rating_digit,
        TimerFired: Call._on_rating_timer,
    },
    State.LISTENING: {
        PlaybackFinished: Call._on_listening_playback_finished,
        DtmfReceived: Call._on_listening_digit,
        SpeechDetected: Call._on_speech_detected,
        TimerFired: Call._on_listening_timer,
    },
    State.VOICEMAIL: {
        PlaybackFinished: Call._on_voicemail_prompt_finished,
        DtmfReceived: Call._discard_digit,  # the switch's recording ends on # by itself
        MessageRecorded: Call._on_message_recorded,
        TimerFired: Call._on_voicemail_timer,
    },
    State.ENDED: {},
    State.ERROR: {},
}
