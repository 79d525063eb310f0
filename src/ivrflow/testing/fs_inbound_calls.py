"""The channels an emulated ``originate`` makes, and the ``api`` commands that act on them.

``originate`` of a loopback leg (``loopback/EXT/CONTEXT &park()``) creates the
A leg here and a B leg that runs the extension: the emulated ``socket`` app,
an :class:`.fs_emulator.EmulatedCall` against the runtime at the extension's
address.  ``originate`` of another dial string into an extension (``user/1000
071 XML default``) makes that answered leg run the extension itself.  The A
leg follows the B leg as mod_loopback does (answer, hangup); the order of its
events around the B leg's hangup is inferred, not captured.
"""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import gevent
import gevent.event

from .fs_channel import Channel, HostIdentity, default_profile, now_us
from .fs_emulator import EmulatedCall
from .fs_script import CallScript, Key

__all__ = ["Channels", "OriginatedCall"]

NO_SUCH_CHANNEL = "-ERR No such channel!\n"
_ENDPOINT_TYPES = ("user/", "sofia/")


class Fire(Protocol):
    def __call__(self, channel: Channel, name: str, extra: Sequence[tuple[str, str]] = ()) -> None: ...


@dataclass(slots=True)
class OriginatedCall:
    """One ``originate``: the leg it returned (A) and the emulated call running the menu."""

    a_uuid: str
    menu: EmulatedCall
    # The loopback A leg; None when the dialed leg itself runs the extension.
    a_leg: Channel | None
    answered: gevent.event.Event = field(default_factory=gevent.event.Event)
    greenlet: gevent.Greenlet | None = None
    socket_closed: bool = False
    # The application the A leg runs after answer: its Application headers and uuid.
    a_app: tuple[list[tuple[str, str]], str] | None = None

    @property
    def menu_uuid(self) -> str:
        return self.menu.channel.unique_id


class Channels:
    """The calls originated on the emulated switch; ``fire`` delivers their events to the listeners."""

    def __init__(self, extensions: Mapping[str, tuple[str, int]], script: CallScript, host: HostIdentity, fire: Fire) -> None:
        self.extensions = dict(extensions)
        self.script = script
        self.host = host
        self.fire = fire
        self.calls: list[OriginatedCall] = []

    def run_api(self, command: str, arg: str) -> str:
        args = arg.split()
        if command == "originate":
            return self._originate(arg)
        if command == "uuid_exists":
            call, _ = self._find(args[0] if args else "")
            return "true" if call is not None else "false"
        if command in ("uuid_send_dtmf", "uuid_recv_dtmf", "uuid_kill"):
            call, leg = self._find(args[0] if args else "")
            if call is None:
                return NO_SUCH_CHANNEL
            if command == "uuid_kill":
                self._kill(call, leg, args[1] if len(args) > 1 else "NORMAL_CLEARING")
                return "+OK\n"
            if len(args) < 2:
                return f"-ERR Usage: {command} <uuid> <dtmf_data>\n"
            self._dtmf(call, leg, args[1], towards_peer=command == "uuid_send_dtmf")
            verb = "sent" if command == "uuid_send_dtmf" else "received"
            return f"+OK {args[0]} {verb} DTMF {args[1]}.\n"
        return f"-ERR {command} Command not found!\n"

    def _find(self, uuid: str) -> tuple[OriginatedCall | None, str]:
        """The live call owning leg ``uuid`` and which leg it is: "a" or "menu"."""
        for call in self.calls:
            if call.menu_uuid == uuid and call.menu.channel.ready:
                return call, "menu"
            if call.a_leg is not None and call.a_uuid == uuid and call.a_leg.ready:
                return call, "a"
        return None, ""

    def _dtmf(self, call: OriginatedCall, leg: str, spec: str, *, towards_peer: bool) -> None:
        digits, _, duration = spec.partition("@")
        samples = int(duration) * 8 if duration.isdigit() else 2000
        # uuid_send_dtmf on a loopback A leg reaches the B leg (DTMF-Source UNKNOWN);
        # on the leg running the menu it goes to the far end, which is nobody here.
        source = "UNKNOWN" if towards_peer else "APP"
        if (leg == "a") == towards_peer:
            call.menu.session.receive_digits(Key(call.menu.now(), digits, source, samples))
        elif call.a_leg is not None:
            # The parked A leg dequeues and events the digits at once.
            for digit in digits:
                self.fire(call.a_leg, "DTMF", [("DTMF-Digit", digit), ("DTMF-Duration", str(samples)), ("DTMF-Source", source)])

    def _kill(self, call: OriginatedCall, leg: str, cause: str) -> None:
        if leg == "a" and call.a_leg is not None:
            self._hang_up_a(call, cause)
        call.menu.session.hangup(cause, "caller")

    # originate ----------------------------------------------------------------------

    def _originate(self, arg: str) -> str:
        words = _split_args(arg)
        if len(words) < 2:
            return "-ERR INVALID_ARGUMENT\n"
        variables, endpoint = _split_variables(words[0])
        a_uuid = variables.get("origination_uuid") or str(uuid_mod.uuid4())
        cid_number = variables.get("origination_caller_id_number", "0000000000")
        cid_name = variables.get("origination_caller_id_name", "FreeSWITCH")
        if endpoint.startswith("loopback/"):
            if not words[1].startswith("&"):
                return "-ERR INVALID_ARGUMENT\n"
            parts = endpoint.split("/")
            extension, context = parts[1], parts[2] if len(parts) > 2 and parts[2] else "default"
            loopback = True
        elif endpoint.startswith(_ENDPOINT_TYPES) and not words[1].startswith("&"):
            extension = words[1]
            context = words[3] if len(words) > 3 else "default"
            loopback = False
        else:
            return "-ERR CHAN_NOT_IMPLEMENTED\n"
        address = self.extensions.get(extension)
        if address is None:
            return "-ERR NO_ROUTE_DESTINATION\n"
        call = self._place(address, endpoint, a_uuid, extension, context, cid_number, cid_name, loopback)
        timeout = float(variables.get("originate_timeout", "60")) * self.script.time_scale
        if not call.answered.wait(timeout):
            self._kill(call, "a" if loopback else "menu", "NO_ANSWER")
            return "-ERR NO_ANSWER\n"
        if not call.menu.channel.ready:
            return f"-ERR {call.menu.channel.hangup_cause}\n"
        if call.a_leg is not None:
            gevent.spawn(self._run_a_app, call, words[1])
        return f"+OK {a_uuid}\n"

    def _place(
        self,
        address: tuple[str, int],
        endpoint: str,
        a_uuid: str,
        extension: str,
        context: str,
        cid_number: str,
        cid_name: str,
        loopback: bool,
    ) -> OriginatedCall:
        menu_uuid = str(uuid_mod.uuid4()) if loopback else a_uuid
        variables = {
            **self.script.variables,
            "origination_uuid": a_uuid,
            "origination_caller_id_number": cid_number,
            "origination_caller_id_name": cid_name,
        }
        if loopback:
            # mod_loopback: the B leg inherits the originate variables and names its peer.
            variables |= {"other_loopback_leg_uuid": a_uuid, "loopback_leg": "B"}
        script = replace(
            self.script,
            unique_id=menu_uuid,
            caller_id_number=cid_number,
            caller_id_name=cid_name,
            destination_number=extension,
            context=context,
            channel_name=f"loopback/{extension}-b" if loopback else endpoint,
            variables=variables,
            socket_app_data=f"{address[0]}:{address[1]} async full",
        )
        holder: list[OriginatedCall] = []
        menu = EmulatedCall(script, lambda name, extra: self._menu_event(holder[0], name, extra))
        a_leg = self._a_leg(a_uuid, menu_uuid, extension, context, cid_number, cid_name) if loopback else None
        call = OriginatedCall(a_uuid, menu, a_leg)
        holder.append(call)
        self.calls.append(call)
        if a_leg is not None:
            self.fire(a_leg, "CHANNEL_CREATE")
        else:
            # The dialed phone answered; the answered leg is then routed to the extension.
            menu.channel.direction = "outbound"
            menu.channel.answer_state = "answered"
            menu.channel.call_state = "ACTIVE"
            menu.record.answered = True
        self.fire(menu.channel, "CHANNEL_CREATE")
        if a_leg is None:
            self.fire(menu.channel, "CHANNEL_ANSWER")
            call.answered.set()
        self.fire(
            menu.channel,
            "CHANNEL_EXECUTE",
            [
                ("Application", "socket"),
                ("Application-Data", script.resolved_socket_app_data()),
                ("Application-UUID", menu.session.socket_app_uuid),
            ],
        )
        call.greenlet = gevent.spawn(self._run_menu, call, address)
        return call

    def _a_leg(self, a_uuid: str, b_uuid: str, extension: str, context: str, number: str, name: str) -> Channel:
        channel_name = f"loopback/{extension}-a"
        profile = default_profile(
            unique_id=a_uuid,
            caller_id_name=name,
            caller_id_number=number,
            destination_number=extension,
            context=context,
            channel_name=channel_name,
            created_us=now_us(),
        )
        profile = [(k, "outbound" if k in ("Direction", "Logical-Direction") else v) for k, v in profile]
        channel = Channel(
            unique_id=a_uuid,
            channel_name=channel_name,
            profile=profile,
            variables=[
                ("direction", "outbound"),
                ("is_outbound", "true"),
                ("channel_name", channel_name),
                ("uuid", a_uuid),
                ("call_uuid", a_uuid),
                ("origination_uuid", a_uuid),
                ("origination_caller_id_number", number),
                ("origination_caller_id_name", name),
                ("originate_endpoint", "loopback"),
                ("other_loopback_leg_uuid", b_uuid),
                ("loopback_leg", "A"),
            ],
            host=self.host,
        )
        channel.direction = "outbound"
        channel.running_state = "CS_INIT"
        channel.set_state_number("CS_INIT")
        channel.call_state = "DOWN"
        return channel

    def _run_menu(self, call: OriginatedCall, address: tuple[str, int]) -> None:
        try:
            call.menu.run(address)
        except OSError:
            # The socket app found nobody listening: it returns and the dialplan ends.
            call.menu.session.hangup("NORMAL_CLEARING", "command")
        call.socket_closed = True
        if not call.menu.channel.ready:
            self.fire(call.menu.channel, "CHANNEL_DESTROY")

    def _run_a_app(self, call: OriginatedCall, app: str) -> None:
        a_leg = call.a_leg
        assert a_leg is not None
        name, _, rest = app[1:].partition("(")
        a_leg.set_var("current_application", name)
        head = [("Application", name)]
        if rest.rstrip(")"):
            head.append(("Application-Data", rest.rstrip(")")))
        call.a_app = (head, str(uuid_mod.uuid4()))
        self.fire(a_leg, "CHANNEL_EXECUTE", [*head, ("Application-UUID", call.a_app[1])])

    def _hang_up_a(self, call: OriginatedCall, cause: str) -> None:
        a_leg = call.a_leg
        if a_leg is None or not a_leg.ready:
            return
        a_leg.hangup_cause = cause
        a_leg.answer_state = "hangup"
        self.fire(a_leg, "CHANNEL_HANGUP")
        if call.a_app is not None:
            head, app_uuid = call.a_app
            self.fire(a_leg, "CHANNEL_EXECUTE_COMPLETE", [*head, ("Application-Response", "_none_"), ("Application-UUID", app_uuid)])
        a_leg.running_state = "CS_REPORTING"
        a_leg.set_state_number("CS_REPORTING")
        self.fire(a_leg, "CHANNEL_HANGUP_COMPLETE")
        self.fire(a_leg, "CHANNEL_DESTROY")

    def _menu_event(self, call: OriginatedCall, name: str, extra: Sequence[tuple[str, str]]) -> None:
        """Every event of the menu's channel, as it fires; the loopback A leg follows it."""
        a_leg = call.a_leg
        if name == "CHANNEL_ANSWER" and a_leg is not None and a_leg.answer_state != "answered":
            # mod_loopback answers A when B answers; A's event comes first (transcript 01).
            a_leg.answer_state = "answered"
            a_leg.call_state = "ACTIVE"
            a_leg.running_state = "CS_CONSUME_MEDIA"
            a_leg.set_state_number("CS_CONSUME_MEDIA")
            a_leg.set_profile("Channel-Answered-Time", str(now_us()))
            self.fire(a_leg, "CHANNEL_ANSWER")
        self.fire(call.menu.channel, name, extra)
        if name == "CHANNEL_ANSWER":
            call.answered.set()
        elif name == "CHANNEL_HANGUP":
            call.answered.set()
            self._hang_up_a(call, call.menu.channel.hangup_cause or "NORMAL_CLEARING")
            if call.socket_closed:
                # Released after a transfer: nothing runs the channel's teardown any more.
                self.fire(call.menu.channel, "CHANNEL_HANGUP_COMPLETE")
                self.fire(call.menu.channel, "CHANNEL_DESTROY")


def _split_args(text: str) -> list[str]:
    """Split on spaces outside ``{...}`` and single quotes, as originate reads its arguments."""
    words: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    for char in text:
        if char == "'":
            quoted = not quoted
        elif char == "{" and not quoted:
            depth += 1
        elif char == "}" and not quoted:
            depth -= 1
        if char == " " and depth == 0 and not quoted:
            if current:
                words.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def _split_variables(url: str) -> tuple[dict[str, str], str]:
    """``{a=1,b='x y'}endpoint`` -> ({a: 1, b: x y}, endpoint)."""
    if not url.startswith("{") or "}" not in url:
        return {}, url
    end = url.index("}")
    variables: dict[str, str] = {}
    for pair in url[1:end].split(","):
        name, _, value = pair.partition("=")
        variables[name.strip()] = value.strip("'")
    return variables, url[end + 1 :]
