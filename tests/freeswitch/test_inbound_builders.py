"""Builders of what `ivrflow dial` sends on the inbound socket: exact bytes, and refusals."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ivrflow.freeswitch import builders as c
from ivrflow.freeswitch.builders import UnsafeArgument

A = "89d737ba-b479-44fb-bd80-d32d38a92aeb"


def originate(endpoint: str = "loopback/071/default", **kw: object) -> list[str]:
    args: dict[str, object] = dict(
        uuid=A, caller_id_number="79991234567", caller_id_name="Test", extension="071", context="default", park=True
    )
    args.update(kw)
    return c.originate_args(endpoint, **args)  # type: ignore[arg-type]


def test_a_loopback_originate_as_captured() -> None:
    wire = c.bgapi("originate", *originate(), job_uuid="j1")
    assert wire == (
        b"bgapi originate {origination_uuid=%s,origination_caller_id_number=79991234567,"
        b"origination_caller_id_name=Test}loopback/071/default &park()\nJob-UUID: j1\n\n" % A.encode()
    )


def test_a_dial_string_goes_to_the_extension() -> None:
    assert originate("user/1000", park=False)[1:] == ["071", "XML", "default"]


@pytest.mark.parametrize(
    ("built", "wire"),
    [
        (c.uuid_send_dtmf(A, "105"), f"api uuid_send_dtmf {A} 105\n\n".encode()),
        (c.uuid_recv_dtmf(A, "*#"), f"api uuid_recv_dtmf {A} *#\n\n".encode()),
        (c.event_plain("CHANNEL_CREATE", "DTMF"), b"event plain CHANNEL_CREATE DTMF\n\n"),
        (c.filter_("Unique-ID", A), f"filter Unique-ID {A}\n\n".encode()),
    ],
)
def test_exact_bytes(built: bytes, wire: bytes) -> None:
    assert built == wire


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: originate("loopback/071/default\napi shutdown"), "originate endpoint"),
        (lambda: originate("user/1000 &park()"), "originate endpoint"),
        (lambda: originate("{api_on_answer=x}user/1000"), "originate endpoint"),
        (lambda: originate("user/1000,user/1001"), "originate endpoint"),
        (lambda: originate("user/${x}"), "originate endpoint"),
        (lambda: originate("nonsense"), "originate endpoint"),
        (lambda: originate(extension="071 XML other"), "extension"),
        (lambda: originate(extension="07|1"), "extension"),
        (lambda: originate(context="de fault"), "context"),
        (lambda: originate(caller_id_name="a,origination_uuid=x"), "caller id name"),
        (lambda: originate(caller_id_number="1}&hangup("), "caller id number"),
        (lambda: c.uuid_send_dtmf(A, "1\nexit"), "dtmf digits"),
        (lambda: c.uuid_send_dtmf(A, "1w2"), "dtmf digits"),
        (lambda: c.bgapi("originate", "x", job_uuid="j\nk"), "job uuid"),
        (lambda: c.filter_("Unique-ID", "/.*/"), "filter value"),
        (lambda: c.filter_("Unique-ID", "a b"), "filter value"),
        (lambda: c.event_plain("ALL\n"), "event name"),
    ],
)
def test_injection_attempts_are_refused(build: Callable[[], object], field: str) -> None:
    with pytest.raises(UnsafeArgument) as info:
        build()
    assert info.value.field == field


@pytest.mark.parametrize("password", ["ClueCon\nevent plain ALL", "", "a\rb"])
def test_a_password_that_would_break_the_auth_line_is_refused_without_showing_it(password: str) -> None:
    with pytest.raises(UnsafeArgument) as info:
        c.check_password(password)
    assert password not in str(info.value) or not password


def test_a_password_with_spaces_is_kept_whole() -> None:
    assert c.check_password("two words") == "two words"
