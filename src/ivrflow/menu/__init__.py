"""The menu model: typed, immutable, validated once. Importing it loads no YAML, audio or I/O library.

Readers live beside it and are imported by name: `files` (YAML menu files and
their sound files), `build` (any parsed data, the one path every reader ends in).
"""

from .build import LoadedMenu, load_menu_data
from .model import Context, Ivr, Menu, Rule, Sound
from .problems import MenuError, Problem

__all__ = [
    "Context",
    "Ivr",
    "LoadedMenu",
    "Menu",
    "MenuError",
    "Problem",
    "Rule",
    "Sound",
    "load_menu_data",
]
