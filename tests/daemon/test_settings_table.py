"""The README's settings table says what the declarations say: one place decides each default."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from ivrflow.service.settings import SETTINGS, SettingsError, resolve

ROOT = Path(__file__).resolve().parents[2]


def readme_rows() -> dict[str, tuple[list[str], str, str]]:
    text = (ROOT / "README.md").read_text()
    table = text[text.index("| flag | environment | default | meaning |"):].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[2:]:
        flags, env, default, _ = (cell.strip() for cell in line.strip("|").split("|", 3))
        rows[env.strip("`")] = (re.findall(r"`([^`]+)`", flags), default, line)
    return rows


def test_every_setting_has_its_row_with_its_flags_and_default() -> None:
    rows = readme_rows()
    assert sorted(rows) == sorted(s.env for s in SETTINGS)
    for setting in SETTINGS:
        flags, default, line = rows[setting.env]
        assert flags == list(setting.flag_names), line
        shown = re.match(r"`([^`]*)`", default)
        if setting.default:
            assert shown is not None and shown.group(1) == setting.default, line
        else:
            assert shown is None or "beside" in default, line  # "empty", "—", or the derived sounds/ folder


def test_the_example_settings_file_has_every_key() -> None:
    example = tomllib.loads((ROOT / "systemd" / "ivrflow.toml.example").read_text())
    assert sorted(example) == sorted(s.name for s in SETTINGS)


def test_a_settings_file_that_is_not_utf8_is_one_message(tmp_path: Path) -> None:
    bad = tmp_path / "ivrflow.toml"
    bad.write_bytes(b'menu = "m\xff.yaml"\n')
    with pytest.raises(SettingsError, match="settings file"):
        resolve({}, bad, environ={})


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_drain_timeout_must_be_finite_and_not_negative(value: str) -> None:
    with pytest.raises(SettingsError, match="drain_timeout"):
        resolve({"menu": "m.yaml", "drain_timeout": value}, None, environ={})
