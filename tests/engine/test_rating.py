"""quality_rate's digit rule."""

import pytest

from ivrflow.engine.rating import AskAgain, NotRated, Rated, judge_rating


@pytest.mark.parametrize("digit", ["1", "3", "5"])
def test_a_digit_within_1_to_max_rate_is_the_rating(digit: str) -> None:
    assert judge_rating(digit, 5, retried=False) == Rated(int(digit))
    assert judge_rating(digit, 5, retried=True) == Rated(int(digit))


@pytest.mark.parametrize(("digit", "reason"), [(None, "no_digit"), ("0", "out_of_range"), ("6", "out_of_range"), ("*", "out_of_range"), ("#", "out_of_range"), ("12", "out_of_range")])
def test_anything_else_asks_once_more_then_gives_no_rating(digit: str | None, reason: str) -> None:
    assert judge_rating(digit, 5, retried=False) == AskAgain(reason)  # type: ignore[arg-type]
    assert judge_rating(digit, 5, retried=True) == NotRated(reason)  # type: ignore[arg-type]


def test_max_rate_bounds_the_scale() -> None:
    assert judge_rating("9", 9, retried=False) == Rated(9)
    assert judge_rating("2", 1, retried=False) == AskAgain("out_of_range")
