"""When a caller's entry is complete, and what it resolves to.

Pure functions over a context's input settings, so the rules of digit
collection are in one place and testable on their own:

* an entry ends at `digit_len` digits, on `#` (which is then not part of it,
  unless some option of the context contains `#`), when the inter-digit
  timeout runs out, or as soon as it equals an option and neither a longer
  option nor a direct dial could still match (no needless wait);
* it resolves to the equal option; else, with `allow_any_dial` and exactly
  `digit_len` digits, to a direct dial of the entry; else to `invalid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..menu.model import Context


@dataclass(frozen=True, slots=True)
class EntryRules:
    options: frozenset[str]
    digit_len: int
    allow_any_dial: bool
    hash_is_digit: bool

    @classmethod
    def of(cls, context: Context) -> EntryRules:
        options = frozenset(context.digit_options)
        return cls(
            options=options,
            digit_len=context.digit_len,
            allow_any_dial=context.allow_any_dial,
            hash_is_digit=any("#" in option for option in options),
        )

    @classmethod
    def of_record_digits(cls, max_digits: int) -> EntryRules:
        """record_digits: no options, so its entry ends at `max_digits` digits, on `#`
        (the spec's rule for it, whatever the context's options), or on a timeout.
        voice_helper's keys collect the same way (the spec's rule for it too)."""
        return cls(options=frozenset(), digit_len=max_digits, allow_any_dial=False, hash_is_digit=False)


@dataclass(frozen=True, slots=True)
class Resolution:
    result: Literal["option", "direct_dial", "invalid"]
    entry: str


def ends_entry(rules: EntryRules, digit: str) -> bool:
    """Whether this key ends the entry without being part of it."""
    return digit == "#" and not rules.hash_is_digit


def is_complete(rules: EntryRules, entry: str) -> bool:
    """Whether the entry, as typed so far, is final without waiting for another digit."""
    if len(entry) >= rules.digit_len:
        return True
    if entry not in rules.options:
        return False
    longer_option = any(len(o) > len(entry) and o.startswith(entry) for o in rules.options)
    return not longer_option and not rules.allow_any_dial


def resolve(rules: EntryRules, entry: str) -> Resolution:
    if entry in rules.options:
        return Resolution("option", entry)
    if rules.allow_any_dial and len(entry) == rules.digit_len and "#" not in entry:
        return Resolution("direct_dial", entry)
    return Resolution("invalid", entry)
