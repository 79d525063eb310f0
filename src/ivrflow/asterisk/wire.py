"""What ivrflow puts on ARI, checked before the wire: media URIs, extensions, variables, hangup causes."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from ..calls.switch import UnsafeValue
from ..menu.sound_paths import sound_path

_EXTENSION = re.compile(r"[0-9A-Za-z+*#_-]{1,64}")
_CONTEXT = re.compile(r"[0-9A-Za-z_-]{1,80}")
_VARIABLE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9*#]{1,64}")
# Channel variables Asterisk acts on by itself when set: refused as menu variables.
_ACTED_ON = frozenset({
    "TRANSFER_CONTEXT", "FORWARD_CONTEXT", "GOSUB_RESULT", "LIMIT_PLAYAUDIO_CALLER", "AUTOLOOP", "MACRO_CONTEXT",
    "STASISSTATUS", "DIALSTATUS", "BRIDGEPEER", "MOHCLASS", "CHANNEL", "SHARED", "CDR", "CALLERID", "CONNECTEDLINE",
})

# Engine (FreeSWITCH-style) hangup causes and their Q.850 codes, which ARI's `reason_code` takes.
Q850 = {
    "UNALLOCATED_NUMBER": 1, "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19,
    "CALL_REJECTED": 21, "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "NORMAL_UNSPECIFIED": 31,
    "NORMAL_CIRCUIT_CONGESTION": 34, "NORMAL_TEMPORARY_FAILURE": 41, "SERVICE_UNAVAILABLE": 63, "RECOVERY_ON_TIMER_EXPIRE": 102,
    "INTERWORKING": 127, "ANSWERED_ELSEWHERE": 26,
}
CAUSE_NAMES = {code: name for name, code in Q850.items()}


def q850(cause: str) -> int:
    return Q850.get(cause, 16)


def cause_name(code: object) -> str:
    return CAUSE_NAMES.get(code if isinstance(code, int) else -1, "NORMAL_CLEARING")


def sound_uri(sound_dir: Path, filename: str) -> str:
    """`sound:/abs/path/without/extension`, as Asterisk takes a file outside its own sound directory."""
    if "," in filename or _CONTROL.search(filename):
        # A comma would split one media into a media list.
        raise UnsafeValue(f"sound file name {filename!r} has a comma or a control character")
    try:
        path = sound_path(sound_dir, filename)
    except ValueError as exc:
        raise UnsafeValue(str(exc)) from exc
    return "sound:" + str(PurePosixPath(path).with_suffix(""))


def digits_uri(digits: str, method: str) -> str:
    if not _DIGITS.fullmatch(digits):
        raise UnsafeValue(f"not digits to say: {digits!r}")
    return f"{'number' if method == 'pronounced' else 'digits'}:{digits}"


def extension(destination: str) -> str:
    if not _EXTENSION.fullmatch(destination):
        raise UnsafeValue(f"not a dialplan extension: {destination!r}")
    return destination


def context(name: str) -> str:
    if not _CONTEXT.fullmatch(name):
        raise UnsafeValue(f"not a dialplan context: {name!r}")
    return name


def variable_name(name: str) -> str:
    if not _VARIABLE.fullmatch(name) or name.upper() in _ACTED_ON:
        raise UnsafeValue(f"variable name {name!r} is not a plain channel variable ivrflow may set")
    return name


def plain_value(value: str) -> str:
    if _CONTROL.search(value):
        raise UnsafeValue(f"value {value!r} has a control character")
    return value


def dial_endpoint(template: str, number: str) -> str:
    """The endpoint one destination is dialed on: the template with `{number}` replaced."""
    endpoint = template.replace("{number}", extension(number))
    if _CONTROL.search(endpoint) or "," in endpoint or "&" in endpoint:
        raise UnsafeValue(f"dial endpoint {endpoint!r} has a control character, comma or '&'")
    return endpoint


def check_dial_template(template: str) -> str:
    """At load: one `{number}`, a `TECH/resource` shape, nothing that splits a dial string."""
    if template.count("{number}") != 1 or "/" not in template.split("{number}")[0]:
        raise ValueError(f"dial template {template!r} must look like TECH/...{{number}}... with one {{number}}")
    dial_endpoint(template, "1")
    return template
