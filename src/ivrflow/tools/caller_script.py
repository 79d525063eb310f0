"""A scripted caller: ``wait 6; 2; wait 1; hangup``, read the same way by `simulate` and `dial`."""

from __future__ import annotations

import re

__all__ = ["ScriptError", "parse_script"]

_STEP = re.compile(r"^(?:wait\s+(?P<wait>\d+(?:\.\d+)?)|(?P<keys>[0-9*#]+)|(?P<hangup>hangup))$")


class ScriptError(ValueError):
    pass


def parse_script(script: str) -> list[tuple[str, str]]:
    """Steps as ``(kind, value)``: ``("wait", "6")``, ``("keys", "105")``, ``("hangup", "hangup")``."""
    steps = []
    for raw in script.split(";"):
        step = raw.strip()
        if not step:
            continue
        match = _STEP.match(step)
        if match is None:
            raise ScriptError(f"script step {step!r}: use 'wait SECONDS', keys such as '105' or '#', or 'hangup'")
        kind = next(k for k, v in match.groupdict().items() if v is not None)
        steps.append((kind, match.group(kind)))
    return steps
