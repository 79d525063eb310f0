"""Reply parsing: every verb, and each way a reply is refused, with its reason."""

import tracemalloc

import pytest
from pydantic import ValidationError

from ivrflow.menu.model import Context, Ivr
from ivrflow.webhooks.reply import MAX_VERBS, Reply, ReplyFailure, parse_reply
from ivrflow.menu.verbs import TTS, Hangup, Jump, Pause, PlaySound, SetCaller, SetVar, SimpleTransfer

ALL_VERBS = b"""<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Pause length="3"/>
  <Pause/>
  <SetVar name="account">  42-17 </SetVar>
  <SetCaller name="Support line" number="+74950000000"/>
  <PlaySound where="background" digitvar="choice">prompts/menu.wav</PlaySound>
  <PlaySound where="foreground">beep.wav</PlaySound>
  <TTS lang="ru-RU" play_now="true">Your balance
      is 100</TTS>
  <SimpleTransfer final="no" timeout="20">101, 102</SimpleTransfer>
  <Jump context="2" option="1"/>
  <Hangup/>
</Response>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
""" + b"".join(
    b' <!ENTITY lol%d "%s">\n' % (i, b"".join(b"&lol%s;" % (b"" if i == 1 else str(i - 1).encode()) for _ in range(10)))
    for i in range(1, 10)
) + b"""]>
<Response><SetVar name="x">&lol9;</SetVar></Response>"""


def verbs(body: bytes, ivr: Ivr | None = None) -> tuple[object, ...]:
    reply = parse_reply(body, ivr)
    assert isinstance(reply, Reply), reply
    return reply.verbs


def failure(body: bytes, ivr: Ivr | None = None) -> ReplyFailure:
    reply = parse_reply(body, ivr)
    assert isinstance(reply, ReplyFailure), reply
    return reply


def test_every_verb_parses_in_order_with_defaults() -> None:
    assert verbs(ALL_VERBS) == (
        Pause(length=3),
        Pause(length=10),
        SetVar(name="account", value="42-17"),
        SetCaller(name="Support line", number="+74950000000"),
        PlaySound(filename="prompts/menu.wav", where="background", digitvar="choice"),
        PlaySound(filename="beep.wav", where="foreground"),
        TTS(text="Your balance is 100", lang="ru-RU", play_now=True),
        SimpleTransfer(destinations=("101", "102"), final=False, timeout=20),
        Jump(context=2, option="1"),
        Hangup(),
    )


def test_defaults_of_optional_attributes() -> None:
    sound, transfer, tts, jump = verbs(
        b"<Response><PlaySound>a.wav</PlaySound><SimpleTransfer>100</SimpleTransfer>"
        b"<TTS>hi</TTS><Jump context='3'/></Response>"
    )
    assert sound == PlaySound(filename="a.wav", where="background", digitvar=None)
    assert transfer == SimpleTransfer(destinations=("100",), final=True, timeout=30)
    assert tts == TTS(text="hi", lang=None, play_now=True)
    assert jump == Jump(context=3, option="start")


def test_which_verbs_end_the_option() -> None:
    ends = [v.ends_option for v in verbs(ALL_VERBS)]  # type: ignore[attr-defined]
    assert ends == [False] * 7 + [False, True, True]
    final, = verbs(b"<Response><SimpleTransfer final='yes'>1</SimpleTransfer></Response>")
    assert final.ends_option  # type: ignore[attr-defined]


def test_verbs_are_immutable() -> None:
    pause = Pause(length=3)
    with pytest.raises(ValidationError, match="frozen"):
        pause.length = 4  # type: ignore[misc]


def test_an_empty_response_has_no_verbs() -> None:
    assert verbs(b"<Response/>") == ()


@pytest.mark.parametrize(
    ("body", "kind", "reason"),
    [
        (b"", "bad_xml", "empty reply"),
        (b"OK, thanks", "bad_xml", "not well-formed"),
        (b"<Response><Hangup></Response>", "bad_xml", "not well-formed"),
        (b"<html><body>Error</body></html>", "bad_xml", "root element is <html>"),
        (b"<Response>hello<Hangup/></Response>", "bad_xml", "text directly inside"),
        (b"<Response><Dial>100</Dial></Response>", "unknown_verb", "verb 0 <Dial> is not a verb"),
        (b"<Response><hangup/></Response>", "unknown_verb", "<hangup>"),
        (b"<Response><Pause length='ten'/></Response>", "bad_verb", "length"),
        (b"<Response><Pause length='0'/></Response>", "bad_verb", "length"),
        (b"<Response><Pause length='601'/></Response>", "bad_verb", "length"),
        (b"<Response><Pause seconds='3'/></Response>", "bad_verb", "unknown attribute seconds"),
        (b"<Response><Hangup>now</Hangup></Response>", "bad_verb", "takes no text"),
        (b"<Response><Hangup><Pause/></Hangup></Response>", "bad_verb", "hold no elements"),
        (b"<Response><SetVar>1</SetVar></Response>", "bad_verb", "name"),
        (b"<Response><SetVar name='a b'>1</SetVar></Response>", "bad_verb", "not a valid variable name"),
        (b"<Response><SetVar name='x'>${system(rm)}</SetVar></Response>", "bad_verb", "expand"),
        (b"<Response><SetVar name='x'>a&#10;b</SetVar></Response>", "bad_verb", "newline"),
        (b"<Response><SetCaller/></Response>", "bad_verb", "give name, number or both"),
        (b"<Response><SetCaller number='12 34'/></Response>", "bad_verb", "not a dialable number"),
        (b"<Response><SetCaller name='x&#13;Y: z'/></Response>", "bad_verb", "control or invisible character"),
        (b"<Response><PlaySound>../../etc/passwd</PlaySound></Response>", "bad_verb", "inside the sound directory"),
        (b"<Response><PlaySound>/abs.wav</PlaySound></Response>", "bad_verb", "inside the sound directory"),
        (b"<Response><PlaySound></PlaySound></Response>", "bad_verb", "filename"),
        (b"<Response><PlaySound where='middle'>a.wav</PlaySound></Response>", "bad_verb", "where"),
        (b"<Response><PlaySound where='foreground' digitvar='d'>a.wav</PlaySound></Response>", "bad_verb", "digitvar needs"),
        (b"<Response><SimpleTransfer>100;200</SimpleTransfer></Response>", "bad_verb", "not a dialable number"),
        (b"<Response><SimpleTransfer>user/100</SimpleTransfer></Response>", "bad_verb", "not a dialable number"),
        (b"<Response><SimpleTransfer></SimpleTransfer></Response>", "bad_verb", "destinations"),
        (b"<Response><SimpleTransfer>" + b",".join(b"1" for _ in range(11)) + b"</SimpleTransfer></Response>", "bad_verb", "destinations"),
        (b"<Response><SimpleTransfer final='true'>1</SimpleTransfer></Response>", "bad_verb", "must be 'yes' or 'no'"),
        (b"<Response><SimpleTransfer timeout='-1'>1</SimpleTransfer></Response>", "bad_verb", "timeout"),
        (b"<Response><TTS lang='ru RU'>x</TTS></Response>", "bad_verb", "lang"),
        (b"<Response><TTS play_now='yes'>x</TTS></Response>", "bad_verb", "must be 'true' or 'false'"),
        (b"<Response><TTS>  </TTS></Response>", "bad_verb", "text"),
        (b"<Response><Jump/></Response>", "bad_verb", "context"),
        (b"<Response><Jump context='0'/></Response>", "bad_verb", "context"),
        (b"<Response><Jump context='2' option='9x'/></Response>", "bad_verb", "option"),
        (b"<Response>" + b"<Pause/>" * (MAX_VERBS + 1) + b"</Response>", "bad_verb", "at most"),
    ],
)
def test_a_bad_reply_is_refused_whole_with_its_reason(body: bytes, kind: str, reason: str) -> None:
    refused = failure(body)
    assert (refused.kind, reason in refused.reason) == (kind, True), refused.reason


def test_one_bad_verb_refuses_the_verbs_before_it_too() -> None:
    refused = failure(b"<Response><SetVar name='ok'>1</SetVar><Pause length='x'/></Response>")
    assert refused.kind == "bad_verb" and refused.reason.startswith("verb 1 <Pause>")


def test_an_oversized_reply_is_refused_before_parsing() -> None:
    body = b"<Response>" + b"<Pause/>" * 20 + b"</Response>"
    refused = parse_reply(body, max_bytes=len(body) - 1)
    assert isinstance(refused, ReplyFailure) and refused.kind == "too_large"


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><Response><SetVar name="x">&x;</SetVar></Response>',
        b'<!DOCTYPE Response SYSTEM "http://127.0.0.1:1/evil.dtd"><Response/>',
        b'<!DOCTYPE r [<!ENTITY big "' + b"A" * 10_000 + b'">]><Response><SetVar name="x">' + b"&big;" * 1000 + b"</SetVar></Response>",
    ],
    ids=["billion-laughs", "external-entity", "external-dtd", "quadratic-blowup"],
)
def test_dtds_entities_and_external_references_are_refused(body: bytes) -> None:
    assert failure(body).kind == "unsafe_xml"


def test_a_billion_laughs_reply_is_refused_without_expanding_it() -> None:
    tracemalloc.start()
    try:
        for _ in range(100):
            assert failure(BILLION_LAUGHS).kind == "unsafe_xml"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"parsing peaked at {peak} bytes"  # expanded, lol9 alone is 3 GB


def test_jumps_are_checked_against_the_ivr_when_given() -> None:
    ivr = Ivr(extension="071", entry_context=1, contexts=(Context(id=1), Context(id=2, options={"1": ()})))
    assert verbs(b"<Response><Jump context='2' option='1'/></Response>", ivr) == (Jump(context=2, option="1"),)
    assert verbs(b"<Response><Jump context='2' option='timeout'/></Response>", ivr) == (Jump(context=2, option="timeout"),)
    assert "context 7 is not a context" in failure(b"<Response><Jump context='7'/></Response>", ivr).reason
    assert "no option '5'" in failure(b"<Response><Jump context='2' option='5'/></Response>", ivr).reason
