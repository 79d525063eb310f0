"""`ivrflow simulate`: walk a menu in the terminal with the real engine."""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ..menu.model import Ivr, Menu
from ..menu.sound_files import sound_duration
from ..menu.sound_paths import sound_path
from ..engine import (
    Answer,
    Call,
    CallFinished,
    CallRecord,
    Hangup,
    Notice,
    Output,
    Play,
    PlaySilence,
    RatingGiven,
    SayDigits,
    SetCallerId,
    SetVariable,
    StartTimer,
    State,
    StopPlayback,
    TimerKind,
    Transfer,
)
from .caller_script import parse_script
from .virtual_switch import VirtualSwitch

DEFAULT_SOUND_SECONDS = 1.0


def sound_lengths(menu: Menu, sound_dir: Path, warn: Callable[[str], None]) -> dict[str, float]:
    lengths = {}
    for sound in menu.sounds:
        try:
            lengths[sound.filename] = sound_duration(sound_path(sound_dir, sound.filename))
        except ValueError as exc:
            warn(f"note: {exc}; playing it as {DEFAULT_SOUND_SECONDS:.0f} s")
            lengths[sound.filename] = DEFAULT_SOUND_SECONDS
    return lengths


def run_script(menu: Menu, ivr: Ivr, lengths: dict[str, float], script: str, out: TextIO) -> CallRecord:
    """Run a scripted caller on a virtual clock; after the script, nobody presses anything."""
    steps = parse_script(script)
    switch = VirtualSwitch(Call(menu, ivr), lengths)
    printer = _Printer(switch, lengths, out)
    switch.start()
    printer.flush()
    for kind, value in steps:
        if switch.ended:
            break
        if kind == "wait":
            switch.advance(float(value))
        elif kind == "keys":
            printer.press(value)
        else:
            printer.say("caller hangs up")
            switch.hang_up_caller()
        printer.flush()
    record = switch.run_to_end()
    printer.flush()
    return record


def run_interactive(menu: Menu, ivr: Ivr, lengths: dict[str, float], out: TextIO) -> CallRecord:
    """Run on the wall clock, reading keys from the terminal (or a pipe, until it ends)."""
    switch = VirtualSwitch(Call(menu, ivr), lengths)
    printer = _Printer(switch, lengths, out)
    out.write("keys 0-9 * # are DTMF; h hangs up\n")
    started = time.monotonic()
    switch.start()
    printer.flush()
    with _keys_from(sys.stdin) as read_key:
        while not switch.ended:
            wait = switch.next_due_in()
            timeout = None if wait is None else max(wait - (time.monotonic() - started - switch.now), 0.0)
            key = read_key(timeout)
            switch.advance(max(time.monotonic() - started - switch.now, 0.0))
            if key and key in "0123456789*#":
                printer.press(key)
            elif key in ("h", "H"):
                printer.say("caller hangs up")
                switch.hang_up_caller()
            printer.flush()
    assert switch.record is not None
    return switch.record


@contextmanager
def _keys_from(stream: TextIO) -> Iterator[Callable[[float | None], str]]:
    """A reader of single keys with a timeout; after end of input it only waits."""
    fd = stream.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved is not None:
        tty.setcbreak(fd)
    ended = False

    def read_key(timeout: float | None) -> str:
        nonlocal ended
        if ended:
            if timeout is None:
                raise EOFError("input ended and nothing is left to happen")
            time.sleep(timeout)
            return ""
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return ""
        data = os.read(fd, 1)
        ended = not data
        return data.decode(errors="replace")

    try:
        yield read_key
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class _Printer:
    def __init__(self, switch: VirtualSwitch, lengths: dict[str, float], out: TextIO) -> None:
        self.switch = switch
        self.lengths = lengths
        self.out = out
        self.shown = 0

    def say(self, text: str) -> None:
        self.out.write(f"{self.switch.now:8.3f}  {text}\n")

    def press(self, keys: str) -> None:
        self.say(f"caller presses {keys}")
        state = self.switch.call.state
        discarded = self.switch.press(keys)
        if discarded:
            self.say(f"{discarded} discarded: {_DEAF.get(state, 'the call takes no keys now')}")

    def flush(self) -> None:
        for at, output in self.switch.log[self.shown :]:
            text = describe(output, self.lengths)
            if text:
                self.out.write(f"{at:8.3f}  {text}\n")
        self.shown = len(self.switch.log)
        self.out.flush()


_DEAF = {
    State.SLEEPING: "keys are ignored during sleep_time",
    State.PLAYING: "keys are ignored during a foreground prompt",
    State.TRANSFERRING: "keys are ignored while the call is transferred",
}


def describe(output: Output, lengths: dict[str, float]) -> str | None:
    match output:
        case Answer():
            return "answer"
        case Play(filename=name, interruptible=bg):
            kind = "background: a key interrupts it" if bg else "foreground: keys are ignored"
            return f"play {name} ({lengths.get(name, DEFAULT_SOUND_SECONDS):.2f} s, {kind})"
        case PlaySilence(milliseconds=ms):
            return f"silence {ms / 1000:.2f} s"
        case SayDigits(digits=digits, method=method):
            return f"say {digits} ({method})"
        case StopPlayback():
            return "prompt stopped"
        case StartTimer(timer=timer, seconds=seconds) if timer.kind is not TimerKind.LIFETIME:
            return f"{timer.kind.value.replace('_', ' ')} timer: {seconds:g} s"
        case SetVariable(name=name, value=value):
            return f"set {name}={value}"
        case SetCallerId(field=field, value=value):
            return f"caller id {field} = {value}"
        case Transfer(destinations=destinations, kind=kind):
            return f"{kind.replace('_', ' ')} to {', '.join(destinations)}"
        case Hangup(cause=cause):
            return f"hang up ({cause})"
        case Notice(message=message):
            return f"note: {message}"
        case RatingGiven(rating=rating):
            return f"rated {rating.rate} of {rating.max_rate}"
        case CallFinished(record=record):
            path = " -> ".join(f"{step.context}/{step.option}" for step in record.path)
            return f"call ended: {record.outcome} ({record.reason}); path {path}"
    return None
