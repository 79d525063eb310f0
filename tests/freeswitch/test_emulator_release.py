"""The emulated switch's park, socket and listener teardown, as FreeSWITCH 1.10.12 showed them.

A teardown clears CF_CONTROLLED: a park (or async socket) running then ends and
the dialplan goes on; one that starts after it sets the flag itself and runs on.
With socket_resume the teardown resets a transferred channel: up and silent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest

from ivrflow.freeswitch import ApiResponse, EslEvent, Reply
from ivrflow.freeswitch import builders as c
from ivrflow.freeswitch.frames import Frame
from ivrflow.testing import CallScript, ChannelHistory

from .test_emulator import SCALE, App, serve

TONE = "/s/tone.wav"


def target_script(steps: Sequence[tuple[str, str]], **overrides: Any) -> CallScript:
    base = CallScript(time_scale=SCALE, transfer_extensions={"200": steps}, sounds={TONE: 2.0}, keep_after_close=10.0)
    return replace(base, **overrides)


def executed(app_name: str) -> Callable[[Frame | None], bool]:
    return lambda f: isinstance(f, EslEvent) and f.name == "CHANNEL_EXECUTE" and f.get("Application") == app_name


def transfer_then_exit_when(app_name: str) -> Callable[[App], None]:
    def logic(app: App) -> None:
        app.handshake()
        app.execute("transfer", c.transfer_arg("200", "default"))
        app.until(executed(app_name))
        app.finish()

    return logic


def exit_at(record: ChannelHistory) -> float:
    return next(t for t, command in record.received if command.name == "exit")


@pytest.mark.parametrize("parking", ["park", "socket"])
def test_a_park_running_when_the_socket_goes_away_ends_and_the_dialplan_goes_on(parking: str) -> None:
    script = target_script([("answer", ""), (parking, ""), ("playback", TONE)])
    record, _ = serve(transfer_then_exit_when(parking), script)
    park = next(run for run in record.applications if run.name == parking)
    assert park.ended is not None and park.ended - exit_at(record) < 0.5
    assert record.app_names()[-1] == "playback"  # the next action ran
    assert record.hangup_cause == "NORMAL_CLEARING"  # then the dialplan ended


@pytest.mark.parametrize("parking", ["park", "socket"])
def test_a_park_that_starts_after_the_socket_went_away_runs_on(parking: str) -> None:
    script = target_script([("answer", ""), ("playback", TONE), (parking, "")], caller_hangup=(8.0, "NORMAL_UNSPECIFIED"))
    record, _ = serve(transfer_then_exit_when("playback"), script)
    park = next(run for run in record.applications if run.name == parking)
    assert park.started > exit_at(record)
    assert park.ended is not None and park.ended >= 7.9  # until the caller hung up
    assert record.hangup_cause == "NORMAL_UNSPECIFIED"


def test_with_socket_resume_the_teardown_resets_a_transferred_channel() -> None:
    script = target_script(
        [("answer", ""), ("playback", TONE), ("hangup", "CALL_REJECTED")], variables={"socket_resume": "true"}, keep_after_close=4.0
    )
    record, _ = serve(transfer_then_exit_when("playback"), script)
    tone = next(run for run in record.applications if run.name == "playback")
    assert tone.ended is not None and tone.ended - exit_at(record) < 0.5  # cut short
    assert record.reset_by_teardown
    assert "hangup" not in record.app_names() and record.hangup_cause is None  # up and silent


def test_park_events_come_only_when_subscribed_and_current_application_names_the_last_app_started() -> None:
    script = target_script([("answer", ""), ("park", "")], transfer_extensions={"200": [("answer", ""), ("park", "")], "300": [("park", "")]})

    def current_application(app: App, uuid: str) -> str:
        app.send(c.uuid_getvar(uuid, "current_application"))
        answer = app.until(lambda f: isinstance(f, ApiResponse))
        assert isinstance(answer, ApiResponse)
        return answer.body

    def logic(app: App) -> None:
        uuid = app.handshake().unique_id
        app.send(c.nixevent("CHANNEL_PARK", "CHANNEL_UNPARK"))
        app.until(lambda f: isinstance(f, Reply))
        unsubscribed = len(app.seen)  # the socket app's own park may come before the nixevent is read
        app.execute("transfer", c.transfer_arg("200", "default"))
        app.until(executed("park"))
        assert current_application(app, uuid) == "park"
        parks = [f for f in app.seen[unsubscribed:] if isinstance(f, EslEvent) and f.name in ("CHANNEL_PARK", "CHANNEL_UNPARK")]
        assert not parks
        app.send(c.event_plain("CHANNEL_PARK", "CHANNEL_UNPARK"))
        assert app.until(lambda f: isinstance(f, Reply)) == Reply("+OK event listener enabled plain", {"Content-Type": "command/reply"})
        app.execute("transfer", c.transfer_arg("300", "default"))
        app.until(lambda f: isinstance(f, EslEvent) and f.name == "CHANNEL_PARK")
        names = [f.name for f in app.seen[unsubscribed:] if isinstance(f, EslEvent) and f.name in ("CHANNEL_PARK", "CHANNEL_UNPARK")]
        assert names == ["CHANNEL_UNPARK", "CHANNEL_PARK"]  # the park at 200 ended, the one at 300 began
        app.execute("info")
        assert current_application(app, uuid) == "info"  # ended, and still named
        app.finish()

    serve(logic, script)
