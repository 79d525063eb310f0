"""Which ivr a call is for: the `ivr_extension` the dialplan set, else the number called."""

from __future__ import annotations

from ..menu import Ivr, Menu


class Rejected(Exception):
    """A call that is not ours to serve; it goes back to the switch's dialplan."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # a bounded code, for metrics


def choose_ivr(menu: Menu, ivr_extension: str, destination: str) -> Ivr:
    """The active ivr for the call; Rejected('no_ivr') when there is none."""
    extension = ivr_extension or destination
    ivr = menu.ivr_for(extension)
    if ivr is None:
        raise Rejected("no_ivr", f"no active ivr for extension {extension!r}")
    return ivr
