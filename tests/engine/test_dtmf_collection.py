"""Digit-collection rules on their own (README "How a call walks a menu", 4 and 5)."""

from __future__ import annotations

import pytest

from ivrflow.menu import Context
from ivrflow.engine.dtmf_collection import EntryRules, Resolution, ends_entry, is_complete, resolve


def rules(options: str = "", digit_len: int = 1, any_dial: bool = False) -> EntryRules:
    """EntryRules from a space-separated option list, the way EntryRules.of derives hash_is_digit."""
    opts = frozenset(options.split())
    return EntryRules(opts, digit_len, any_dial, hash_is_digit=any("#" in o for o in opts))


def test_entry_rules_of_a_context_takes_only_digit_options() -> None:
    ctx = Context.model_validate(
        {
            "id": 7,
            "digit_len": 3,
            "allow_any_dial": True,
            "options": {"start": [], "timeout": [], "invalid": [], "1": [], "12": []},
        }
    )
    assert EntryRules.of(ctx) == EntryRules(frozenset({"1", "12"}), 3, True, hash_is_digit=False)


@pytest.mark.parametrize(
    ("options", "hash_is_digit"),
    [({"1": []}, False), ({"1#": []}, True), ({"#": []}, True), ({"*9": []}, False), ({"start": []}, False)],
)
def test_hash_is_a_digit_only_when_an_option_contains_it(options: dict[str, list[object]], hash_is_digit: bool) -> None:
    ctx = Context.model_validate({"id": 1, "options": options})
    assert EntryRules.of(ctx).hash_is_digit is hash_is_digit


@pytest.mark.parametrize(
    ("options", "digit", "ends"),
    [
        ("1 2", "#", True),  # '#' ends the entry and is not part of it
        ("1 2#", "#", False),  # an option holds '#': it is a digit like any other
        ("#", "#", False),
        ("1 2", "*", False),  # '*' is always a digit
        ("1 2", "1", False),
        ("", "0", False),
    ],
)
def test_ends_entry(options: str, digit: str, ends: bool) -> None:
    assert ends_entry(rules(options), digit) is ends


@pytest.mark.parametrize(
    ("options", "digit_len", "any_dial", "entry", "complete"),
    [
        # digit_len reached: always complete, whatever else could match
        ("1 2", 1, False, "1", True),
        ("1 2", 1, False, "9", True),
        ("1 12", 1, False, "1", True),
        ("", 3, True, "105", True),
        ("1 2", 3, True, "210", True),
        # early match: equals an option, no longer option, no direct dial
        ("1 2", 3, False, "1", True),
        ("1 2", 3, False, "2", True),
        ("1 12", 3, False, "12", True),
        ("1# 2", 3, False, "1#", True),
        # a longer option could still match: wait
        ("1 12", 3, False, "1", False),
        ("1 1#", 3, False, "1", False),
        ("12", 3, False, "1", False),
        # direct dial could still match: wait, even on an exact option
        ("1 2", 3, True, "2", False),
        ("1 2", 3, True, "21", False),
        ("12", 3, True, "12", False),
        # not an option and short of digit_len: wait for more (or the inter-digit timeout)
        ("1 2", 3, False, "9", False),
        ("1 2", 3, False, "", False),
    ],
)
def test_is_complete(options: str, digit_len: int, any_dial: bool, entry: str, complete: bool) -> None:
    assert is_complete(rules(options, digit_len, any_dial), entry) is complete


@pytest.mark.parametrize(
    ("options", "digit_len", "any_dial", "entry", "expected"),
    [
        ("1 2", 1, False, "1", Resolution("option", "1")),
        ("1 2", 1, False, "3", Resolution("invalid", "3")),
        ("1 12", 3, False, "1", Resolution("option", "1")),  # after a '#' or the inter-digit timeout
        ("1 2", 3, True, "105", Resolution("direct_dial", "105")),
        ("1*5", 3, True, "1*5", Resolution("option", "1*5")),
        ("", 3, True, "1*5", Resolution("direct_dial", "1*5")),  # '*' is dialable
        ("105 2", 3, True, "105", Resolution("option", "105")),  # options win over direct dial
        ("1 2", 3, True, "10", Resolution("invalid", "10")),  # direct dial needs exactly digit_len digits
        ("1 2", 3, True, "", Resolution("invalid", "")),  # '#' alone: empty entry
        ("1 2", 3, False, "105", Resolution("invalid", "105")),  # no allow_any_dial, no direct dial
        ("1 2", 1, False, "", Resolution("invalid", "")),
        ("#", 1, False, "#", Resolution("option", "#")),
        ("1#", 3, True, "12#", Resolution("invalid", "12#")),  # '#' is never dialled
    ],
)
def test_resolve(options: str, digit_len: int, any_dial: bool, entry: str, expected: Resolution) -> None:
    assert resolve(rules(options, digit_len, any_dial), entry) == expected


@pytest.mark.parametrize(("entry", "complete"), [("1", False), ("12", False), ("123", True), ("*0", False)])
def test_record_digits_rules_end_only_at_max_digits(entry: str, complete: bool) -> None:
    record = EntryRules.of_record_digits(3)
    assert is_complete(record, entry) is complete
    assert ends_entry(record, "#") and not ends_entry(record, "*")
