"""`ivrflow dial`: a smoke test of a menu on a real switch, through its inbound Event Socket.

It originates one call into the menu's extension (a loopback leg by default,
which rings nobody), follows the channel that runs the menu, plays a caller
script (``wait 6; 2``, as `ivrflow simulate --script` reads it) and prints what
the switch saw: prompts started and stopped, digits, the transfer or hangup,
each in seconds from the answer.  As soon as the call is transferred, the test
call is hung up so the target is not kept ringing.
"""

from __future__ import annotations

import time
import uuid as uuid_mod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

import gevent
import gevent.queue
from greenswitch.esl import InboundESL, NotConnectedError

from ..freeswitch import builders as esl
from .caller_script import ScriptError, parse_script

__all__ = ["DialError", "DialOptions", "Expectation", "dial"]

# What dial listens to; filters keep it to the test call's own legs and job.
_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "DTMF",
    "BACKGROUND_JOB",
)
_PROMPTS = frozenset({"playback", "say", "speak", "play_and_get_digits", "read"})


class DialError(Exception):
    """The test could not run (no connection, wrong password, no call): a one-line reason."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """``transfer:002``, ``transfer:any`` or ``hangup``."""

    kind: str
    destination: str = "any"

    @classmethod
    def parse(cls, text: str) -> Expectation:
        kind, _, destination = text.partition(":")
        if kind == "hangup" and not destination:
            return cls("hangup")
        if kind == "transfer" and destination:
            return cls("transfer", destination)
        raise DialError(f"--expect {text!r}: use transfer:DESTINATION, transfer:any or hangup")

    def met_by(self, outcome: str) -> bool:
        kind, _, destination = outcome.partition(":")
        if kind != self.kind:
            return False
        # A bridge rings several destinations at once: any of them is the expected one.
        return self.kind == "hangup" or self.destination == "any" or self.destination in destination.split(",")

    def __str__(self) -> str:
        return self.kind if self.kind == "hangup" else f"{self.kind}:{self.destination}"


@dataclass(frozen=True, slots=True)
class DialOptions:
    host: str
    port: int
    password: str
    extension: str
    context: str = "default"
    # None: a loopback leg whose peer runs the extension; else this leg is called and sent there.
    dial_string: str | None = None
    script: str = ""
    expect: str | None = None
    # Seconds after the answer to wait for a transfer or hangup.
    timeout: float = 120.0
    connect_timeout: float = 5.0
    caller_id_number: str = "0000000000"
    caller_id_name: str = "ivrflow-dial"
    # Call seconds per wall second of the switch (an emulated switch runs faster in tests).
    time_scale: float = 1.0


def dial(options: DialOptions, out: TextIO) -> int:
    """Run the test; 0 if it ended as expected (or, with no expectation, ended at all), else 1."""
    steps = _steps(options.script)
    expectation = Expectation.parse(options.expect) if options.expect else None
    a_uuid, job_uuid = str(uuid_mod.uuid4()), str(uuid_mod.uuid4())
    endpoint = options.dial_string or f"loopback/{options.extension}/{options.context}"
    try:
        esl.check_password(options.password)
        originate = esl.bgapi(
            "originate",
            *esl.originate_args(
                endpoint,
                uuid=a_uuid,
                caller_id_number=options.caller_id_number,
                caller_id_name=options.caller_id_name,
                extension=options.extension,
                context=options.context,
                park=options.dial_string is None,
            ),
            job_uuid=job_uuid,
        )
    except esl.UnsafeArgument as exc:
        raise DialError(str(exc)) from None
    client = _connect(options)
    try:
        call = _TestCall(client, options, a_uuid, out)
        for command in (esl.filter_("Unique-ID", a_uuid), esl.filter_("Job-UUID", job_uuid)):
            call.command(command)
        if options.dial_string is None:
            # The B leg inherits the originate variables: its first events name the A leg.
            call.command(esl.filter_("variable_origination_uuid", a_uuid))
        call.command(esl.event_plain(*_EVENTS))
        out.write(f"ivrflow dial: calling {endpoint} into {options.extension} (test call {a_uuid})\n")
        call.command(originate)
        try:
            outcome = call.run(steps, job_uuid)
        except BaseException:
            # Interrupted or failed mid-call (Ctrl-C too): a parked test call would stay up.
            call.abandon()
            raise
    finally:
        _close(client)
    out.write(f"result: {outcome}\n")
    if expectation is None:
        return 0 if outcome != "none" else 1
    met = expectation.met_by(outcome)
    out.write(f"expected {expectation}: {'yes' if met else 'NO'}\n")
    return 0 if met else 1


def _steps(script: str) -> list[tuple[str, str]]:
    try:
        return parse_script(script)
    except ScriptError as exc:
        raise DialError(str(exc)) from None


def _schedule(steps: list[tuple[str, str]]) -> list[tuple[float, str, str]]:
    """Each key or hangup step at its second from the answer; waits add up, keys take no time."""
    at = 0.0
    schedule = []
    for kind, value in steps:
        if kind == "wait":
            at += float(value)
        else:
            schedule.append((at, kind, value))
    return schedule


def _connect(options: DialOptions) -> Any:
    client = InboundESL(options.host, options.port, options.password, timeout=options.connect_timeout)
    where = f"{options.host}:{options.port}"
    try:
        with gevent.Timeout(options.connect_timeout):
            client.connect()
    except gevent.Timeout:
        _close(client)
        raise DialError(f"{where} did not greet within {options.connect_timeout:g} s (is it an event socket?)") from None
    except NotConnectedError as exc:
        _close(client)
        if "timed out" in str(exc):
            raise DialError(f"cannot connect to {where}: timed out") from None
        raise DialError(
            f"{where} closed the connection before authentication (an event socket ACL refusing this address?)"
        ) from None
    except ValueError:
        _close(client)
        raise DialError(f"{where} refused the event socket password") from None
    except OSError as exc:
        raise DialError(f"cannot connect to {where}: {exc.strerror or exc}") from None
    return client


def _close(client: Any) -> None:
    """``exit``, then drop the connection; every step is bounded."""
    if getattr(client, "connected", False):
        with gevent.Timeout(2, False):
            client.send("exit")
    client.connected = False
    client._run = False  # greenswitch's loops check this flag; stop() would wait for them
    sock = getattr(client, "sock", None)
    if sock is not None:
        sock.close()


class _TestCall:
    """The originated call: its legs, its clock and what has been printed."""

    def __init__(self, client: Any, options: DialOptions, a_uuid: str, out: TextIO) -> None:
        self.client = client
        self.options = options
        self.a_uuid = a_uuid
        self.out = out
        self.menu_uuid: str | None = None if options.dial_string is None else a_uuid
        self.events: gevent.queue.Queue[Any] = gevent.queue.Queue()
        client.register_handle("*", self.events.put)
        self.answered_us: int | None = None
        self.answered_at: float | None = None
        self.hung_up_by_us = False

    def command(self, command: bytes, *, refusal_ok: bool = False) -> str:
        """Send one command (builders end it in a blank line; greenswitch adds its own)."""
        text = command.decode("utf-8")
        try:
            with gevent.Timeout(self.options.connect_timeout):
                reply = self.client.send(text[:-2])
        except gevent.Timeout:
            raise DialError(f"no reply to {text.split()[0]!r} within {self.options.connect_timeout:g} s") from None
        except NotConnectedError:
            raise DialError("the switch closed the event socket") from None
        data = str(getattr(reply, "data", ""))
        if data.startswith("-ERR") and not refusal_ok:
            raise DialError(f"{text.split()[0]} refused: {data.strip()}")
        return data

    # Clock ---------------------------------------------------------------------------

    def call_seconds(self) -> float:
        assert self.answered_at is not None
        return (time.monotonic() - self.answered_at) / self.options.time_scale

    def event_seconds(self, headers: dict[str, str]) -> float:
        """Seconds from the answer by the switch's own clock (events come in 20 ms batches)."""
        stamp = headers.get("Event-Date-Timestamp", "")
        if self.answered_us is None or not stamp.isdigit():
            return self.call_seconds() if self.answered_at is not None else 0.0
        return (int(stamp) - self.answered_us) / 1e6 / self.options.time_scale

    def say(self, at: float, text: str) -> None:
        self.out.write(f"{at:8.3f}  {text}\n")
        self.out.flush()

    # The call ------------------------------------------------------------------------

    def run(self, steps: list[tuple[str, str]], job_uuid: str) -> str:
        """Follow the call to its transfer or hangup and return the outcome."""
        answer_deadline = time.monotonic() + 60 * self.options.time_scale + self.options.connect_timeout
        pending = _schedule(steps)
        while True:
            now = time.monotonic()
            if self.answered_at is None:
                if now > answer_deadline:
                    raise DialError("the call was not answered within 60 s")
                wait = answer_deadline - now
            else:
                end = self.answered_at + self.options.timeout * self.options.time_scale
                if now >= end:
                    self.say(self.call_seconds(), f"no transfer or hangup within {self.options.timeout:g} s")
                    self.hang_up()
                    return "none"
                due = self.answered_at + pending[0][0] * self.options.time_scale if pending else end
                if now >= due:
                    self._act(pending.pop(0)[1:])
                    continue
                wait = min(end, due) - now
            try:
                event = self.events.get(timeout=max(wait, 0.0))
            except gevent.queue.Empty:
                continue
            outcome = self._on_event(event.headers, job_uuid)
            if outcome is not None:
                return outcome

    def _act(self, step: tuple[str, str]) -> None:
        kind, value = step
        if kind == "keys":
            self.say(self.call_seconds(), f"caller presses {value}")
            if self.options.dial_string is None:
                # The A leg "presses" the keys: they reach the menu's leg as the caller's DTMF.
                self.command(esl.uuid_send_dtmf(self.a_uuid, value))
            else:
                self.command(esl.uuid_recv_dtmf(self.a_uuid, value))
        elif kind == "hangup":
            self.say(self.call_seconds(), "caller hangs up")
            self.hang_up()

    def abandon(self) -> None:
        """Hang up the test call if the switch still listens; never raises."""
        try:
            self.hang_up()
        except DialError:
            pass

    def hang_up(self) -> None:
        if not self.hung_up_by_us:
            self.hung_up_by_us = True
            # The call may already be gone (the target hung up): that is not an error.
            self.command(esl.uuid_kill(self.a_uuid), refusal_ok=True)

    def _on_event(self, headers: dict[str, str], job_uuid: str) -> str | None:
        if headers.get("Content-Type") == "text/disconnect-notice":
            raise DialError("the switch closed the event socket")
        name = headers.get("Event-Name", "")
        if name == "BACKGROUND_JOB":
            return self._on_job(headers, job_uuid)
        unique_id = headers.get("Unique-ID")
        if self.menu_uuid is None and name == "CHANNEL_CREATE" and unique_id != self.a_uuid:
            if unique_id and headers.get("variable_other_loopback_leg_uuid") == self.a_uuid:
                self.menu_uuid = unique_id
                self.command(esl.filter_("Unique-ID", unique_id))
            return None
        if unique_id != self.menu_uuid:
            return None
        handler: Callable[[dict[str, str], float], str | None] | None = getattr(self, f"_on_{name.lower()}", None)
        return None if handler is None else handler(headers, self.event_seconds(headers))

    def _on_job(self, headers: dict[str, str], job_uuid: str) -> str | None:
        if headers.get("Job-UUID") != job_uuid:
            return None
        # greenswitch folds an event's own body into its last header (here Content-Length).
        result = headers.get("Content-Length", "").partition("\n")[2].strip()
        if result.startswith("-ERR"):
            raise DialError(f"originate failed: {result}")
        return None

    def _on_channel_answer(self, headers: dict[str, str], at: float) -> str | None:
        if self.options.dial_string is None:
            self._answered(headers)
        else:
            # The called leg picked up; the menu starts once the dialplan has sent it there.
            self.say(0.0, f"{self.options.dial_string} answered")
        return None

    def _answered(self, headers: dict[str, str]) -> None:
        """The menu answered: the clock and the caller script start here."""
        if self.answered_at is None:
            self.answered_at = time.monotonic()
            stamp = headers.get("Event-Date-Timestamp", "")
            self.answered_us = int(stamp) if stamp.isdigit() else None
            self.say(0.0, "answered")

    def _on_channel_execute(self, headers: dict[str, str], at: float) -> str | None:
        app = headers.get("Application", "")
        data = headers.get("Application-Data", "")
        if app == "socket" and self.options.dial_string is not None:
            # A leg answered already gets no answer from ivrflow: its menu starts with the socket.
            self._answered(headers)
        elif app in _PROMPTS:
            self.say(at, f"prompt started: {app} {data}")
        elif app == "transfer":
            destination = data.split()[0] if data else ""
            self.say(at, f"transfer to {destination} ({data}); hanging up the test call")
            self.hang_up()
            return f"transfer:{destination}"
        elif app == "bridge":
            legs = [leg.rsplit("/", 1)[-1].split("@")[0] for leg in data.split("}")[-1].split(",")]
            self.say(at, f"bridge to {data}; hanging up the test call")
            self.hang_up()
            return "transfer:" + ",".join(legs)
        return None

    def _on_channel_execute_complete(self, headers: dict[str, str], at: float) -> str | None:
        app = headers.get("Application", "")
        if app in _PROMPTS:
            how = headers.get("Application-Response", "")
            key = headers.get("variable_playback_terminator_used")
            stopped = f", stopped by {key}" if key and app == "playback" else ""
            self.say(at, f"prompt stopped: {app} {headers.get('Application-Data', '')} ({how}{stopped})")
        return None

    def _on_dtmf(self, headers: dict[str, str], at: float) -> str | None:
        self.say(at, f"switch got key {headers.get('DTMF-Digit', '?')}")
        return None

    def _on_channel_hangup(self, headers: dict[str, str], at: float) -> str | None:
        cause = headers.get("Hangup-Cause", "")
        if self.answered_at is None:
            raise DialError(f"the call ended before it was answered ({cause}): is the menu's extension routed to ivrflow?")
        if self.hung_up_by_us:
            self.say(at, f"hung up by the caller ({cause})")
            return "caller_hangup"
        self.say(at, f"the call is hung up ({cause})")
        return "hangup"
