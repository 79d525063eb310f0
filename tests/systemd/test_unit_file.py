"""systemd/ivrflow.service passes `systemd-analyze verify`, keeps its hardening, and agrees with
the example settings file.

`systemd-analyze` comes with Debian's `systemd` package; it needs no running systemd.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from ivrflow.service.settings import resolve

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "ivrflow.service"
EXAMPLE = ROOT / "systemd" / "ivrflow.toml.example"
INSTALLED_COMMAND = "/usr/local/bin/ivrflow"

HARDENING = {
    "DynamicUser": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter": "@system-service",
    "SystemCallArchitectures": "native",
    "CapabilityBoundingSet": "",
    "UMask": "0027",
}

SERVICE = {
    "Type": "notify",
    "NotifyAccess": "main",
    "WatchdogSec": "30",
    "ExecStart": f"{INSTALLED_COMMAND} serve --settings /etc/ivrflow/ivrflow.toml",
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "KillMode": "mixed",
    "Restart": "on-failure",
    "StateDirectory": "ivrflow",
    "ConfigurationDirectory": "ivrflow",
    "LogsDirectory": "ivrflow",
}


def parse_unit(text: str) -> dict[str, dict[str, str]]:
    """Sections of a unit file, each as key -> value (the units here set each key once)."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"continued lines are not expected: {raw!r}"
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{raw!r} is outside any section"
        key, sep, value = line.partition("=")
        assert sep, f"{raw!r} is not KEY=VALUE"
        assert key.strip() not in current, f"{key.strip()} is set twice"
        current[key.strip()] = value.strip()
    return sections


def service() -> dict[str, str]:
    return parse_unit(UNIT.read_text())["Service"]


def ivrflow_command() -> Path:
    """The `ivrflow` entry point of the environment running the tests."""
    command = Path(sys.executable).parent / "ivrflow"
    assert command.is_file(), f"{command} is missing: install the package (pip install -e .)"
    return command


def verify(unit_text: str, tmp_path: Path) -> tuple[int, list[str]]:
    """Run `systemd-analyze verify` on a copy of the unit; returns its exit code and the lines about it."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd"
    copy = tmp_path / "ivrflow.service"
    copy.write_text(unit_text)
    done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    # In a container it may also complain about the host's own units; only ours count.
    about_unit = [line for line in (done.stdout + done.stderr).splitlines() if "ivrflow.service" in line]
    return done.returncode, about_unit


def runnable_copy() -> str:
    """The unit with ExecStart pointing at this environment's entry point, everything else kept."""
    text = UNIT.read_text()
    assert text.count(f"ExecStart={INSTALLED_COMMAND} ") == 1
    return text.replace(f"ExecStart={INSTALLED_COMMAND} ", f"ExecStart={ivrflow_command()} ")


def test_systemd_analyze_verify_finds_nothing_wrong(tmp_path: Path) -> None:
    returncode, about_unit = verify(runnable_copy(), tmp_path)
    assert about_unit == []
    assert returncode == 0


def test_verify_would_report_a_bad_directive(tmp_path: Path) -> None:
    # Guards the test above: systemd-analyze exits 0 on parse warnings, so only its output tells.
    broken = runnable_copy().replace("KillMode=mixed", "KillMode=mixd")
    _, about_unit = verify(broken, tmp_path)
    assert any("kill mode" in line and "mixd" in line for line in about_unit), about_unit


def test_hardening_directives_are_present() -> None:
    unit = service()
    missing = {key: value for key, value in HARDENING.items() if unit.get(key) != value}
    assert missing == {}, f"expected these hardening settings, found {[unit.get(key) for key in missing]}"


def test_the_service_is_a_notify_daemon_run_from_the_installed_command() -> None:
    unit = service()
    assert {key: unit.get(key) for key in SERVICE} == SERVICE


def test_stop_timeout_leaves_room_for_the_drain() -> None:
    drain = tomllib.loads(EXAMPLE.read_text())["drain_timeout"]
    written = re.fullmatch(r"(\d+)s?", service()["TimeoutStopSec"])
    assert written, "TimeoutStopSec is expected in plain seconds"
    assert drain < float(written.group(1)) <= drain + 30


def test_file_descriptors_suffice_for_max_calls() -> None:
    max_calls = tomllib.loads(EXAMPLE.read_text())["max_calls"]
    assert int(service()["LimitNOFILE"]) > max_calls


def test_example_settings_are_accepted_by_the_daemon() -> None:
    settings = resolve({}, EXAMPLE, environ={})
    assert settings.esl_listen == ("127.0.0.1", 8084)
    assert settings.metrics_listen == ("127.0.0.1", 9464)
    assert settings.menu == Path("/etc/ivrflow/menu.yaml")
    assert settings.sounds == Path("/etc/ivrflow/sounds")
    assert settings.transfer_context == ""
    assert settings.simple_transfer_context == "ivrflow-simple-transfer"
    assert settings.bridge_template == "user/{number}"
    assert settings.call_records == "/var/log/ivrflow/calls.jsonl"
    assert settings.max_calls == 2000
    assert settings.drain_timeout == 60.0
    assert (settings.log_format, settings.log_level) == ("json", "info")


def test_example_paths_are_where_the_unit_lets_the_service_read_and_write() -> None:
    unit = service()
    example = tomllib.loads(EXAMPLE.read_text())
    config_dir = Path("/etc") / unit["ConfigurationDirectory"]
    assert unit["ExecStart"].endswith(f"--settings {config_dir / 'ivrflow.toml'}")
    assert Path(example["menu"]).parent == config_dir
    assert Path(example["sounds"]).parent == config_dir
    # ProtectSystem=strict leaves only the unit's own directories writable.
    assert Path(example["call_records"]).parent == Path("/var/log") / unit["LogsDirectory"]
