"""Menu files: read YAML from disk and check the sound files it names, on top of `build`.

Whatever the file holds, loading it ends in a menu or a MenuError: a reload
must never raise anything else, so the file's size is bounded before it is
read, only regular files are read (a FIFO or a device would block or never
end), and any other exception is reported as a problem of the file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from pathlib import Path as FsPath

import yaml

from .build import LoadedMenu, load_menu_data
from .problems import MenuError, Problem, clip
from .sound_files import check_sound_files
from .yaml_source import parse_yaml

# A 1,000-ivr menu is about 2.6 MB; this leaves room for six times that.
MAX_MENU_BYTES = 16 << 20


def load_menu_file(
    path: str | FsPath, sound_dir: str | FsPath | None = None, *, allowed_variables: Collection[str] = ()
) -> LoadedMenu:
    """Read and fully validate a menu file; raise MenuError naming every problem.

    `allowed_variables`: channel variables FreeSWITCH acts on that the operator
    lets menus set anyway (see `switch_variables`); none by default.
    """
    source = str(path)
    try:
        text = read_menu_text(path)
    except MenuError:
        raise
    except Exception as exc:  # noqa: BLE001 - OSError, UnicodeDecodeError, MemoryError...: all a bad file
        raise MenuError(source, [Problem((), f"cannot read the file: {clip(str(exc))}")]) from exc
    return load_menu_text(text, source, sound_dir, allowed_variables=allowed_variables)


def read_menu_text(path: str | FsPath) -> str:
    source = str(path)
    # O_NONBLOCK: opening a FIFO without a writer must not wait for one.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise MenuError(source, [Problem((), f"not a regular file ({_kind(info.st_mode)}); give a menu file")])
        if info.st_size > MAX_MENU_BYTES:
            raise MenuError(source, [_too_big(info.st_size)])
        with os.fdopen(fd, "rb", closefd=False) as stream:
            raw = stream.read(MAX_MENU_BYTES + 1)  # the file may grow while it is read
    finally:
        os.close(fd)
    if len(raw) > MAX_MENU_BYTES:
        raise MenuError(source, [_too_big(len(raw))])
    return raw.decode("utf-8")


def _too_big(size: int) -> Problem:
    return Problem((), f"the file is {size} bytes, more than the {MAX_MENU_BYTES} a menu may have")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a file"


def load_menu_text(
    text: str, source: str, sound_dir: str | FsPath | None = None, *, allowed_variables: Collection[str] = ()
) -> LoadedMenu:
    try:
        return _load_text(text, source, sound_dir, allowed_variables)
    except MenuError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a menu does, it is the menu's problem
        raise MenuError(source, [Problem((), f"cannot load the menu: {type(exc).__name__}: {clip(str(exc))}")]) from exc


def _load_text(
    text: str, source: str, sound_dir: str | FsPath | None, allowed_variables: Collection[str]
) -> LoadedMenu:
    if len(text) > MAX_MENU_BYTES:
        raise MenuError(source, [_too_big(len(text))])
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        raise MenuError(source, [Problem((), f"not valid YAML: {_yaml_reason(exc)}")]) from exc
    loaded = load_menu_data(data, source, allowed_variables)
    if sound_dir is None:
        return loaded
    problems = list(check_sound_files(loaded.menu, FsPath(sound_dir)))
    if problems:
        raise MenuError(source, problems)
    return loaded


def _yaml_reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {clip(str(exc.problem))}"
    return clip(str(exc))
