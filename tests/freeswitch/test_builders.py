"""Command builders: exact bytes, and refusal of anything that could inject."""

from __future__ import annotations

import pytest

from ivrflow.freeswitch import builders as c
from ivrflow.freeswitch.builders import UnsafeArgument

U = "5158e59e-5519-47c6-ba4c-1ff59fcbe301"
E = "d7764fe0-5505-4695-9037-936c9f881ce2"


@pytest.mark.parametrize(
    ("built", "wire"),
    [
        (c.connect(), b"connect\n\n"),
        (c.myevents(), b"myevents\n\n"),
        (c.linger(), b"linger\n\n"),
        (c.linger(30), b"linger 30\n\n"),
        (c.nolinger(), b"nolinger\n\n"),
        (c.exit_(), b"exit\n\n"),
        (c.getvar("ivr_x"), b"getvar ivr_x\n\n"),
        (
            c.execute("answer", event_uuid=E),
            b"sendmsg\ncall-command: execute\nexecute-app-name: answer\nEvent-UUID: " + E.encode() + b"\n\n",
        ),
        (
            c.execute("playback", "/srv/freeswitch/sounds/hello.wav", event_uuid=E, event_lock=True),
            b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
            b"execute-app-arg: /srv/freeswitch/sounds/hello.wav\nEvent-UUID: " + E.encode() + b"\nevent-lock: true\n\n",
        ),
        (
            c.execute("playback", "/s/beep.wav", event_uuid=E, loops=2, uuid=U),
            b"sendmsg " + U.encode() + b"\ncall-command: execute\nexecute-app-name: playback\n"
            b"execute-app-arg: /s/beep.wav\nEvent-UUID: " + E.encode() + b"\nloops: 2\n\n",
        ),
        (
            c.hangup("USER_BUSY"),
            b"sendmsg\ncall-command: hangup\nhangup-cause: USER_BUSY\n\n",
        ),
        (c.uuid_break(U), b"api uuid_break " + U.encode() + b"\n\n"),
        (c.uuid_break(U, all=True), b"api uuid_break " + U.encode() + b" all\n\n"),
        (c.uuid_getvar(U, "ivr_long"), b"api uuid_getvar " + U.encode() + b" ivr_long\n\n"),
        (c.uuid_kill(U, "NORMAL_CLEARING"), b"api uuid_kill " + U.encode() + b" NORMAL_CLEARING\n\n"),
        (c.uuid_kill(U), b"api uuid_kill " + U.encode() + b"\n\n"),
    ],
)
def test_exact_bytes(built: bytes, wire: bytes) -> None:
    assert built == wire


def test_long_argument_goes_in_a_body_like_transcript_15() -> None:
    arg = "ivr_long=" + "x" * 3000
    built = c.execute("set", arg, event_uuid=E)
    head, body = built.split(b"\n\n", 1)
    assert head.split(b"\n") == [
        b"sendmsg",
        b"call-command: execute",
        b"execute-app-name: set",
        b"Event-UUID: " + E.encode(),
        b"content-type: text/plain",
        b"content-length: 3009",
    ]
    assert body == arg.encode()


def test_body_length_counts_utf8_bytes() -> None:
    arg = "ivr_note=" + "ü" * 600
    built = c.execute("set", arg, event_uuid=E)
    assert b"content-length: %d\n\n" % (9 + 1200) in built
    assert built.endswith(arg.encode())


def test_argument_with_leading_blank_goes_in_a_body() -> None:
    built = c.execute("log", " INFO x", event_uuid=E)
    assert b"execute-app-arg" not in built
    assert built.endswith(b"content-length: 7\n\n INFO x")


def test_argument_at_the_limit_stays_in_the_header() -> None:
    arg = "a" * c.MAX_HEADER_ARG_BYTES
    assert b"execute-app-arg: " + arg.encode() in c.execute("set", arg, event_uuid=E)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: c.execute("playback", "/x.wav\nexecute-app-name: hangup", event_uuid=E), "app arg"),
        (lambda: c.execute("playback", "/x.wav\r", event_uuid=E), "app arg"),
        (lambda: c.execute("playback", "/x\x00.wav", event_uuid=E), "app arg"),
        (lambda: c.execute("set", "x=${system(id)}", event_uuid=E), "app arg"),
        (lambda: c.execute("play back", "/x.wav", event_uuid=E), "app name"),
        (lambda: c.execute("playback\n", "/x.wav", event_uuid=E), "app name"),
        (lambda: c.execute("", event_uuid=E), "app name"),
        (lambda: c.execute("answer", event_uuid="a b"), "event uuid"),
        (lambda: c.execute("answer", event_uuid="a\nevent-lock: true"), "event uuid"),
        (lambda: c.execute("answer", event_uuid=E, uuid="x y"), "uuid"),
        (lambda: c.execute("answer", event_uuid=E, loops=0), "loops"),
        (lambda: c.hangup("NORMAL_CLEARING\ncall-command: execute"), "hangup cause"),
        (lambda: c.hangup("normal clearing"), "hangup cause"),
        (lambda: c.uuid_break(U + " all"), "api argument 1"),
        (lambda: c.uuid_break(U + "\n\napi uuid_kill x"), "api argument 1"),
        (lambda: c.uuid_getvar(U, "a b"), "variable name"),
        (lambda: c.uuid_getvar(U, "x=y"), "variable name"),
        (lambda: c.uuid_kill(U, "CAUSE X"), "hangup cause"),
        (lambda: c.getvar("x\n"), "variable name"),
        (lambda: c.linger(0), "linger"),
        (lambda: c.api("uuid_break", ""), "api argument 1"),
        (lambda: c.api("status;", U), "api command"),
    ],
)
def test_injection_attempts_are_refused(build: object, field: str) -> None:
    with pytest.raises(UnsafeArgument) as info:
        build()  # type: ignore[operator]
    assert info.value.field == field
    assert str(info.value).startswith(field)


def test_unsafe_argument_is_a_value_error() -> None:
    assert issubclass(UnsafeArgument, ValueError)


def test_expansion_can_be_allowed_for_trusted_arguments() -> None:
    built = c.execute("playback", "${sounds_dir}/menu.wav", event_uuid=E, allow_expansion=True)
    assert b"execute-app-arg: ${sounds_dir}/menu.wav\n" in built


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        (c.playback_arg("/s/menu.wav"), "/s/menu.wav"),
        (c.playback_arg("/s/menu.wav", terminators="any"), "%[playback_terminators=any]/s/menu.wav"),
        (c.playback_arg("/s/menu.wav", terminators="none"), "%[playback_terminators=none]/s/menu.wav"),
        (c.playback_arg("/s/menu.wav", terminators="#*0"), "%[playback_terminators=#*0]/s/menu.wav"),
        (c.silence_arg(250), "silence_stream://250"),
        (c.set_arg("ivr_choice", "2"), "ivr_choice=2"),
        (c.set_arg("ivr_choice", ""), "ivr_choice="),
        (c.transfer_arg("+79990001122", "default"), "+79990001122 XML default"),
        (c.hangup_arg("USER_BUSY"), "USER_BUSY"),
        (c.hangup_arg("17"), "17"),
        (
            c.bridge_arg("sofia/gateway/gw1/{number}", ["4915112345678", "4915187654321"]),
            "sofia/gateway/gw1/4915112345678,sofia/gateway/gw1/4915187654321",
        ),
        (
            c.bridge_arg(
                "[leg_timeout=20]sofia/gateway/gw1/{number}",
                ["100"],
                variables={"ignore_early_media": "true", "origination_caller_id_number": "5551000"},
            ),
            "{ignore_early_media=true,origination_caller_id_number=5551000}[leg_timeout=20]sofia/gateway/gw1/100",
        ),
        (
            c.bridge_arg("user/{number}", ["101", "102"], variables={"originate_timeout": "20"}, leg_uuids=["a-1", "b-2"]),
            "{originate_timeout=20}[origination_uuid=a-1]user/101,[origination_uuid=b-2]user/102",
        ),
        (
            c.record_arg("/spool/incoming/m1.wav", max_seconds=120, silence_threshold=200, silence_seconds=5),
            "%[playback_terminators=#]/spool/incoming/m1.wav 120 200 5",
        ),
        (c.say_digits_arg("12345"), "en number iterated 12345"),
        (c.say_digits_arg("42", method="pronounced", language="de"), "de number pronounced 42"),
    ],
)
def test_app_arguments(arg: str, expected: str) -> None:
    assert arg == expected


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: c.playback_arg("%[playback_terminators=none]/x.wav"), "playback path"),
        (lambda: c.playback_arg(""), "playback path"),
        (lambda: c.playback_arg("/x.wav", terminators="any]/etc/passwd"), "playback terminators"),
        (lambda: c.playback_arg("/x.wav", terminators="a"), "playback terminators"),
        (lambda: c.playback_arg("/x\n.wav"), "playback path"),
        (lambda: c.silence_arg(0), "silence"),
        (lambda: c.set_arg("a=b", "c"), "variable name"),
        (lambda: c.set_arg("a", "x\ny"), "variable value"),
        (lambda: c.transfer_arg("100 XML evil", "default"), "transfer destination"),
        (lambda: c.transfer_arg("100", "def ault"), "transfer context"),
        (lambda: c.transfer_arg("100", "default", dialplan="X ML"), "dialplan"),
        (lambda: c.hangup_arg("busy"), "hangup cause"),
        (lambda: c.bridge_arg("sofia/gw/{number}", ["1,sofia/evil/2"]), "bridge destination"),
        (lambda: c.bridge_arg("sofia/gw/{number}", ["1|loopback/x"]), "bridge destination"),
        (lambda: c.bridge_arg("sofia/gw/{number}", ["{x=y}1"]), "bridge destination"),
        (lambda: c.bridge_arg("sofia/gw/{number}", ["1 2"]), "bridge destination"),
        (lambda: c.bridge_arg("sofia/gw/{number}", []), "bridge destinations"),
        (lambda: c.bridge_arg("sofia/gw/1", ["1"]), "bridge template"),
        (lambda: c.bridge_arg("sofia/a/{number},sofia/b/{number}", ["1"]), "bridge template"),
        (lambda: c.bridge_arg("sofia/gw/{number}", ["1"], variables={"a": "b,c=d"}), "bridge variable value"),
        (lambda: c.bridge_arg("sofia/gw/{number}", ["1"], variables={"a b": "c"}), "bridge variable"),
        (lambda: c.bridge_arg("user/{number}", ["1"], leg_uuids=["u1]evil/x,[a"]), "bridge leg uuid"),
        (lambda: c.bridge_arg("user/{number}", ["1", "2"], leg_uuids=["u1"]), "bridge leg uuids"),
        (lambda: c.record_arg("/spool/a b.wav", max_seconds=1, silence_threshold=0, silence_seconds=1), "record path"),
        (lambda: c.record_arg("relative.wav", max_seconds=1, silence_threshold=0, silence_seconds=1), "record path"),
        (lambda: c.record_arg("/s/${x}.wav", max_seconds=1, silence_threshold=0, silence_seconds=1), "record path"),
        (lambda: c.record_arg("/s/m.wav", max_seconds=-1, silence_threshold=0, silence_seconds=1), "record max_seconds"),
        (lambda: c.record_arg("/s/m.wav", max_seconds=1, silence_threshold=0, silence_seconds=1, terminators="#]x"), "record terminators"),
        (lambda: c.say_digits_arg("12a"), "say digits"),
        (lambda: c.say_digits_arg("12", method="spelled"), "say method"),
        (lambda: c.say_digits_arg("12", language="en us"), "say language"),
    ],
)
def test_app_argument_refusals(build: object, field: str) -> None:
    with pytest.raises(UnsafeArgument) as info:
        build()  # type: ignore[operator]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("user/{number}|sofia/gw/{number}", "no ',' or '|'"),
        ("user/{number},user/100", "no ',' or '|'"),
        ("user/100", "must hold '{number}'"),
        ("user/{number}@${domain_name}", "would be expanded"),
        ("user/{number} &echo", "one non-empty word"),
        ("user/{number}\nbgapi", "control characters"),
    ],
)
def test_a_bridge_template_is_checked_before_any_call(template: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        c.check_bridge_template(template)
    with pytest.raises(UnsafeArgument):
        c.bridge_arg(template, ["100"])


@pytest.mark.parametrize("template", ["user/{number}", "sofia/gateway/gw1/{number}", "[leg_timeout=20]user/{number}"])
def test_good_bridge_templates_pass(template: str) -> None:
    c.check_bridge_template(template)


@pytest.mark.parametrize("context", ["my context", "", "ctx\n", "${x}", "a|b", "ctx;x"])
def test_a_transfer_context_is_checked_before_any_call(context: str) -> None:
    with pytest.raises(ValueError, match="transfer context"):
        c.check_context(context)
    with pytest.raises(UnsafeArgument):
        c.transfer_arg("100", context)


@pytest.mark.parametrize("context", ["default", "public", "ivrflow-simple-transfer", "ctx.v2"])
def test_good_contexts_pass(context: str) -> None:
    c.check_context(context)
    assert c.transfer_arg("100", context) == f"100 XML {context}"


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("{execute_on_answer=x}user/{number}", "execute_on_"),
        ("[api_hangup_hook=x]user/{number}", "acts on by itself"),
        ("<exec_after_bridge_app=x>user/{number}", "acts on by itself"),
        ("user/{number}[leg_timeout=1]", "may only lead"),
        ("user/{number}<x=1>", "may only lead"),
        ("{novalue}user/{number}", "not name=value"),
        ("user/{number}" + "9" * 300, "at most 256"),
    ],
)
def test_bridge_template_variable_blocks(template: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        c.check_bridge_template(template)


def test_bridge_template_blocks_that_are_fine_or_allowed() -> None:
    c.check_bridge_template("[leg_timeout=20]{ignore_early_media=true}sofia/gateway/gw1/{number}")
    c.check_bridge_template("[execute_on_answer=x]user/{number}", allowed_variables={"execute_on_answer"})
    with pytest.raises(ValueError, match="at most 64"):
        c.check_context("c" * 65)


@pytest.mark.parametrize(("directory", "why"), [("/srv/${x}/sounds", "expanded"), ("/srv/a\nb", "control"), ("sounds", "absolute")])
def test_a_sound_directory_the_wire_would_refuse_is_refused_at_start(directory: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        c.check_sound_dir(directory)
    c.check_sound_dir("/srv/freeswitch/sounds/ivr 071")
