"""The command line, run as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "config" / "example.yaml")


def ivrflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ivrflow", *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_validate_accepts_the_example() -> None:
    done = ivrflow("validate", EXAMPLE, "--sounds", str(ROOT / "config" / "sounds"))
    assert done.returncode == 0, done.stderr
    assert f"valid (1 ivr(s): 071; 2 sound(s), all found in {ROOT / 'config' / 'sounds'})" in done.stdout


def test_validate_checks_the_sounds_where_serve_would_look(tmp_path: Path) -> None:
    menu = tmp_path / "menu.yaml"
    menu.write_text(Path(EXAMPLE).read_text())
    done = ivrflow("validate", str(menu))
    assert done.returncode == 1
    assert f"sound directory {tmp_path / 'sounds'} does not exist" in done.stderr
    assert "--sounds" in done.stderr
    relative = subprocess.run(
        [sys.executable, "-m", "ivrflow", "validate", "menu.yaml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert f"sound directory {tmp_path / 'sounds'} does not exist" in relative.stderr  # absolute, not sounds
    alone = ivrflow("validate", str(menu), "--no-sounds")
    assert alone.returncode == 0 and "sound(s), not checked)" in alone.stdout


def test_validate_of_deeply_nested_yaml_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    menu = tmp_path / "deep.yaml"
    menu.write_text("ivrs: " + "[" * 100_000 + "]" * 100_000 + "\n")
    done = ivrflow("validate", str(menu), "--no-sounds")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"{menu}: not valid YAML: line 1, column ")
    assert "nest" in line


def test_validate_rejects_a_broken_menu_with_its_message() -> None:
    broken = ROOT / "tests" / "menu" / "broken" / "transfer-dst-with-space.yaml"
    done = ivrflow("validate", str(broken))
    assert done.returncode == 1
    assert "transfer_dst: '00 2' is not a dialable number" in done.stderr


def simulate(script: str) -> list[str]:
    done = ivrflow("simulate", EXAMPLE, "--ivr", "071", "--script", script)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def line_at(lines: list[str], text: str) -> float:
    found = [line for line in lines if text in line]
    assert found, f"{text!r} not in:\n" + "\n".join(lines)
    return float(found[0].split()[0])


def test_simulate_no_key_transfers_to_050_after_both_sounds_and_the_timeout() -> None:
    lines = simulate("")
    # sleep 5 s, advertising.wav 4 s, hello.wav 3 s (real lengths), then 5 s of timeout.
    assert line_at(lines, "play advertising.wav (4.00 s, foreground") == 5.0
    assert line_at(lines, "play hello.wav (3.00 s, background") == 9.0
    assert line_at(lines, "transfer to 050") == 17.0


def test_simulate_2_during_hello_stops_it_then_waits_inter_digit() -> None:
    lines = simulate("wait 10; 2")
    assert line_at(lines, "prompt stopped") == 10.0
    assert line_at(lines, "transfer to 002") == 12.0


def test_simulate_direct_dial() -> None:
    lines = simulate("wait 12.5; 105")
    assert line_at(lines, "transfer to 105") == 12.5


def test_simulate_keys_during_advertising_are_ignored() -> None:
    lines = simulate("wait 6; 2")
    assert not any("prompt stopped" in line for line in lines)
    assert line_at(lines, "2 discarded: keys are ignored during a foreground prompt") == 6.0
    assert line_at(lines, "transfer to 050") == 17.0


def test_simulate_says_a_key_during_sleep_time_is_discarded() -> None:
    lines = simulate("wait 1; 1")
    assert line_at(lines, "1 discarded: keys are ignored during sleep_time") == 1.0


def test_the_readme_simulate_example_lands_its_key_in_the_greeting() -> None:
    readme = (ROOT / "README.md").read_text()
    script = readme.split('--script "', 1)[1].split('"', 1)[0]
    lines = simulate(script)
    assert not any("discarded" in line for line in lines)
    assert any("prompt stopped" in line for line in lines)


def test_simulate_invalid_hangs_up() -> None:
    lines = simulate("wait 12; 9")
    assert line_at(lines, "hang up") == 14.0
    assert any("call ended: hangup" in line for line in lines)


def test_simulate_shows_a_rating(tmp_path: Path) -> None:
    menu = tmp_path / "menu.yaml"
    menu.write_text(Path(EXAMPLE).read_text().replace(
        '          "2":\n',
        '          "2":\n            - action: quality_rate\n              sound: 51\n              max_rate: 5\n', 1))
    done = ivrflow("simulate", str(menu), "--sounds", str(ROOT / "config" / "sounds"), "--script", "wait 10; 2; wait 4; 4")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert line_at(lines, "rated 4 of 5") == 14.0  # "2" resolves at 12.0, the question plays, "4" answers it
    assert line_at(lines, "transfer to 002") == 14.0


def test_simulate_rejects_a_bad_script() -> None:
    done = ivrflow("simulate", EXAMPLE, "--script", "wait soon")
    assert done.returncode == 2
    assert "script step 'wait soon'" in done.stderr


@pytest.mark.parametrize(("fmt", "marker"), [("dot", "digraph"), ("mermaid", "flowchart LR")])
def test_graph_draws_every_option_and_destination(fmt: str, marker: str) -> None:
    done = ivrflow("graph", EXAMPLE, "--ivr", "071", "--format", fmt)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(marker)
    for text in ("transfer 050", "transfer +79876543210", "transfer 002", "any 3 digits", "play hello.wav"):
        assert text in done.stdout


def test_schema_accepts_unquoted_digits_as_ivrflow_does() -> None:
    defs = json.loads(ivrflow("schema").stdout)["$defs"]

    def types(model: str, field: str) -> list[str]:
        found = defs[model]["properties"][field]
        return found.get("type") or found["anyOf"][0]["type"]

    # `extension: 071` and `transfer_dst: 050` are numbers to a YAML reader that checks the schema
    for model, field in [
        ("Ivr", "extension"), ("Ivr", "lifetime_exp_transfer_dst"), ("TransferRule", "transfer_dst"),
        ("SimpleTransfer", "transfer_dst"), ("SetCallerIdNumber", "caller_id_number"),
        ("PlayDigits", "digits"), ("JumpToContext", "context_option"),
    ]:
        assert "integer" in types(model, field), (model, field)
    assert "integer" not in types("SetCallerIdName", "caller_id_name")


def test_schema_describes_the_menu_format() -> None:
    done = ivrflow("schema")
    schema = json.loads(done.stdout)
    assert set(schema["properties"]) == {"sounds", "ivrs"}
    assert schema["$defs"]["Context"]["additionalProperties"] is False
    assert schema["$defs"]["Context"]["properties"]["timeout"]["default"] == 5000


def test_simulate_interactive_reads_keys_on_the_wall_clock(tmp_path) -> None:
    menu = tmp_path / "menu.yaml"
    menu.write_text(
        """
ivrs:
  - extension: "100"
    entry_context: 1
    contexts:
      - id: 1
        timeout: 3000
        options:
          start: [{action: play_silence, silence_time: 2000}]
          "1": [{action: transfer, transfer_dst: "001"}]
"""
    )
    done = subprocess.run(
        [sys.executable, "-m", "ivrflow", "simulate", str(menu)],
        input="1", capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("caller presses 1" in line for line in lines)
    assert line_at(lines, "transfer to 001") < 1.5  # the key interrupted the 2 s silence
