"""The engine's one exception."""

from __future__ import annotations


class EngineError(Exception):
    """The call cannot take this event: a handler raised (the cause is chained),
    or the call is already in ERROR. The driver answers with `Call.abort`."""
