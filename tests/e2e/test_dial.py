"""`ivrflow dial` drives the example menu 071 through the emulated switch's inbound Event Socket.

The switch is emulated, ivrflow is real (its ESL server on a socket), and dial
is the real tool with greenswitch's inbound client; only the clock is scaled.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import gevent
import pytest

from ivrflow.cli import DIAL_PASSWORD_ENV, main
from ivrflow.menu.files import load_menu_file, load_menu_text
from ivrflow.testing.fs_inbound import InboundSwitch, OriginatedCall
from ivrflow.tools.dial import DialOptions, dial

from .harness import ROOT, SOUNDS, ivrflow, scaled, script

# Slower than the other e2e tests' 1/20: the jobs run all at once, and their load must not
# push a key out of the prompt it is meant for.
SCALE = 0.1
HELLO = str(SOUNDS / "hello.wav")
AD = str(SOUNDS / "advertising.wav")


@dataclass(frozen=True)
class Job:
    """One dial run: the caller script, --expect and other options."""

    caller: str
    expect: str | None
    timeout: float = 120.0
    dial_string: str | None = None


@dataclass
class Run:
    code: int
    output: str
    call: OriginatedCall
    record: dict[str, object]

    def lines(self, text: str) -> list[float]:
        """Call times of the printed lines that contain `text`."""
        return [float(line.split()[0]) for line in self.output.splitlines() if text in line and re.match(r"\s*\d", line)]


EXAMPLE_PATHS = [
    ("", "transfer:050"),
    ("wait 10; 2", "transfer:002"),
    ("wait 10; 1", "transfer:+79876543210"),
    ("wait 10; 105", "transfer:105"),
    ("wait 13; 9", "hangup"),
    ("wait 6; 2", "transfer:050"),
    ("wait 13; 2#", "transfer:002"),
]
EXAMPLE_IDS = ["no key", "2 during hello", "option 1", "direct dial 105", "invalid 9", "key during advertising", "2 then #"]
UNMET = [
    ("wait 10; 2", "transfer:050"),
    ("wait 10; 2", "hangup"),
    ("wait 13; 9", "transfer:any"),
    ("wait 10; hangup", "hangup"),  # the caller's own hangup is not the menu's
]
JOBS = [
    *(Job(caller, expect) for caller, expect in EXAMPLE_PATHS + UNMET),
    Job("wait 10; 105", "transfer:any"),
    Job("wait 10; hangup", None),
    Job("", "transfer:050", timeout=8.0),
    Job("wait 10; 2", "transfer:002", dial_string="user/1000"),
]


def run_jobs(jobs: list[Job]) -> dict[Job, Run]:
    """Each job its own call, all at once, through one emulated switch and one ivrflow."""
    with ivrflow(scaled(load_menu_file(ROOT / "config" / "example.yaml").menu, SCALE)) as it:
        switch = InboundSwitch({"071": it.address}, script=script(time_scale=SCALE)).start()
        host, port = switch.address
        try:
            outputs = {job: io.StringIO() for job in jobs}
            greenlets = {
                job: gevent.spawn(
                    dial,
                    DialOptions(
                        host=host, port=port, password="ClueCon", extension="071", script=job.caller,
                        expect=job.expect, timeout=job.timeout, dial_string=job.dial_string, time_scale=SCALE,
                    ),
                    outputs[job],
                )
                for job in jobs
            }
            gevent.joinall(list(greenlets.values()), timeout=60, raise_error=True)
            results = {}
            for job, greenlet in greenlets.items():
                output = outputs[job].getvalue()
                [call] = [c for c in switch.calls if f"(test call {c.a_uuid})" in output]
                # ivrflow finished the call, with exactly one record.
                results[job] = Run(greenlet.value, output, call, it.record_for(call.menu.record))
        finally:
            switch.stop()
    return results


@pytest.fixture(scope="module")
def runs() -> dict[Job, Run]:
    return run_jobs(JOBS)


@pytest.mark.parametrize(("caller", "outcome"), EXAMPLE_PATHS, ids=EXAMPLE_IDS)
def test_every_example_path_passes_its_expectation(runs: dict[Job, Run], caller: str, outcome: str) -> None:
    run = runs[Job(caller, outcome)]
    assert run.code == 0, run.output
    assert f"result: {outcome}\n" in run.output
    assert f"expected {outcome}: yes" in run.output


def test_the_output_says_what_the_switch_saw_and_when() -> None:
    # A call of its own: at 1/20 speed, the other calls' load would shift the times measured here.
    [run] = run_jobs([Job("wait 10; 2", "transfer:002")]).values()
    assert run.lines("answered") == [0.0]
    [ad_start] = run.lines(f"prompt started: playback {AD}")
    [ad_stop] = run.lines(f"prompt stopped: playback {AD} (FILE PLAYED)")
    [hello_start] = run.lines(f"prompt started: playback {HELLO}")
    [hello_stop] = run.lines(f"prompt stopped: playback {HELLO} (FILE PLAYED, stopped by 2)")
    [pressed] = run.lines("caller presses 2")
    [got] = run.lines("switch got key 2")
    [transfer] = run.lines("transfer to 002 (002 XML default)")
    # Call time, as in test_example_menu: sleep 0-5, advertising 5-9, hello 9-12 (stopped at the key).
    assert 4.5 <= ad_start <= 6.0 and 8.5 <= ad_stop <= 10.0
    assert ad_stop <= hello_start <= 10.0
    assert 9.9 <= pressed <= 11.0 and pressed <= got <= hello_stop < 12.0
    assert 11.8 <= transfer <= 14.0  # after the 2 s inter-digit wait
    assert run.record["entries"] == ["2"] and run.record["transfer_destinations"] == ["002"]


@pytest.mark.parametrize(("caller", "expect"), UNMET)
def test_an_unmet_expectation_exits_1(runs: dict[Job, Run], caller: str, expect: str) -> None:
    run = runs[Job(caller, expect)]
    assert run.code == 1, run.output
    assert f"expected {expect}: NO" in run.output


def test_transfer_any_and_no_expectation_pass(runs: dict[Job, Run]) -> None:
    assert runs[Job("wait 10; 105", "transfer:any")].code == 0
    run = runs[Job("wait 10; hangup", None)]
    assert run.code == 0 and "result: caller_hangup" in run.output
    assert run.record["outcome"] == "caller_hangup"  # ivrflow saw it so too


def test_a_call_that_does_not_end_in_time_is_hung_up_and_fails(runs: dict[Job, Run]) -> None:
    run = runs[Job("", "transfer:050", timeout=8.0)]
    assert run.code == 1
    assert "no transfer or hangup within 8 s" in run.output and "result: none" in run.output
    assert run.record["outcome"] == "caller_hangup"


def test_a_dial_string_leg_runs_the_menu_and_receives_the_keys(runs: dict[Job, Run]) -> None:
    run = runs[Job("wait 10; 2", "transfer:002", dial_string="user/1000")]
    assert run.code == 0, run.output
    assert run.call.a_leg is None and run.call.menu.record.dtmf[0][1] == "2"
    assert "ivrflow dial: calling user/1000 into 071" in run.output


# Through the command line, on the real clock ------------------------------------------------

HANGS_UP = """
ivrs:
  - extension: "071"
    entry_context: 1
    sleep_time: 0
    contexts:
      - id: 1
        options:
          start: [{action: hangup}]
"""


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["dial", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_exits_0_or_1_on_its_expectation(capsys: pytest.CaptureFixture[str]) -> None:
    with ivrflow(load_menu_text(HANGS_UP, "m.yaml").menu) as it:
        switch = InboundSwitch({"071": it.address}, script=script(time_scale=1.0)).start()
        where = "%s:%d" % switch.address
        try:
            assert cli(capsys, "071", "--switch", where, "--expect", "hangup")[0] == 0
            code, out, _ = cli(capsys, "071", "--switch", where, "--expect", "transfer:any")
        finally:
            switch.stop()
    assert code == 1 and "result: hangup" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--expect", "transfer"], "--expect 'transfer': use transfer:DESTINATION"),
        (["--script", "wait six"], "script step 'wait six'"),
        (["--dial-string", "user/1000,user/1001"], "originate endpoint"),
        (["--context", "a b"], "context"),
        (["--switch", "nowhere"], "use HOST:PORT"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, _, err = cli(capsys, "071", *argv)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_refused_connection_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    switch = InboundSwitch({}).start()
    where = "%s:%d" % switch.address
    switch.stop()  # nothing listens there any more
    code, _, err = cli(capsys, "071", "--switch", where)
    assert code == 2
    assert err == f"ivrflow dial: cannot connect to {where}: Connection refused\n"


def test_a_wrong_password_is_one_line_and_never_shown(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    switch = InboundSwitch({}, password="s3cret").start()
    where = "%s:%d" % switch.address
    monkeypatch.setenv(DIAL_PASSWORD_ENV, "wrong-guess")
    try:
        code, out, err = cli(capsys, "071", "--switch", where)
        monkeypatch.setenv(DIAL_PASSWORD_ENV, "s3cret")
        # Right password, unknown extension: the switch refuses the originate.
        code_ok, _, err_ok = cli(capsys, "999", "--switch", where)
    finally:
        switch.stop()
    assert code == 2 and err == f"ivrflow dial: {where} refused the event socket password\n"
    assert "wrong-guess" not in out + err
    assert code_ok == 2 and err_ok == "ivrflow dial: originate failed: -ERR NO_ROUTE_DESTINATION\n"


def test_an_acl_rejection_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    switch = InboundSwitch({}, allowed_clients=["192.0.2.9"]).start()
    where = "%s:%d" % switch.address
    try:
        code, _, err = cli(capsys, "071", "--switch", where)
    finally:
        switch.stop()
    assert code == 2 and "closed the connection before authentication" in err and err.count("\n") == 1


def test_a_menu_extension_nobody_serves_is_an_error_not_a_hangup(capsys: pytest.CaptureFixture[str]) -> None:
    with ivrflow() as it:
        dead = it.address
    switch = InboundSwitch({"071": dead}).start()  # the socket app finds nobody listening
    where = "%s:%d" % switch.address
    try:
        code, _, err = cli(capsys, "071", "--switch", where, "--expect", "hangup")
    finally:
        switch.stop()
    assert code == 2
    assert err.startswith("ivrflow dial: the call ended before it was answered (NORMAL_CLEARING)") or err.startswith(
        "ivrflow dial: originate failed: -ERR NORMAL_CLEARING"
    )


def test_a_listener_that_never_greets_is_a_bounded_one_line_error() -> None:
    from gevent.server import StreamServer

    from ivrflow.tools.dial import DialError

    silent = StreamServer(("127.0.0.1", 0), lambda sock, _: sock.recv(1))  # accepts, says nothing
    silent.start()
    host, port = silent.address[:2]
    try:
        with pytest.raises(DialError, match=r"did not greet within 0.3 s"):
            dial(DialOptions(host=host, port=port, password="ClueCon", extension="071", connect_timeout=0.3), io.StringIO())
    finally:
        silent.stop()
