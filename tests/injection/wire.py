"""What may cross the socket to FreeSWITCH: every command ivrflow sends, checked for its shape."""

from __future__ import annotations

import re

from ivrflow.menu.model import DIALABLE, VARIABLE_NAME
from ivrflow.menu.switch_variables import refusal
from ivrflow.testing.fs_command_reader import ClientCommand

COMMANDS = {"connect", "myevents", "nixevent", "event", "linger", "nolinger", "exit", "sendmsg", "api"}
HEADERS = {"call-command", "execute-app-name", "execute-app-arg", "event-uuid", "event-lock", "loops",
           "content-type", "content-length", "hangup-cause"}
APPS = {"answer", "playback", "say", "export", "set", "transfer", "bridge"}
# What ivrflow itself sets with `set` (caller id rules, bridge control); a menu's variables go by `export`.
RUNTIME_SET = re.compile(r"(effective_caller_id_(number|name)|continue_on_fail|hangup_after_bridge)")
SAY = re.compile(r"%\[playback_terminators=(any|none)\][a-z]{2} number (iterated|pronounced) [0-9*#]{1,64}")
LEG_UUID = r"\[origination_uuid=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\]"
RING_TIMEOUT = re.compile(r"^\{originate_timeout=[0-9]{1,3}\}")
PLAYBACK = re.compile(r"%\[playback_terminators=(any|none)\](/[^\s%]+|silence_stream://[0-9]+)")


def problems(command: ClientCommand, sound_dir: str, bridge_template: str, contexts: set[str]) -> list[str]:
    """Everything wrong with one command; empty when it is one of ivrflow's own, well-formed."""
    found = []
    raw = command.raw.decode("utf-8", "replace")
    if re.search(r"[\x00-\x09\x0b-\x1f\x7f\u2028\u2029]", raw):
        found.append("control character on the wire")
    if "${" in raw:
        found.append("'${' on the wire")
    if command.name not in COMMANDS:
        found.append(f"unknown command {command.line!r}")
    extra = set(command.headers) - HEADERS
    if extra:
        found.append(f"unexpected headers {sorted(extra)}")
    if command.headers.get("call-command") == "execute":
        found.extend(_app_problems(command, sound_dir, bridge_template, contexts))
    return found


def _app_problems(command: ClientCommand, sound_dir: str, bridge_template: str, contexts: set[str]) -> list[str]:
    app = command.headers.get("execute-app-name", "")
    arg = command.headers.get("execute-app-arg") or command.body.decode("utf-8", "replace")
    if app not in APPS:
        return [f"unexpected application {app!r}"]
    if app in ("export", "set"):
        name, sep, _value = arg.partition("=")
        if not sep or not VARIABLE_NAME.fullmatch(name):
            return [f"{app} of a malformed variable {arg[:60]!r}"]
        if app == "export" and refusal(name) is not None:
            return [f"export of a switch-acting variable {name!r}"]
        if app == "set" and not RUNTIME_SET.fullmatch(name):
            return [f"set of {name!r}, not one of ivrflow's own"]
        return []
    if app == "transfer":
        words = arg.split(" ")
        if len(words) != 3 or not DIALABLE.fullmatch(words[0]) or words[1] != "XML" or words[2] not in contexts:
            return [f"transfer argument {arg[:80]!r} is not DEST XML CONTEXT"]
        return []
    if app == "bridge":
        # the operator's template (checked at start-up) around each dialable destination
        # around each dialable destination, named by the uuid ivrflow chose; a ring timeout may lead
        leg = re.compile(LEG_UUID + re.escape(bridge_template).replace(re.escape("{number}"), r"\+?[0-9*#]{1,32}"))
        legs = RING_TIMEOUT.sub("", arg, count=1)
        if "|" in legs or not all(leg.fullmatch(part) for part in legs.split(",")):
            return [f"bridge argument {arg[:80]!r} is not one plain leg per destination"]
        return []
    if app == "say":
        return [] if SAY.fullmatch(arg) else [f"say argument {arg[:80]!r}"]
    if app == "playback":
        match = PLAYBACK.fullmatch(arg)
        if match is None or (match.group(2).startswith("/") and not match.group(2).startswith(sound_dir + "/")):
            return [f"playback argument {arg[:80]!r} is not a file in the sound directory"]
    return []
