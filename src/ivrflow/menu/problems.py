"""What a menu check reports: problems that name the file, the path and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from .model import ACTION_NAMES, FIELD_NAMES

Path = tuple[str | int, ...]

# A rendered problem quotes menu values; a 100 MB value must not become a 100 MB log line.
MAX_MESSAGE_CHARS = 500


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut in the middle to about `limit` characters, so both the value's start and the fix stay."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} ...[{len(text) - 2 * half} characters cut]... {text[-half:]}"


@dataclass(frozen=True, slots=True)
class Problem:
    path: Path
    message: str
    severity: Literal["error", "warning"] = "error"

    def render(self, source: str) -> str:
        where = format_path(self.path)
        prefix = f"{source}: {where}: " if where else f"{source}: "
        tag = "warning: " if self.severity == "warning" else ""
        return clip(f"{prefix}{tag}{self.message}")


class MenuError(Exception):
    """A menu that cannot be loaded; `problems` holds every error found."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(p.render(source) for p in self.problems))


def format_path(path: Path) -> str:
    """`('ivrs', 0, 'contexts', 1, 'options', '2', 0, 'transfer_dst')` → `ivrs[0].contexts[1].options."2"[0].transfer_dst`."""
    out = ""
    previous: str | int | None = None
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif previous == "options" and part not in ("start", "timeout", "invalid"):
            out += f'."{part}"'
        else:
            out += f".{part}" if out else part
        previous = part
    return out


def from_validation_error(exc: ValidationError, prefix: Path) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = _strip_action_tag(tuple(error["loc"]))
        problems.append(Problem(prefix + loc, _message(error, loc)))
    return problems


def _strip_action_tag(loc: Path) -> Path:
    # A discriminated union puts the chosen action name in the path; users
    # think of the rule as `options."2"[0]`, so it goes.
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (part in ACTION_NAMES and i >= 1 and isinstance(loc[i - 1], int))
    )


def _message(error: Any, loc: Path) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}{_suggestion(str(loc[-1]))}; remove it or fix its spelling"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    if kind == "union_tag_invalid":
        got = error["input"].get("action") if isinstance(error["input"], dict) else None
        return f"unknown action {got!r}{_suggestion(str(got), ACTION_NAMES)}"
    if kind == "union_tag_not_found":
        return "rule has no 'action'; add one, e.g. action: play_sound"
    message: str = error["msg"]
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    if not isinstance(error.get("input"), (dict, list, tuple)):
        return f"{clip(repr(error['input']))}: {message[0].lower()}{message[1:]}"
    return message


def _suggestion(word: str, vocabulary: Iterable[str] | None = None) -> str:
    close = difflib.get_close_matches(word, sorted(vocabulary or FIELD_NAMES), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
