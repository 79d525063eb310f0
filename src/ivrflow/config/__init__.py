"""The menu model, its loaders and its checks."""

from .loader import LoadedMenu, load_menu_data, load_menu_file, load_menu_text
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
    "load_menu_file",
    "load_menu_text",
]
