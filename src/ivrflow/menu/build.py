"""Build a menu from parsed data: validate every object, check the graph, all errors at once.

No file, YAML or audio here: every reader (YAML, the REST API) ends in `load_menu_data`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .checks import check_ivr, check_menu
from .model import Ivr, Menu, Sound
from .problems import MenuError, Problem, from_validation_error

_SOUNDS = TypeAdapter(tuple[Sound, ...])
TOP_LEVEL_KEYS = ("sounds", "ivrs")


@dataclass(frozen=True, slots=True)
class LoadedMenu:
    menu: Menu
    source: str
    warnings: tuple[Problem, ...]


def load_menu_data(data: Any, source: str, allowed_variables: Collection[str] = ()) -> LoadedMenu:
    """Validate parsed data; `allowed_variables`: switch-acting variable names the operator permits."""
    if not isinstance(data, dict):
        raise MenuError(source, [Problem((), "the file must be a mapping with keys sounds and ivrs")])
    problems = [
        Problem((key,), f"unknown top-level key {key!r}; expected {' and '.join(TOP_LEVEL_KEYS)}")
        for key in data
        if key not in TOP_LEVEL_KEYS
    ]
    sounds: tuple[Sound, ...] = ()
    known_sounds: set[int] | None = None
    try:
        sounds = _SOUNDS.validate_python(data.get("sounds") or ())
        known_sounds = {sound.id for sound in sounds}
    except ValidationError as exc:
        problems.extend(from_validation_error(exc, ("sounds",)))
    raw_ivrs = data.get("ivrs") or []
    if not isinstance(raw_ivrs, list):
        problems.append(Problem(("ivrs",), "ivrs must be a list of ivrs"))
        raw_ivrs = []
    parsed: dict[int, Ivr] = {}
    for i, raw in enumerate(raw_ivrs):
        try:
            parsed[i] = Ivr.model_validate(raw)
        except ValidationError as exc:
            problems.extend(from_validation_error(exc, ("ivrs", i)))
    if problems:
        # Still check the ivrs that parsed, so one run shows every error.
        for i, ivr in parsed.items():
            problems.extend(p for p in check_ivr(ivr, ("ivrs", i), known_sounds, allowed_variables) if p.severity == "error")
        raise MenuError(source, problems)
    menu = Menu(sounds=sounds, ivrs=tuple(parsed.values()))
    problems = check_menu(menu, allowed_variables)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise MenuError(source, errors)
    return LoadedMenu(menu, source, tuple(p for p in problems if p.severity == "warning"))
