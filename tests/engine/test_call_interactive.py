"""call_interactive in the engine: the request goes out as a command, the reply comes back as an event."""

from __future__ import annotations

from ivrflow.engine import CallOptions, CancelWebhook, DestinationOutcome, FetchWebhook, TimerKind, TransferFinished
from ivrflow.menu.verbs import TTS, Hangup, Jump, Pause, PlaySound, SetCaller, SetVar, SimpleTransfer

from .helpers import (
    Driver,
    bg,
    briefs,
    call_interactive,
    commands,
    context,
    fg,
    menu,
    one_context,
    set_var,
    transfer,
)

HOLD = CallOptions(hold_sound="hold.wav", webhook_deadline_s=5.0)


def waiting(rules: list[dict[str, object]], options: CallOptions = HOLD, **settings: object) -> Driver:
    d = Driver(one_context({"start": rules, "1": [transfer("201")], "2": [transfer("202")]}, **settings), options)
    d.start()
    return d


def test_the_request_goes_out_with_the_call_variables_and_the_hold_sound_plays() -> None:
    d = Driver(one_context({"start": [set_var("lang", "ru"), call_interactive("https://h.example/$lang", call_interactive_method="POST")]}), HOLD)
    out = d.start()
    (fetch,) = [o for o in out if isinstance(o, FetchWebhook)]
    assert (fetch.url, fetch.method, fetch.variables, fetch.deadline_s) == ("https://h.example/$lang", "POST", (("lang", "ru"),), 5.0)
    assert commands(out)[-2:] == [("timer", "webhook", 6.0), ("play", "hold.wav", "fg")]


def test_a_rule_may_give_its_own_deadline_and_silence_is_the_default_hold() -> None:
    d = Driver(one_context({"start": [call_interactive(call_interactive_timeout=1500)]}))
    out = d.start()
    assert [o.deadline_s for o in out if isinstance(o, FetchWebhook)] == [1.5]
    assert commands(out)[-1] == ("timer", "webhook", 2.5)
    assert not any(c[0] == "play" for c in commands(out))


def test_the_hold_sound_loops_until_the_reply() -> None:
    d = waiting([call_interactive(), transfer("200")])
    assert commands(d.at(3.0).played()) == [("play", "hold.wav", "fg")]
    out = d.at(4.0).reply()
    assert commands(out)[:3] == [("cancel", "webhook"), ("stop",), ("transfer", "200")]


def test_a_hold_sound_that_cannot_play_is_not_looped() -> None:
    d = waiting([call_interactive(), transfer("200")])
    assert commands(d.played(error="FILE NOT FOUND")) == []
    d.reply()
    d.transfer_result(ok=True)
    assert any("hold sound" in e for e in d.record.errors)


def test_verbs_run_in_order_and_the_next_rule_runs_after_them() -> None:
    d = waiting([call_interactive(), transfer("200")])
    out = d.reply(SetVar(name="tier", value="gold"), SetCaller(name="Shop", number="+74950000000"), PlaySound(filename="promo.wav", where="foreground"))
    assert commands(out) == [
        ("cancel", "webhook"), ("stop",), ("set", "tier", "gold"),
        ("caller_id", "number", "+74950000000"), ("caller_id", "name", "Shop"), ("play", "promo.wav", "fg"),
    ]
    assert commands(d.played())[0] == ("transfer", "200")
    d.transfer_result(ok=True)
    assert dict(d.record.variables) == {"tier": "gold"}


def test_hangup_ends_the_option() -> None:
    d = waiting([call_interactive(), transfer("200")])
    out = d.reply(Hangup(), SetVar(name="never", value="1"))
    assert commands(out)[-2:] == [("hangup", "NORMAL_CLEARING"), ("finished", "hangup")]
    assert dict(d.record.variables) == {}


def test_jump_continues_at_the_target_and_drops_the_rest() -> None:
    the_menu = menu(context({"start": [call_interactive(), transfer("200")]}, id=1), context({"start": [transfer("300")], "7": [transfer("307")]}, id=2))
    d = Driver(the_menu, HOLD)
    d.start()
    out = d.reply(Jump(context=2, option="7"), SetVar(name="never", value="1"))
    assert ("enter", 2, "7") in briefs(out)
    assert commands(out)[-1] == ("transfer", "307")
    d.transfer_result(ok=True)
    assert [(s.context, s.option) for s in d.record.path] == [(1, "start"), (2, "7")]


def test_pause_is_background_silence_and_tts_is_skipped_without_speech_synthesis() -> None:
    d = waiting([call_interactive(), transfer("200")])
    out = d.reply(TTS(text="hello"), Pause(length=2))
    assert ("done", "call_interactive", "skipped") in briefs(out)
    assert commands(out)[-1] == ("silence", 2000, "bg")
    out = d.press("1")  # a background pause: the key begins an entry
    assert commands(out)[-1] == ("transfer", "201")


def test_a_failed_request_is_recorded_and_the_next_rule_runs() -> None:
    d = waiting([call_interactive(), transfer("200")])
    out = d.reply(error="timeout: no reply within 5 s")
    assert ("done", "call_interactive", "failed") in briefs(out)
    assert commands(out)[-1] == ("transfer", "200")
    d.transfer_result(ok=True)
    assert any("no reply within 5 s" in e for e in d.record.errors)


def test_without_a_verdict_the_engine_gives_up_cancels_and_goes_on() -> None:
    d = waiting([call_interactive(), transfer("200")])
    job = d.jobs[-1].job
    out = d.at(6.0).fire(TimerKind.WEBHOOK)
    assert [o for o in out if isinstance(o, CancelWebhook)] == [CancelWebhook(job)]
    assert commands(out)[-1] == ("transfer", "200")
    assert commands(d.reply(SetVar(name="late", value="1"), job=job)) == []  # its late reply is dropped


def test_a_caller_hangup_cancels_the_request_before_the_record() -> None:
    d = waiting([call_interactive(), transfer("200")])
    out = d.hang_up()
    assert commands(out)[-2:] == [("cancel_fetch",), ("finished", "caller_hangup")]


def test_the_lifetime_cancels_the_request() -> None:
    d = Driver(one_context({"start": [call_interactive()]}, ivr={"lifetime": 10}), HOLD)
    d.start()
    out = d.at(10.0).fire(TimerKind.LIFETIME)
    assert ("cancel_fetch",) in commands(out)
    assert d.record.outcome == "lifetime"


def test_keys_pressed_meanwhile_fill_a_digitvar_of_the_reply() -> None:
    d = waiting([call_interactive(), transfer("200")], digit_len=3)
    assert commands(d.press("42")) == []  # the hold sound goes on
    out = d.reply(PlaySound(filename="pin.wav", digitvar="pin"))
    assert ("play", "pin.wav", "bg") in commands(out) and ("stop",) in commands(out)[3:]
    out = d.at(1.0).press("7")
    assert ("set", "pin", "427") in commands(out)
    assert commands(out)[-1] == ("transfer", "200")


def test_keys_pressed_meanwhile_begin_a_menu_entry_when_the_rules_go_on() -> None:
    d = waiting([call_interactive(), bg(1), transfer("200")])
    d.press("2")
    out = d.reply(error="http_error: HTTP status 500")
    assert ("resolved", "option", "2") in briefs(out)
    assert commands(out)[-1] == ("transfer", "202")


def test_a_foreground_sound_of_the_reply_discards_keys_pressed_meanwhile() -> None:
    d = waiting([call_interactive(), transfer("200")])
    d.press("1")
    d.reply(PlaySound(filename="notice.wav", where="foreground"))
    assert commands(d.played())[0] == ("transfer", "200")
    d.transfer_result(ok=True)
    assert d.record.entries == ()


def test_a_final_transfer_leaves_and_ends_the_option() -> None:
    d = waiting([call_interactive(), transfer("200")])
    out = d.reply(SimpleTransfer(destinations=("300", "301")), SetVar(name="never", value="1"))
    assert commands(out)[-1] == ("simple_transfer", "300", "301")
    d.transfer_result(ok=True)
    assert d.record.outcome == "transfer" and d.record.transfer_destinations == ("300", "301")


def test_a_transfer_that_is_not_final_comes_back_when_nobody_answers() -> None:
    d = waiting([call_interactive(), transfer("200")])
    out = d.reply(SimpleTransfer(destinations=("300",), final=False, timeout=15), SetVar(name="after", value="1"))
    assert commands(out)[-1] == ("simple_transfer", "300", "ring 15 s")
    out = d.transfer_result(ok=False, cause="NO_ANSWER")
    assert commands(out)[:2] == [("set", "after", "1"), ("transfer", "200")]
    d.transfer_result(ok=True)
    assert any("NO_ANSWER" in e for e in d.record.errors)


def test_each_destinations_outcome_of_every_ringing_attempt_is_in_the_record() -> None:
    d = waiting([call_interactive(), call_interactive()])
    d.reply(SimpleTransfer(destinations=("300", "301"), final=False, timeout=15))
    first = (DestinationOutcome("300", "no_answer", "NO_ANSWER"), DestinationOutcome("301", "busy", "USER_BUSY"))
    d.feed(TransferFinished(d.now, False, "NO_ANSWER", first))
    d.reply(SimpleTransfer(destinations=("302",), final=False, timeout=15))
    second = (DestinationOutcome("302", "answered"),)
    d.feed(TransferFinished(d.now, True, "SUCCESS", second))
    assert d.record.outcome == "transfer" and d.record.destination_outcomes == first + second


def test_an_answered_transfer_that_is_not_final_ends_the_call_as_transferred() -> None:
    d = waiting([call_interactive(), transfer("200")])
    d.reply(SimpleTransfer(destinations=("300",), final=False, timeout=15))
    d.transfer_result(ok=True)
    assert d.record.outcome == "transfer"


def test_the_lifetime_runs_out_while_ringing_and_acts_when_the_call_comes_back() -> None:
    d = Driver(one_context({"start": [call_interactive(), transfer("200")]}, ivr={"lifetime": 10}), HOLD)
    d.start()
    d.reply(SimpleTransfer(destinations=("300",), final=False, timeout=30))
    assert commands(d.at(10.0).fire(TimerKind.LIFETIME)) == []
    d.at(12.0).transfer_result(ok=False, cause="NO_ANSWER")
    assert d.record.outcome == "lifetime"


def test_a_background_sound_of_the_reply_stops_on_a_key_and_the_entry_runs() -> None:
    d = waiting([call_interactive(), transfer("200")])
    d.reply(PlaySound(filename="menu.wav"))
    out = d.press("1")
    assert commands(out)[0] == ("stop",)
    assert commands(out)[-1] == ("transfer", "201")


def test_a_second_request_in_the_same_option_after_a_reply() -> None:
    d = waiting([call_interactive(), call_interactive("https://h.example/second"), fg(2)])
    out = d.reply()
    assert ("fetch", "GET", "https://h.example/second") in commands(out)
    d.press("1")  # kept until the second reply's background sound
    out = d.reply(PlaySound(filename="x.wav"))
    assert commands(out)[-3:] == [("play", "x.wav", "bg"), ("stop",), ("transfer", "201")]
