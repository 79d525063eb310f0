"""quality_rate: what one digit means for the rating (pure).

A digit 1..`max_rate` is the rating. Anything else (0, `*`, `#`, a digit over
`max_rate`) or no digit at all asks once more; after the retry there is no
rating, and nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Rated:
    rate: int


@dataclass(frozen=True, slots=True)
class AskAgain:
    reason: Literal["no_digit", "out_of_range"]


@dataclass(frozen=True, slots=True)
class NotRated:
    reason: Literal["no_digit", "out_of_range"]


def judge_rating(digit: str | None, max_rate: int, retried: bool) -> Rated | AskAgain | NotRated:
    """`digit` is the key pressed (None: none before the timeout); `retried`: this is the second ask."""
    if digit is not None and len(digit) == 1 and digit.isdigit() and 1 <= int(digit) <= max_rate:
        return Rated(int(digit))
    reason: Literal["no_digit", "out_of_range"] = "no_digit" if digit is None else "out_of_range"
    return NotRated(reason) if retried else AskAgain(reason)
