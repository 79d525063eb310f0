"""ARI credentials, the reconnect backoff, and the checks on what ARI is given, without sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivrflow.asterisk import wire
from ivrflow.asterisk.app import call_start, event_channel
from ivrflow.asterisk.dialogue import LEG_ARG
from ivrflow.asterisk.events import backoff_delay, events_url
from ivrflow.asterisk.rest import Credentials, load_credentials
from ivrflow.asterisk.service import log_decisions
from ivrflow.logs import KeyValueFormatter


def test_credentials_from_the_environment_first() -> None:
    creds = load_credentials({"IVRFLOW_ARI_USER": "ivr", "IVRFLOW_ARI_PASSWORD": "pw"})
    assert creds == Credentials("ivr", "pw")
    assert "pw" not in repr(creds)


def test_credentials_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "ari.secret"
    path.write_text("ivr:se:cret\n")
    assert load_credentials({"IVRFLOW_ARI_CREDENTIALS_FILE": str(path)}) == Credentials("ivr", "se:cret")


@pytest.mark.parametrize(("content", "message"), [(None, "No such file"), ("nocolon", "expected one line user:password")])
def test_bad_credentials_file_is_a_one_line_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "ari.secret"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_credentials({}, path)


def test_no_credentials_says_how_to_give_them() -> None:
    with pytest.raises(ValueError, match="IVRFLOW_ARI_USER"):
        load_credentials({})


def test_backoff_grows_is_capped_and_never_zero() -> None:
    lows = [backoff_delay(n, 0.5, 30.0, lambda: 0.0) for n in range(12)]
    highs = [backoff_delay(n, 0.5, 30.0, lambda: 1.0) for n in range(12)]
    assert lows[0] == 0.25 and highs[0] == 0.5
    assert lows == sorted(lows) and max(highs) == 30.0 and min(lows) > 0
    assert backoff_delay(10_000, 0.5, 30.0, lambda: 0.5) <= 30.0


def test_events_url_names_the_app_and_carries_no_credentials() -> None:
    assert events_url("http://127.0.0.1:8088", "ivrflow") == "ws://127.0.0.1:8088/ari/events?app=ivrflow&subscribeAll=false"
    assert events_url("https://pbx:8089/", "a b").startswith("wss://pbx:8089/ari/events?app=a+b")


def stasis_start(args: list[str], exten: str = "071") -> dict[str, object]:
    return {
        "type": "StasisStart", "args": args,
        "channel": {"id": "x", "caller": {"name": "", "number": ""}, "dialplan": {"context": "ivr-in", "exten": exten}},
    }


def test_the_ivr_comes_from_the_stasis_argument_else_the_extension() -> None:
    start = call_start(stasis_start(["8084"], exten="071"))
    assert start is not None and start.ivr == "8084" and start.destination == "071"
    start = call_start(stasis_start([], exten="071"))
    assert start is not None and start.ivr == "071" and start.context == "ivr-in"
    assert call_start(stasis_start([LEG_ARG, "c1"])) is None


def test_events_name_their_channel_in_three_ways() -> None:
    assert event_channel({"channel": {"id": "a"}}) == "a"
    assert event_channel({"type": "Dial", "peer": {"id": "b"}}) == "b"
    assert event_channel({"playback": {"target_uri": "channel:c"}}) == "c"
    assert event_channel({"type": "BridgeDestroyed", "bridge": {}}) is None


@pytest.mark.parametrize("template", ["PJSIP/{number}", "Local/{number}@from-ivr", "SIP/trunk/{number}"])
def test_dial_templates_that_load(template: str) -> None:
    assert wire.check_dial_template(template) == template


@pytest.mark.parametrize("template", ["PJSIP/101", "{number}", "PJSIP/{number}&PJSIP/{number}", "PJSIP/{number},t"])
def test_dial_templates_refused_at_load(template: str) -> None:
    with pytest.raises(ValueError):
        wire.check_dial_template(template)


def test_hangup_causes_map_to_q850_and_back() -> None:
    assert wire.q850("USER_BUSY") == 17 and wire.q850("SOMETHING_ELSE") == 16
    assert wire.cause_name(17) == "USER_BUSY" and wire.cause_name("16") == "NORMAL_CLEARING"


def test_every_call_a_reconciliation_decided_is_in_the_log_however_many(caplog: pytest.LogCaptureFixture) -> None:
    decisions = {f"1795748397.{n}": "resumed" if n % 3 else "ended" for n in range(1000)}
    with caplog.at_level("INFO", logger="ivrflow.asterisk"):
        log_decisions(decisions)
    lines = [KeyValueFormatter().format(r) for r in caplog.records]  # as the daemon writes them, capped
    assert lines[0].endswith('msg="ARI reconciliation: 334 ended, 666 resumed"')
    assert [line.split(" ", 3)[3] for line in lines[1:]] == [
        f'call={c} msg="reconciled: {d}"' for c, d in sorted(decisions.items())
    ]
