"""Dialplan applications of the emulator, each a function ``(session, expanded_arg)``.

Only behaviour a socket client can observe is modelled: the events, the
channel variables they set and ``Application-Response`` (the
``current_application_response`` variable, ``_none_`` when an app sets none).
"""

from __future__ import annotations

import re
import struct
import wave
from typing import TYPE_CHECKING
from collections.abc import Callable, Mapping

if TYPE_CHECKING:
    from .fs_session import Session

__all__ = ["APPLICATIONS"]

# Say reads one digit in roughly this much call time.
_SAY_SECONDS_PER_DIGIT = 0.6
_RECORD_RATE = 8000
_RECORD_FOREVER = 24 * 3600.0  # a record without a limit runs until a terminator or the hangup
_VOICE = struct.pack("<8h", 0, 5000, 7000, 5000, 0, -5000, -7000, -5000)  # a 1 kHz tone, 8 samples a cycle


def _answer(session: Session, arg: str) -> None:
    session.answer()
    session.channel.set_var("endpoint_disposition", "ANSWER")


def _pre_answer(session: Session, arg: str) -> None:
    session.channel.set_var("endpoint_disposition", "EARLY MEDIA")


def _playback(session: Session, arg: str) -> None:
    ch = session.channel
    ch.set_var("playback_terminator_used", None)
    seconds = session.script.sound_seconds(arg) if arg else None
    if seconds is None:
        ch.set_var("current_application_response", "FILE NOT FOUND")
        return
    started = session.now()
    result, digit = session.poll(seconds, digits="playback")
    played_ms = int(round(min(session.now() - started, seconds) * 1000))
    samples = played_ms * 8
    ch.set_var("playback_last_offset_pos", str(samples))
    ch.set_var("playback_seconds", str(played_ms // 1000))
    ch.set_var("playback_ms", str(played_ms))
    ch.set_var("playback_samples", str(samples))
    if result == "dtmf":
        ch.set_var("playback_terminator_used", digit)
    # A caller hangup cuts the media (PLAYBACK ERROR); a hangup the playback
    # itself dequeued and ran (transcript 25) still reports FILE PLAYED.
    failed = result == "hangup" and session.hangup_source == "caller"
    ch.set_var("current_application_response", "PLAYBACK ERROR" if failed else "FILE PLAYED")


def _record(session: Session, arg: str) -> None:
    """mod_dptools' record: ``PATH [LIMIT_S [THRESHOLD [SILENCE_HITS_S]]]``, ending on a terminator.

    It writes a real WAV file (8 kHz mono 16-bit) as long as the recording ran and,
    once the file is closed, sets record_seconds/record_ms/record_samples; a caller
    hanging up ends it too, and the file is still kept (switch_ivr_record_file).
    """
    words = arg.split()
    numbers = [int(w) if w.isdigit() else 0 for w in words[1:4]] + [0, 0, 0]
    limit, threshold, hits = numbers[:3]
    ch = session.channel
    ch.set_var("playback_terminator_used", None)
    seconds = float(limit) if limit else _RECORD_FOREVER
    speaks = session.script.message_seconds
    if threshold and speaks is not None:  # silence_hits of 0 means 3 s (switch_ivr_record_file)
        seconds = min(seconds, speaks + (hits or 3))
    started = session.now()
    result, digit = session.poll(seconds, digits="playback")
    recorded = min(session.now() - started, seconds)
    if result == "dtmf":
        ch.set_var("playback_terminator_used", digit)
    samples = int(recorded * _RECORD_RATE)
    with wave.open(words[0], "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(_RECORD_RATE)
        spoken = min(samples, int((speaks if speaks is not None else recorded) * _RECORD_RATE))
        out.writeframes(_VOICE * (spoken // 8) + b"\0\0" * (samples - spoken // 8 * 8))
    ch.set_var("record_seconds", str(samples // _RECORD_RATE))
    ch.set_var("record_ms", str(samples // (_RECORD_RATE // 1000)))
    ch.set_var("record_samples", str(samples))


def _play_and_get_digits(session: Session, arg: str) -> None:
    """``min max tries timeout_ms terminators prompt invalid_prompt var [regex [digit_timeout_ms [transfer_on_fail]]]`` (06).

    Each try reads an entry (any digit cuts the prompt); a long enough entry that
    matches the regex ends it, an entry that does not is kept as ``<var>_invalid``;
    a failed try plays the invalid prompt. Once the tries are spent the call
    goes to ``transfer_on_fail`` ("None" from greenswitch included).
    """
    words = arg.split()
    try:
        low, high, tries, timeout = (int(w) for w in words[:4])
        terminators, prompt, invalid, var = words[4:8]
    except ValueError:
        return  # FreeSWITCH logs its usage line and does nothing
    regex = words[8] if len(words) > 8 else ""
    digit_timeout = _int(words[9]) if len(words) > 9 else 0
    ch = session.channel
    for _ in range(max(tries, 1)):
        entered = _read(session, high, prompt, terminators, timeout, digit_timeout or timeout)
        if entered is None:
            return
        ch.set_var("read_result", "success" if entered and len(entered) >= low else "failure")
        if entered and len(entered) >= low:
            if not regex or re.search(regex, entered):
                ch.set_var(var, entered)
                return
            ch.set_var(var, None)
            ch.set_var(f"{var}_invalid", entered)
        if session.poll(_prompt_seconds(session, invalid), digits="playback")[0] == "hangup":
            return
    if len(words) > 10 and words[10]:
        # Without a dialplan and context the transfer keeps the caller profile's own ("xml").
        session.transfer(words[10], ch.profile.get("Dialplan", "XML"), ch.profile.get("Context", "default"))


def _read(session: Session, most: int, prompt: str, terminators: str, timeout_ms: int, digit_timeout_ms: int) -> str | None:
    """switch_ivr_read: the entry typed (terminator not included), or None if the call went away."""
    entered = ""
    result, digit = session.poll(_prompt_seconds(session, prompt), digits="read")  # any digit ends the prompt
    if result == "done":
        result, digit = session.poll(timeout_ms / 1000, digits="read")
    while result == "dtmf":
        if digit in terminators:
            session.channel.set_var("read_terminator_used", digit)
            break
        entered += digit
        if len(entered) >= most:
            break
        result, digit = session.poll(digit_timeout_ms / 1000, digits="read")
    return None if result == "hangup" else entered


def _prompt_seconds(session: Session, prompt: str) -> float:
    if prompt.startswith("silence_stream://"):
        return _int(prompt.removeprefix("silence_stream://").split(",")[0]) / 1000
    return session.script.sound_seconds(prompt) or 0.0


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0  # atoi: greenswitch's "None" is 0


def _sleep(session: Session, arg: str) -> None:
    try:
        milliseconds = int(arg)
    except ValueError:
        return
    session.poll(milliseconds / 1000, digits="sleep")


def _say(session: Session, arg: str) -> None:
    words = arg.split()
    text = words[-1] if words else ""
    session.poll(len(text) * _SAY_SECONDS_PER_DIGIT, digits="playback")


def _speak(session: Session, arg: str) -> None:
    # engine|voice|text; the text takes about as long to say as a digit per five characters.
    text = arg.split("|", 2)[-1]
    session.poll(len(text) * _SAY_SECONDS_PER_DIGIT / 5, digits="playback")


def _detect_speech(session: Session, arg: str) -> None:
    # Starts (or stops) a media bug and returns at once; results come as DETECTED_SPEECH.
    words = arg.split()
    if words == ["stop"]:
        session.recognizer = None
    elif len(words) >= 3:
        session.recognizer = " ".join(words[:3])


def _set(session: Session, arg: str) -> None:
    name, _, value = arg.partition("=")
    if name:
        session.channel.set_var(name, value or None)


def _export(session: Session, arg: str) -> None:
    name, _, value = arg.partition("=")
    if not name:
        return
    ch = session.channel
    ch.set_var(name, value or None)
    exported = [v for v in (ch.get_var("export_vars") or "").split(",") if v and v != name]
    ch.set_var("export_vars", ",".join([*exported, name]))


def _unset(session: Session, arg: str) -> None:
    session.channel.set_var(arg, None)


def _hangup(session: Session, arg: str) -> None:
    session.hangup(arg or "NORMAL_CLEARING", "command")


def _transfer(session: Session, arg: str) -> None:
    words = arg.split()
    destination = words[0] if words else "service"
    dialplan = words[1] if len(words) > 1 else "XML"
    context = words[2] if len(words) > 2 else session.channel.profile.get("Context", "default")
    session.transfer(destination, dialplan, context)


def _bridge(session: Session, arg: str) -> None:
    session.bridge(arg)


def _break(session: Session, arg: str) -> None:
    # The break app flushes the queue unless its argument is "all" (sic, in mod_dptools).
    session.request_break(flush_queue=arg != "all")


def _flush_dtmf(session: Session, arg: str) -> None:
    session.digits.clear()


def _park(session: Session, arg: str) -> None:
    session.park()


def _socket(session: Session, arg: str) -> None:
    # An async socket app parks the channel for its listener; without one, it just parks.
    session.park()


def _noop(session: Session, arg: str) -> None:
    """Applications whose only visible effect is their EXECUTE/COMPLETE pair."""


APPLICATIONS: Mapping[str, Callable[[Session, str], None]] = {
    "answer": _answer,
    "pre_answer": _pre_answer,
    "playback": _playback,
    "record": _record,


    "play_and_get_digits": _play_and_get_digits,
    "sleep": _sleep,
    "say": _say,
    "speak": _speak,
    "detect_speech": _detect_speech,
    "set": _set,
    "export": _export,
    "unset": _unset,
    "hangup": _hangup,
    "transfer": _transfer,
    "bridge": _bridge,
    "break": _break,
    "flush_dtmf": _flush_dtmf,
    "park": _park,
    "socket": _socket,
    "info": _noop,
    "log": _noop,
    "ring_ready": _noop,
}
