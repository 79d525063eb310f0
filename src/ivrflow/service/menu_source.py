"""Where the daemon's menus come from: a YAML file today, the REST API beside it.

A source's `load` does blocking work (files, parsing, validation, sound files)
and raises MenuError for a menu that may not serve; the daemon decides where it
runs and swaps the result in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..menu import LoadedMenu
from ..menu.files import load_menu_file


class MenuSource(Protocol):
    @property
    def name(self) -> str:
        """What logs and status lines call this source."""
        ...

    def load(self) -> LoadedMenu: ...


@dataclass(frozen=True, slots=True)
class FileMenuSource:
    path: Path
    sound_dir: Path
    allowed_variables: frozenset[str] = frozenset()  # switch-acting variables the operator lets menus set

    @property
    def name(self) -> str:
        return str(self.path)

    def load(self) -> LoadedMenu:
        return load_menu_file(self.path, self.sound_dir, allowed_variables=self.allowed_variables)
