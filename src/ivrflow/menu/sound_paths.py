"""Where a sound's file lies: inside the sound directory, never outside it."""

from __future__ import annotations

from pathlib import Path


def sound_path(sound_dir: Path, filename: str) -> Path:
    """The file a sound names, refusing anything that would leave the sound directory."""
    root = sound_dir.resolve()
    path = (root / filename).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"{filename!r} resolves outside the sound directory {root}")
    return path
