"""Emulated time measured from the real now, not from when the event loop last read its clock.

libev times a timer from the loop's cached "now", which is stale by however
long the running greenlet has worked since the loop's last iteration: on a
loaded machine, tens of milliseconds. A caller's key scheduled then comes
that much early, inside the prompt before the one the script meant (an ARI
test failed so after a 50 ms stall). The emulators start every timer from a
fresh now, as gevent.sleep does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent


def refresh_now() -> None:
    gevent.get_hub().loop.update_now()


def spawn_after(seconds: float, fn: Callable[..., Any], *args: object) -> gevent.Greenlet[..., Any]:
    refresh_now()
    return gevent.spawn_later(seconds, fn, *args)
