"""Fuzz the YAML loader and the validator: every input loads or is a MenuError, nothing else."""

from __future__ import annotations

import os

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivrflow.menu import LoadedMenu, MenuError, load_menu_data
from ivrflow.menu.files import load_menu_text
from ivrflow.menu.yaml_source import parse_yaml

from .seeds import menu_texts

TEXTS = menu_texts()
YAML_SYNTAX = list(":-[]{}&*!|>'\"#%@`,?\n\t ") + ["\n  ", "- ", ": ", "&a ", "*a", "!!python/object:os.system ", "<<: ",
                                                  "0x1f", "071", "+7", "1e9", "~", "null", "yes", "\\u0000", "${x}"]
# IVRFLOW_FUZZ_EXAMPLES raises the bound for a longer campaign than CI's few seconds.
FUZZ = settings(max_examples=int(os.environ.get("IVRFLOW_FUZZ_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(load: Any, *args: Any) -> LoadedMenu | MenuError:
    try:
        return load(*args)  # type: ignore[no-any-return]
    except MenuError as exc:
        assert exc.problems and all(p.render(exc.source) for p in exc.problems)
        assert len(str(exc)) < 2000 * len(exc.problems)
        return exc


def mutate(text: str, edits: list[tuple[int, int, str]]) -> str:
    for position, span, token in edits:
        at = position % (len(text) + 1)
        text = text[:at] + token + text[at + span % 4 :]
    return text


@FUZZ
@given(
    st.sampled_from(range(len(TEXTS))),
    st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=3),
                  st.one_of(st.sampled_from(YAML_SYNTAX), st.text(max_size=6))),
        min_size=1, max_size=10,
    ),
)
def test_mutated_menu_files(which: int, edits: list[tuple[int, int, str]]) -> None:
    outcome(load_menu_text, mutate(TEXTS[which], edits), "m.yaml")


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    outcome(load_menu_text, text, "m.yaml")


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from(["071", "+79876543210", "start", "play_sound", "transfer", "api_hangup_hook", "${x}", "0"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers(), st.sampled_from(
            ["id", "action", "options", "contexts", "sound", "extension", "entry_context", "transfer_dst"])), inner, max_size=4),
    ),
    max_leaves=30,
)


def _parses(text: str) -> bool:
    try:
        parse_yaml(text)
    except yaml.YAMLError:
        return False
    return True


PARSED = [text for text in TEXTS if _parses(text)]


@FUZZ
@given(st.sampled_from(range(len(PARSED))), st.lists(st.tuples(st.integers(min_value=0), values), min_size=1, max_size=5))
def test_menu_data_with_random_values_in_random_places(which: int, grafts: list[tuple[int, Any]]) -> None:
    data = parse_yaml(PARSED[which])
    for position, value in grafts:
        data = graft(data, position, value)
    outcome(load_menu_data, data, "api")


def graft(data: Any, position: int, value: Any) -> Any:
    """Replace the `position`-th node (depth first) of the parsed menu with `value`."""
    nodes: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in list(items):
            nodes.append((node, key))
            walk(child)

    walk(data)
    if not nodes:
        return value
    parent, key = nodes[position % len(nodes)]
    parent[key] = value
    return data
