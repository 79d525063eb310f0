"""Pre-rendered FreeSWITCH frames for the load generator.

Every frame is rendered once, at start-up, by the project's emulator
(:mod:`ivrflow.testing`): the same channel, profile and variables, the same
URL encoding and the same framing as in the end-to-end tests.  Per call only
three things change, and they are put in with ``bytes.replace``:

* the channel's Unique-ID (a 36-character placeholder, replaced by the call's
  UUID: same length, so nothing else moves);
* the Application-UUID of an application (the server's ``Event-UUID``, or one
  the switch made up when the server sent none, as FreeSWITCH does);
* the Application-Data (URL-encoded once per distinct argument and cached).

The outer ``Content-Length`` is computed after the substitution.  So the
server under test parses full-size, realistic events (about 3 to 4 KiB with
all the channel variables), and the generator spends a few microseconds per
frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivrflow.testing import fs_frames as writer
from ivrflow.freeswitch.urlcode import fs_url_encode
from ivrflow.testing.fs_channel import Channel, HostIdentity, default_profile, now_us

UID = "0badcafe-0000-4000-8000-00000000000a"
APP_UUID = "0badcafe-0000-4000-8000-00000000000b"
APP_DATA = "QQappdataQQ"  # URL-safe, so it survives the encoding untouched
UID_B = UID.encode()
APP_UUID_B = APP_UUID.encode()
APP_DATA_B = APP_DATA.encode()
SOCKET_APP_DATA = "127.0.0.1:8084 async full"
DESTINATION = "071"
SCENARIO = "QQscenarioQQ"
SCENARIO_B = SCENARIO.encode()


@dataclass(frozen=True, slots=True)
class Templates:
    connect_reply: bytes
    # name -> event body with placeholders (without the outer head)
    execute: dict[str, bytes]
    execute_complete: dict[tuple[str, str], bytes]  # (app, response)
    answer: bytes
    dtmf: dict[str, bytes]
    hangup: dict[str, bytes]
    unpark: bytes
    socket_complete: bytes
    state_hangup: bytes
    state_reporting: bytes
    hangup_complete: bytes
    state_routing: bytes
    state_execute: bytes
    linger_notice: bytes
    final_notice: bytes


def _channel() -> Channel:
    profile = default_profile(
        unique_id=UID,
        caller_id_name="Bench Caller",
        caller_id_number="79991234567",
        destination_number=DESTINATION,
        context="default",
        channel_name=f"loopback/{DESTINATION}-b",
        created_us=now_us(),
    )
    variables = [
        ("direction", "inbound"),
        ("uuid", UID),
        ("channel_name", f"loopback/{DESTINATION}-b"),
        ("read_codec", "L16"),
        ("read_rate", "8000"),
        ("write_codec", "L16"),
        ("write_rate", "8000"),
        ("call_uuid", UID),
        ("current_application_data", SOCKET_APP_DATA),
        ("current_application", "socket"),
        ("socket_host", "127.0.0.1"),
        # Set by the bench dialplan: which caller this is (only the floor server reads it).
        ("bench_scenario", SCENARIO),
    ]
    return Channel(
        unique_id=UID,
        channel_name=f"loopback/{DESTINATION}-b",
        profile=profile,
        variables=variables,
        host=HostIdentity(),
    )


def _body(ch: Channel, name: str, extra: list[tuple[str, str]] = ()) -> bytes:  # type: ignore[assignment]
    return (ch.event_text(name, extra) + "\n").encode("utf-8")


APPS = ("answer", "playback", "transfer", "sleep", "set", "export", "hangup", "break")
RESPONSES = ("_none_", "FILE PLAYED", "PLAYBACK ERROR")


def render() -> Templates:
    ch = _channel()
    connect_reply = ch.channel_data_text().encode("utf-8") + writer.connect_reply_tail(
        socket_mode="async", control="full"
    )
    execute: dict[str, bytes] = {}
    complete: dict[tuple[str, str], bytes] = {}
    for app in APPS:
        ch.set_var("current_application", app)
        ch.set_var("current_application_data", APP_DATA)
        head = [("Application", app), ("Application-Data", APP_DATA)]
        execute[app] = _body(ch, "CHANNEL_EXECUTE", [*head, ("Application-UUID", APP_UUID)])
        for response in RESPONSES:
            ch.set_var("current_application_response", None if response == "_none_" else response)
            if app == "playback":
                ch.set_var("playback_ms", "300")
                ch.set_var("playback_samples", "2400")
            complete[(app, response)] = _body(
                ch,
                "CHANNEL_EXECUTE_COMPLETE",
                [*head, ("Application-Response", response), ("Application-UUID", APP_UUID)],
            )
            ch.set_var("playback_ms", None)
            ch.set_var("playback_samples", None)
        ch.set_var("current_application_response", None)
    ch.answer_state = "answered"
    ch.call_state = "ACTIVE"
    answer = _body(ch, "CHANNEL_ANSWER")
    dtmf = {
        d: _body(ch, "DTMF", [("DTMF-Digit", d), ("DTMF-Duration", "2000"), ("DTMF-Source", "RTP")])
        for d in "0123456789*#"
    }
    ch.running_state = "CS_ROUTING"
    ch.call_state = "RINGING"
    state_routing = _body(ch, "CHANNEL_STATE")
    ch.running_state = "CS_EXECUTE"
    ch.call_state = "ACTIVE"
    state_execute = _body(ch, "CHANNEL_STATE")
    unpark = _body(ch, "CHANNEL_UNPARK")
    socket_complete = _body(
        ch,
        "CHANNEL_EXECUTE_COMPLETE",
        [
            ("Application", "socket"),
            ("Application-Data", SOCKET_APP_DATA),
            ("Application-Response", "_none_"),
            ("Application-UUID", APP_UUID),
        ],
    )
    hangup: dict[str, bytes] = {}
    for cause in ("NORMAL_CLEARING",):
        ch.hangup_cause = cause
        ch.answer_state = "hangup"
        ch.set_state_number("CS_HANGUP")
        hangup[cause] = _body(ch, "CHANNEL_HANGUP")
    ch.running_state = "CS_HANGUP"
    state_hangup = _body(ch, "CHANNEL_STATE")
    ch.running_state = "CS_REPORTING"
    ch.set_state_number("CS_REPORTING")
    ch.call_state = "HANGUP"
    state_reporting = _body(ch, "CHANNEL_STATE")
    ch.set_var("hangup_cause", ch.hangup_cause)
    hangup_complete = _body(ch, "CHANNEL_HANGUP_COMPLETE")
    return Templates(
        connect_reply=connect_reply,
        execute=execute,
        execute_complete=complete,
        answer=answer,
        dtmf=dtmf,
        hangup=hangup,
        unpark=unpark,
        socket_complete=socket_complete,
        state_hangup=state_hangup,
        state_reporting=state_reporting,
        hangup_complete=hangup_complete,
        state_routing=state_routing,
        state_execute=state_execute,
        linger_notice=writer.disconnect_notice_frame(UID, linger_time=30, channel_name=f"loopback/{DESTINATION}-b"),
        final_notice=writer.disconnect_notice_frame(UID),
    )


_encoded: dict[str, bytes] = {}


def encoded_data(arg: str) -> bytes:
    """The URL-encoded form of an application argument, cached."""
    value = _encoded.get(arg)
    if value is None:
        value = (fs_url_encode(arg) if arg else "_undef_").encode("utf-8")
        if len(_encoded) < 1000:
            _encoded[arg] = value
    return value


def event_frame(body: bytes, uid: bytes, app_uuid: bytes = APP_UUID_B, app_data: bytes | None = None) -> bytes:
    """An event, ready to write: placeholders replaced, outer head in front."""
    body = body.replace(UID_B, uid)
    if app_uuid is not APP_UUID_B:
        body = body.replace(APP_UUID_B, app_uuid)
    if app_data is not None:
        body = body.replace(APP_DATA_B, app_data)
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(body), body)


REPLIES = {
    "myevents": writer.reply_frame("+OK Events Enabled"),
    "exit": writer.reply_frame("+OK bye"),
    "ok": writer.reply_frame("+OK"),
    "not_found": writer.reply_frame("-ERR command not found"),
    "events": writer.reply_frame("+OK event listener enabled plain"),
    "nixed": writer.reply_frame("+OK events nixed"),
    "api_ok": writer.api_response_frame("+OK\n"),
    "api_no_channel": writer.api_response_frame("-ERR No such channel!\n"),
}


def linger_reply(arg: str) -> bytes:
    if arg.lstrip("-").isdigit():
        return writer.reply_frame(f"+OK will linger {int(arg)} seconds")
    return writer.reply_frame("+OK will linger")
