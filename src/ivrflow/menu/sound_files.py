"""Sound files on disk: present, readable, and how long they play."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import warnings

with warnings.catch_warnings():
    # pydub warns at import when ffmpeg is absent; WAV files need no ffmpeg.
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

from .model import Menu
from .problems import Problem
from .sound_paths import sound_path


def sound_duration(path: Path) -> float:
    """Seconds of audio in a file; raises ValueError for a missing or unreadable one."""
    if not path.is_file():
        raise ValueError(f"{path} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            segment = AudioSegment.from_file(path, format=path.suffix.lstrip(".").lower() or None)
    except FileNotFoundError as exc:
        # The file exists, so what is missing is ffmpeg, which pydub tries when it cannot read a file itself.
        raise ValueError(f"{path} is not readable audio (not PCM WAV, and ffmpeg is not installed to try more)") from exc
    except (CouldntDecodeError, OSError, IndexError, ValueError) as exc:
        raise ValueError(f"{path} is not readable audio ({exc})") from exc
    return len(segment) / 1000.0


def check_sound_files(menu: Menu, sound_dir: Path) -> Iterator[Problem]:
    if not sound_dir.is_dir():
        where = sound_dir.absolute()
        what = "is not a directory" if where.exists() else "does not exist"
        yield Problem(
            (), f"sound directory {where} {what}; the daemon plays the menu's sounds from there: "
            "create it, or give the right one with --sounds"
        )
        return
    for i, sound in enumerate(menu.sounds):
        try:
            sound_duration(sound_path(sound_dir, sound.filename))
        except ValueError as exc:
            yield Problem(("sounds", i, "filename"), f"{exc}; put the file there or fix the name")
