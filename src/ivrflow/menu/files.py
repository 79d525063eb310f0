"""Menu files: read YAML from disk and check the sound files it names, on top of `build`."""

from __future__ import annotations

from pathlib import Path as FsPath

import yaml

from .build import LoadedMenu, load_menu_data
from .problems import MenuError, Problem
from .sound_files import check_sound_files
from .yaml_source import parse_yaml


def load_menu_file(path: str | FsPath, sound_dir: str | FsPath | None = None) -> LoadedMenu:
    """Read and fully validate a menu file; raise MenuError naming every problem."""
    source = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MenuError(source, [Problem((), f"cannot read the file: {exc}")]) from exc
    return load_menu_text(text, source, sound_dir)


def load_menu_text(text: str, source: str, sound_dir: str | FsPath | None = None) -> LoadedMenu:
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise MenuError(source, [Problem((), f"not valid YAML: {_yaml_reason(exc)}")]) from exc
    loaded = load_menu_data(data, source)
    if sound_dir is None:
        return loaded
    problems = list(check_sound_files(loaded.menu, FsPath(sound_dir)))
    if problems:
        raise MenuError(source, problems)
    return loaded


def _yaml_reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return str(exc)
