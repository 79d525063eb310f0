"""Fuzz the settings: any flag, environment or TOML file gives Settings or a SettingsError."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivrflow.service.settings import BY_NAME, SETTINGS, Settings, SettingsError, resolve

NAMES = [s.name for s in SETTINGS]
# IVRFLOW_FUZZ_EXAMPLES raises the bound for a longer campaign than CI's few seconds.
FUZZ = settings(
    max_examples=int(os.environ.get("IVRFLOW_FUZZ_EXAMPLES", 150)), deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TRICKY = ["", "off", "0", "-1", "65536", "1e309", "nan", "inf", "\u00b2", "\uff11", "127.0.0.1:", ":8084", "[::1]:0",
          "true", "YES", "user/{number}", "a b", "\x00", "x" * 5000, "9" * 5000, "/dev/null", "json"]
text = st.one_of(st.sampled_from(TRICKY), st.text(max_size=30))


def outcome(*args: object, **kwargs: object) -> Settings | SettingsError:
    try:
        return resolve(*args, **kwargs)  # type: ignore[arg-type]
    except SettingsError as exc:
        assert str(exc)
        return exc


@FUZZ
@given(st.dictionaries(st.sampled_from(NAMES), st.one_of(st.none(), text)),
       st.dictionaries(st.sampled_from([s.env for s in SETTINGS]), text))
def test_flags_and_environment(flags: dict[str, str | None], environ: dict[str, str]) -> None:
    outcome({"menu": "m.yaml", **flags}, None, environ)


toml_value = st.one_of(
    text.map(json.dumps), st.integers().map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.booleans().map(lambda b: "true" if b else "false"), st.lists(st.integers(), max_size=3).map(str),
    st.text(max_size=20),  # not TOML at all
)
toml_key = st.one_of(st.sampled_from(NAMES), st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=12))


@FUZZ
@given(st.lists(st.tuples(toml_key, toml_value), max_size=8), st.text(max_size=40))
def test_settings_files(pairs: list[tuple[str, str]], tail: str) -> None:
    content = "".join(f"{key} = {value}\n" for key, value in pairs) + tail
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ivrflow.toml"
        path.write_text(content, encoding="utf-8")
        result = outcome({}, path, {})
    if isinstance(result, Settings):
        assert set(dict(pairs)) <= set(BY_NAME)
