"""The baseline: menu "071" as a Python user writes it today with greenswitch.

A greenswitch ``OutboundESLServer`` application with blocking
``call_command``/``playback`` calls, implementing bench/menu.yaml by hand:
answer, wait ``SLEEP``, the advertisement in the foreground, the greeting in
the background (any key stops it: ``uuid_break``), then up to ``DIGITS`` keys
with the first-key and inter-digit timeouts, and a transfer to the option's
number, the dialled extension, or the timeout's number.

It is what greenswitch's README suggests, with only what a careful user adds:
handlers that just queue DTMF and hangup events (greenswitch pitfall 5), and
bounded waits.  No validation, no metrics, no call records.

    python -m bench.baseline.greenswitch_ivr --port 18085 --sounds config/sounds
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.queue  # noqa: E402
from greenswitch.esl import OutboundESLServer, OutboundSessionHasGoneAway  # noqa: E402

# bench/menu.yaml, by hand.
SLEEP = 0.5
FIRST_KEY_TIMEOUT = 0.5
INTER_DIGIT = 0.2
DIGITS = 3
OPTIONS = {"1": "+79876543210", "2": "002"}
TIMEOUT_DESTINATION = "050"
LONGEST_WAIT = 3600.0
SOUNDS = "config/sounds"


class Ivr:
    def __init__(self, session) -> None:  # type: ignore[no-untyped-def]
        self.session = session
        self.events: gevent.queue.Queue = gevent.queue.Queue()
        self.gone = False

    def _on_dtmf(self, event) -> None:  # type: ignore[no-untyped-def]
        self.events.put(("dtmf", event.headers.get("DTMF-Digit", "")))

    def _on_gone(self, event) -> None:  # type: ignore[no-untyped-def]
        self.gone = True
        self.events.put(("gone", None))

    def run(self) -> None:
        try:
            with gevent.Timeout(LONGEST_WAIT + 60):
                self.menu()
        except (OutboundSessionHasGoneAway, gevent.Timeout):
            pass
        except Exception:
            logging.exception("call failed")

    def menu(self) -> None:
        s = self.session
        s.register_handle("DTMF", self._on_dtmf)
        s.register_handle("CHANNEL_HANGUP", self._on_gone)
        s.register_handle("DISCONNECT", self._on_gone)
        s.myevents()
        s.linger(30)
        s.answer()
        gevent.sleep(SLEEP)
        if self.gone:
            return
        s.playback(f"%[playback_terminators=none]{SOUNDS}/advertising.wav")
        if self.gone:
            return
        # The greeting plays in the background while we wait for keys.
        played = gevent.event.AsyncResult()
        s.register_expected_event("CHANNEL_EXECUTE_COMPLETE", "current_application", "playback", played)
        played.rawlink(lambda _: self.events.put(("played", None)))
        s.call_command("playback", f"%[playback_terminators=any]{SOUNDS}/hello.wav")
        digits = ""
        playing = True
        while len(digits) < DIGITS:
            timeout = INTER_DIGIT if digits else (LONGEST_WAIT if playing else FIRST_KEY_TIMEOUT)
            try:
                kind, value = self.events.get(timeout=timeout)
            except gevent.queue.Empty:
                break
            if kind == "gone":
                return
            if kind == "played":
                playing = False
            elif kind == "dtmf" and value:
                if playing and not digits:
                    s.uuid_break()
                digits += value
        if not digits:
            destination = TIMEOUT_DESTINATION
        elif digits in OPTIONS:
            destination = OPTIONS[digits]
        elif len(digits) == DIGITS:
            destination = digits
        else:
            s.hangup()
            return
        s.call_command("transfer", f"{destination} XML default", block=True, response_timeout=10)


def main() -> None:
    global SOUNDS
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sounds", default="config/sounds")
    a = p.parse_args()
    SOUNDS = os.path.abspath(a.sounds)
    logging.basicConfig(level=logging.WARNING)
    server = OutboundESLServer(bind_address=a.host, bind_port=a.port, application=Ivr, max_connections=20000)
    server.listen()


if __name__ == "__main__":
    main()
