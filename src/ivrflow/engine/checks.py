"""Field checks for events and outputs, so that an invalid one cannot be built.

They run on the hot path (an event per key, per prompt, per timer), so the
common case is one type test and one comparison; the slow path only words
the error.
"""

from __future__ import annotations

import math

MAX_TEXT_LENGTH = 1000
"""Longest cause, reason or error an event may carry; it ends up in records and logs."""


def check_time(owner: object, name: str, value: object) -> None:
    """Seconds on a monotonic clock: a finite number >= 0."""
    # `0 <= value < inf` is also False for NaN.
    if (type(value) is float or type(value) is int) and 0 <= value < math.inf:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{_field(owner, name)} must be a number of seconds, not {value!r}")
    raise ValueError(f"{_field(owner, name)} must be finite and >= 0, not {value!r}")


def check_count(owner: object, name: str, value: object) -> None:
    """A non-negative int (an id or a sequence number), not a bool."""
    if type(value) is int and value >= 0:
        return
    if type(value) is not int:
        raise TypeError(f"{_field(owner, name)} must be an int, not {value!r}")
    raise ValueError(f"{_field(owner, name)} must be >= 0, not {value!r}")


def check_text(owner: object, name: str, value: object) -> None:
    """A str of at most MAX_TEXT_LENGTH characters."""
    if type(value) is str and len(value) <= MAX_TEXT_LENGTH:
        return
    if not isinstance(value, str):
        raise TypeError(f"{_field(owner, name)} must be a str, not {value!r}")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(f"{_field(owner, name)} is {len(value)} characters long, more than {MAX_TEXT_LENGTH}")


def check_flag(owner: object, name: str, value: object) -> None:
    if type(value) is not bool:
        raise TypeError(f"{_field(owner, name)} must be a bool, not {value!r}")


def check_type(owner: object, name: str, value: object, kind: type) -> None:
    if type(value) is not kind and not isinstance(value, kind):
        raise TypeError(f"{_field(owner, name)} must be a {kind.__name__}, not {value!r}")


def _field(owner: object, name: str) -> str:
    return f"{type(owner).__name__}.{name}"


def clip_text(text: str) -> str:
    """Text from outside (a switch's reply, an exception) cut to what an event takes."""
    if len(text) <= MAX_TEXT_LENGTH:
        return text
    return text[: MAX_TEXT_LENGTH - 20] + f"...[{len(text) - MAX_TEXT_LENGTH + 20} more]"
