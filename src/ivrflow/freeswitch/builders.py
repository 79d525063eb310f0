"""Pure builders for the commands an outbound-socket runtime sends (bytes out, no I/O).

Every value that lands in a command line or a header is checked before it is
written: FreeSWITCH frames commands by ``\\n`` and splits ``api`` arguments by
spaces, so a stray newline, control byte or space in a caller-controlled value
would let it forge headers or extra arguments.  A violation raises
:class:`UnsafeArgument` naming the field; nothing is ever silently escaped.

Application arguments that cannot travel in a header (too long, or with
leading blanks FreeSWITCH would strip) go in a ``text/plain`` body, the form
FreeSWITCH accepts for ``sendmsg`` (captured in transcript 15).

One module past 400 lines: every builder, outbound and inbound, passes its
values through the same few checks defined here, and they are read together.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from ..menu.switch_variables import refusal

__all__ = [
    "MAX_HEADER_ARG_BYTES",
    "UnsafeArgument",
    "api",
    "bgapi",
    "bridge_arg",
    "check_bridge_template",
    "check_context",
    "check_password",
    "check_sound_dir",
    "connect",
    "detect_speech_arg",
    "event_plain",
    "execute",
    "exit_",
    "export_arg",
    "filter_",
    "getvar",
    "hangup",
    "hangup_arg",
    "linger",
    "myevents",
    "nixevent",
    "nolinger",
    "originate_args",
    "playback_arg",
    "say_digits_arg",
    "set_arg",
    "silence_arg",
    "speak_arg",
    "transfer_arg",
    "uuid_break",
    "uuid_getvar",
    "uuid_kill",
    "uuid_recv_dtmf",
    "uuid_send_dtmf",
]

# Longer application arguments are sent as a body rather than a header line.
MAX_HEADER_ARG_BYTES = 1024

# ASCII and C1 controls, and the Unicode line breaks some readers split on.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# What a token may not hold: blanks and the controls above, in one search.
_NOT_TOKEN = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_CAUSE = re.compile(r"[A-Z0-9_]+")
_TERMINATORS = re.compile(r"[0-9*#]+")
_DIGITS = re.compile(r"[0-9*#]+")
_LANGUAGE = re.compile(r"[a-z]{2}(?:[_-][A-Za-z]{2})?")
# Dial-string syntax that would change the meaning of a bridge target.
_DIAL_META = frozenset(",|[]{}<>^'\"")
_PLAYBACK_TERMINATOR_WORDS = frozenset({"any", "none"})
_SAY_METHODS = frozenset({"iterated", "pronounced", "counted"})


class UnsafeArgument(ValueError):
    """A value that would break or alter the command it was meant for."""

    def __init__(self, field: str, reason: str, value: str) -> None:
        super().__init__(f"{field}: {reason} (got {value[:60]!r})")
        self.field = field
        self.reason = reason


def _no_control(field: str, value: str) -> str:
    if _CONTROL.search(value):
        raise UnsafeArgument(field, "control characters (CR, LF, NUL...) are not allowed", value)
    return value


def _token(field: str, value: str) -> str:
    """One argument: non-empty, no whitespace, no control characters."""
    if value and not _NOT_TOKEN.search(value):
        return value
    _no_control(field, value)  # the control characters' message first
    raise UnsafeArgument(field, "must be one non-empty word without spaces", value)


def _match(field: str, pattern: re.Pattern[str], value: str, what: str) -> str:
    # Every pattern here admits neither blanks nor controls and needs a character:
    # a match is a token too, and only a refused value needs _token's message.
    if pattern.fullmatch(value):
        return value
    _token(field, value)
    raise UnsafeArgument(field, f"must be {what}", value)


def _no_expansion(field: str, value: str) -> str:
    # FreeSWITCH expands ${...} in application arguments, and ${api(...)} runs
    # an API command: caller data must never reach that expander.
    if "${" in value:
        raise UnsafeArgument(field, "'${' would be expanded by FreeSWITCH", value)
    return value


def _command(line: str, headers: Sequence[tuple[str, str]] = (), body: bytes | None = None) -> bytes:
    parts = [line, *(f"{name}: {value}" for name, value in headers)]
    head = ("\n".join(parts) + "\n\n").encode("utf-8")
    return head if body is None else head + body


def connect() -> bytes:
    return b"connect\n\n"


def myevents() -> bytes:
    """Subscribe to this channel's events in the plain format."""
    return b"myevents\n\n"


_EVENT_NAME = re.compile(r"[A-Z][A-Z_]*")


def nixevent(*names: str) -> bytes:
    """Stop receiving these event types (needs ``full``); after ``myevents``, it narrows it."""
    if not names:
        raise UnsafeArgument("nixevent", "at least one event name is required", "")
    return _command("nixevent " + " ".join(_match("event name", _EVENT_NAME, n, "an event name") for n in names))


def linger(seconds: int | None = None) -> bytes:
    """Keep the socket open after hangup; no argument means until we ``exit``."""
    if seconds is None:
        return b"linger\n\n"
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
        raise UnsafeArgument("linger", "must be a positive number of seconds", repr(seconds))
    return b"linger %d\n\n" % seconds


def nolinger() -> bytes:
    return b"nolinger\n\n"


def exit_() -> bytes:
    return b"exit\n\n"


def getvar(name: str) -> bytes:
    return _command(f"getvar {_match('variable name', _NAME, name, 'a variable name')}")


def _sendmsg_line(uuid: str | None) -> str:
    return "sendmsg" if uuid is None else f"sendmsg {_token('uuid', uuid)}"


def execute(
    app: str,
    arg: str | None = None,
    *,
    event_uuid: str,
    event_lock: bool = False,
    loops: int | None = None,
    uuid: str | None = None,
    allow_expansion: bool = False,
) -> bytes:
    """``sendmsg`` ``call-command: execute`` of one dialplan application.

    ``event_uuid`` comes back as ``Application-UUID`` on CHANNEL_EXECUTE and
    CHANNEL_EXECUTE_COMPLETE; it is the only reliable way to match them.
    """
    headers = [
        ("call-command", "execute"),
        ("execute-app-name", _match("app name", _NAME, app, "an application name")),
    ]
    body: bytes | None = None
    if arg is not None and arg != "":
        _no_control("app arg", arg)
        if not allow_expansion:
            _no_expansion("app arg", arg)
        raw = arg.encode("utf-8")
        # FreeSWITCH strips leading blanks of a header value, so such an
        # argument only survives intact as a body.
        if len(raw) > MAX_HEADER_ARG_BYTES or arg[0] in " \t":
            body = raw
        else:
            headers.append(("execute-app-arg", arg))
    headers.append(("Event-UUID", _token("event uuid", event_uuid)))
    if event_lock:
        headers.append(("event-lock", "true"))
    if loops is not None:
        if isinstance(loops, bool) or not isinstance(loops, int) or not (loops == -1 or loops >= 1):
            raise UnsafeArgument("loops", "must be -1 or a positive count", repr(loops))
        headers.append(("loops", str(loops)))
    if body is not None:
        headers.append(("content-type", "text/plain"))
        headers.append(("content-length", str(len(body))))
    return _command(_sendmsg_line(uuid), headers, body)


def hangup(cause: str = "NORMAL_CLEARING", *, uuid: str | None = None) -> bytes:
    """``sendmsg`` ``call-command: hangup``: not an application, so no EXECUTE events."""
    return _command(
        _sendmsg_line(uuid),
        [("call-command", "hangup"), ("hangup-cause", _match("hangup cause", _CAUSE, cause, "a cause name"))],
    )


def _api_words(command: str, args: Sequence[str]) -> str:
    words = [_match("api command", _NAME, command, "an api command name")]
    words.extend(_token(f"api argument {i}", a) for i, a in enumerate(args, 1))
    return " ".join(words)


def api(command: str, *args: str) -> bytes:
    """A synchronous ``api`` command (needs ``full``); every argument is one word."""
    return _command("api " + _api_words(command, args))


def bgapi(command: str, *args: str, job_uuid: str) -> bytes:
    """``bgapi``: the reply names ``job_uuid`` at once, the result comes as BACKGROUND_JOB."""
    return _command("bgapi " + _api_words(command, args), [("Job-UUID", _token("job uuid", job_uuid))])


def uuid_break(uuid: str, *, all: bool = False) -> bytes:
    """Stop the running app; ``all`` also drops every queued command (they never start)."""
    return api("uuid_break", uuid, "all") if all else api("uuid_break", uuid)


def uuid_getvar(uuid: str, name: str) -> bytes:
    return api("uuid_getvar", uuid, _match("variable name", _NAME, name, "a variable name"))


def uuid_kill(uuid: str, cause: str | None = None) -> bytes:
    if cause is None:
        return api("uuid_kill", uuid)
    return api("uuid_kill", uuid, _match("hangup cause", _CAUSE, cause, "a cause name"))


def uuid_send_dtmf(uuid: str, digits: str) -> bytes:
    """The channel sends ``digits`` to its peer (on a loopback A leg: to the B leg's menu)."""
    return api("uuid_send_dtmf", uuid, _match("dtmf digits", _DIGITS, digits, "digits from 0-9*#"))


def uuid_recv_dtmf(uuid: str, digits: str) -> bytes:
    """``digits`` arrive on the channel as if its caller had pressed them."""
    return api("uuid_recv_dtmf", uuid, _match("dtmf digits", _DIGITS, digits, "digits from 0-9*#"))


# Inbound socket --------------------------------------------------------------------


def check_password(password: str) -> str:
    """An event socket password fits on the ``auth`` line; the error never shows it."""
    if not password or _CONTROL.search(password):
        raise UnsafeArgument("password", "must be non-empty, without control characters (CR, LF...)", "<hidden>")
    return password


def event_plain(*names: str) -> bytes:
    """Subscribe to these event types in the plain format."""
    if not names:
        raise UnsafeArgument("event", "at least one event name is required", "")
    return _command("event plain " + " ".join(_match("event name", _EVENT_NAME, n, "an event name") for n in names))


def filter_(header: str, value: str) -> bytes:
    """Only events whose ``header`` equals ``value`` (filters are ORed); a value starting with '/' is a regex."""
    _match("filter header", _NAME, header, "a header name")
    if _token("filter value", value).startswith("/"):
        raise UnsafeArgument("filter value", "must not start with '/' (a regex)", value)
    return _command(f"filter {header} {value}")


_CALLER_NUMBER = re.compile(r"\+?[0-9]{1,32}")
_ENDPOINT = re.compile(r"[A-Za-z0-9_.\-]+/[A-Za-z0-9_.+@:/\-]+")


def originate_args(
    endpoint: str,
    *,
    uuid: str,
    caller_id_number: str,
    caller_id_name: str,
    extension: str,
    context: str,
    park: bool,
) -> list[str]:
    """Arguments of ``originate``: ``endpoint`` with the call's own variables, then where it goes.

    With ``park`` the new leg parks (on a ``loopback/...`` endpoint its peer runs
    the extension); otherwise the answered leg itself is sent to ``extension``.
    The endpoint is one plain dial string: no ``{}``/``[]`` variable blocks, no
    ``,``/``|`` lists, no expansion, so nothing the switch would act on slips in.
    """
    # The extension and context first: a loopback endpoint is built from them.
    destination = _dial_word("extension", extension)
    _match("context", _NAME, context, "a context name")
    _dial_word("originate endpoint", endpoint)
    if not _ENDPOINT.fullmatch(endpoint):
        raise UnsafeArgument("originate endpoint", "must look like type/target, e.g. user/1000", endpoint)
    variables = ",".join(
        (
            f"origination_uuid={_token('uuid', uuid)}",
            f"origination_caller_id_number={_match('caller id number', _CALLER_NUMBER, caller_id_number, 'digits')}",
            f"origination_caller_id_name={_match('caller id name', _NAME, caller_id_name, 'one word')}",
        )
    )
    if park:
        return ["{" + variables + "}" + endpoint, "&park()"]
    return ["{" + variables + "}" + endpoint, destination, "XML", context]


# Application arguments ---------------------------------------------------------------

# A speech module, with mod_unimrcp's optional profile: pocketsphinx, unimrcp:vendor-mrcp2.
_SPEECH_ENGINE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*(?::[A-Za-z0-9_.\-]+)?")
# detect_speech's first word selects these subcommands (mod_dptools) instead of an engine.
_DETECT_SPEECH_WORDS = frozenset(
    {"grammar", "nogrammar", "grammaron", "grammaroff", "grammarsalloff", "pause", "resume", "start_input_timers", "stop", "param"}
)
# The text speak may take: the one-line limit of a reply's TTS, with room for a menu's own.
MAX_SPEAK_CHARS = 4000


def detect_speech_arg(engine: str, grammar: str, name: str) -> str:
    """``detect_speech <engine> <grammar> <name>``: start recognition with one grammar.

    mod_dptools splits the argument on spaces, so each part is one word; the
    grammar (a name, path or URI, with an optional ``{param=value}`` prefix)
    may not hold ``${`` either.
    """
    _match("speech engine", _SPEECH_ENGINE, engine, "a speech module name, optionally with :profile")
    _no_expansion("speech grammar", _token("speech grammar", grammar))
    _match("grammar name", _NAME, name, "a grammar name")
    if engine.lower() in _DETECT_SPEECH_WORDS:
        raise UnsafeArgument("speech engine", "is a detect_speech subcommand, not an engine", engine)
    return f"{engine} {grammar} {name}"


def speak_arg(engine: str, voice: str, text: str) -> str:
    """``speak <engine>|<voice>|<text>``: mod_dptools splits the first two parts off at ``|``.

    The engine and the voice are single words without ``|``; the text keeps
    any ``|`` of its own (FreeSWITCH 1.10 takes the rest of the argument,
    unstripped), and must be one line without ``${``, at most MAX_SPEAK_CHARS.
    """
    for field, value in (("tts engine", engine), ("tts voice", voice)):
        _no_expansion(field, _token(field, value))
        if "|" in value:
            raise UnsafeArgument(field, "must not contain '|'", value)
    _no_expansion("tts text", _no_control("tts text", text))
    if not text.strip() or len(text) > MAX_SPEAK_CHARS:
        raise UnsafeArgument("tts text", f"must be 1 to {MAX_SPEAK_CHARS} characters, not blank", text)
    return f"{engine}|{voice}|{text}"


def playback_arg(path: str, *, terminators: str | None = None) -> str:
    """Argument for ``playback``; ``terminators`` is scoped to this one execution.

    The ``%[playback_terminators=...]`` prefix sets a scope variable that lives
    only while the application runs (``switch_core_session_exec``), so the
    channel's own ``playback_terminators`` is untouched.  Values: ``any``,
    ``none`` or a set of digits from ``0-9*#``; ``None`` keeps FreeSWITCH's
    default, ``*``.
    """
    _no_control("playback path", path)
    _no_expansion("playback path", path)
    if not path or path[0] in " \t%":
        # A leading '%' would be read as a scope-variable prefix.
        raise UnsafeArgument("playback path", "must not be empty or start with a blank or '%'", path)
    if terminators is None:
        return path
    if terminators not in _PLAYBACK_TERMINATOR_WORDS and not _TERMINATORS.fullmatch(terminators):
        raise UnsafeArgument("playback terminators", "must be 'any', 'none' or digits from 0-9*#", terminators)
    return f"%[playback_terminators={terminators}]{path}"


def record_arg(path: str, *, max_seconds: int, silence_threshold: int, silence_seconds: int, terminators: str = "#") -> str:
    """Argument for ``record``: ``%[playback_terminators=#]PATH MAX THRESHOLD HITS``.

    mod_dptools splits it on spaces: the path (absolute, one word) is recorded for
    at most ``max_seconds``, and, with a ``silence_threshold`` (energy score; 0: none),
    ends after ``silence_seconds`` of frames below it. ``playback_terminators`` is the
    record app's terminator set too, scoped to this execution as for ``playback``.
    """
    _token("record path", path)
    _no_expansion("record path", path)
    if not path.startswith("/"):
        raise UnsafeArgument("record path", "must be absolute, so the switch writes where ivrflow reads", path)
    for name, value in (("max_seconds", max_seconds), ("silence_threshold", silence_threshold), ("silence_seconds", silence_seconds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UnsafeArgument(f"record {name}", "must be a whole number, not negative", repr(value))
    _match("record terminators", _TERMINATORS, terminators, "digits from 0-9*#")
    return f"%[playback_terminators={terminators}]{path} {max_seconds} {silence_threshold} {silence_seconds}"


def silence_arg(milliseconds: int) -> str:
    """``playback`` argument for silence; useful as an interruptible pause."""
    if isinstance(milliseconds, bool) or not isinstance(milliseconds, int) or milliseconds <= 0:
        raise UnsafeArgument("silence", "must be a positive number of milliseconds", repr(milliseconds))
    return f"silence_stream://{milliseconds}"


def set_arg(name: str, value: str) -> str:
    """``set`` / ``export`` argument for the runtime's own variables; an empty value unsets it.

    A variable named by a menu goes through :func:`export_arg`, which also
    refuses the names FreeSWITCH acts on by itself.
    """
    _match("variable name", _NAME, name, "a variable name")
    _no_control("variable value", value)
    _no_expansion("variable value", value)
    return f"{name}={value}"


def export_arg(name: str, value: str, *, allowed: Collection[str] = ()) -> str:
    """``export`` argument for a variable a menu names: never a hook or call control, unless ``allowed``."""
    reason = refusal(name, allowed)
    if reason is not None:
        raise UnsafeArgument("variable name", reason, name)
    return set_arg(name, value)


MAX_CONTEXT_CHARS = 64
MAX_TEMPLATE_CHARS = 256


def check_sound_dir(directory: str) -> None:
    """Raise UnsafeArgument (a ValueError) unless files under `directory` (absolute) can be played by path."""
    playback_arg(directory.rstrip("/") + "/prompt.wav")
    if not directory.startswith("/"):
        raise UnsafeArgument("sound directory", "must be an absolute path", directory)


def check_context(context: str) -> None:
    """Raise UnsafeArgument (a ValueError) unless `context` can be a transfer's dialplan context."""
    _match("transfer context", _NAME, context, "a context name (letters, digits, _ . -)")
    if len(context) > MAX_CONTEXT_CHARS:
        raise UnsafeArgument("transfer context", f"must be at most {MAX_CONTEXT_CHARS} characters", context)


def transfer_arg(destination: str, context: str, *, dialplan: str = "XML") -> str:
    check_context(context)
    return " ".join(
        (
            _no_expansion("transfer destination", _token("transfer destination", destination)),
            _match("dialplan", _NAME, dialplan, "a dialplan name"),
            context,
        )
    )


def hangup_arg(cause: str = "NORMAL_CLEARING") -> str:
    return _match("hangup cause", _CAUSE, cause, "a cause name")


def _dial_word(field: str, value: str) -> str:
    _token(field, value)
    _no_expansion(field, value)
    bad = sorted(set(value) & _DIAL_META)
    if bad:
        raise UnsafeArgument(field, f"dial-string characters {''.join(bad)!r} are not allowed", value)
    return value


# Leading variable blocks of a dial string: {all legs}, <enterprise>, [this leg].
_TEMPLATE_BLOCK = re.compile(r"\{([^{}]*)\}|<([^<>]*)>|\[([^\[\]]*)\]")


def check_bridge_template(template: str, *, allowed_variables: Collection[str] = ()) -> None:
    """Raise UnsafeArgument (a ValueError) unless `template` is a dial string :func:`bridge_arg` can use.

    Variable blocks may only lead the template, one ``name=value`` each, and
    never name a variable FreeSWITCH acts on by itself (unless allowed).
    """
    _token("bridge template", template)
    if "{number}" not in template or "," in template or "|" in template:
        raise UnsafeArgument("bridge template", "must hold '{number}' and no ',' or '|'", template)
    _no_expansion("bridge template", template)
    if len(template) > MAX_TEMPLATE_CHARS:
        raise UnsafeArgument("bridge template", f"must be at most {MAX_TEMPLATE_CHARS} characters", template)
    rest = template
    while (block := _TEMPLATE_BLOCK.match(rest)) is not None and block.group(0) != "{number}":
        name, sep, _ = next(group for group in block.groups() if group is not None).partition("=")
        if not sep or not _NAME.fullmatch(name):
            raise UnsafeArgument("bridge template", f"variable block {block.group(0)!r} is not name=value", template)
        reason = refusal(name, allowed_variables)
        if reason is not None:
            raise UnsafeArgument("bridge template", reason, template)
        rest = rest[block.end() :]
    if set(rest.replace("{number}", "")) & set("{}[]<>"):
        raise UnsafeArgument("bridge template", "variable blocks may only lead the dial string", template)


def bridge_arg(
    template: str,
    destinations: Sequence[str],
    *,
    variables: Mapping[str, str] | None = None,
    leg_uuids: Sequence[str] = (),
) -> str:
    """Bridge argument ringing every destination at once (``,`` = simultaneous).

    ``template`` is a trusted dial string (it may carry ``[per-leg]`` variables)
    with a ``{number}`` placeholder, e.g. ``sofia/gateway/gw1/{number}``; each
    destination replaces it and must be free of dial-string syntax.  ``variables``
    become the leading ``{name=value,...}`` block that applies to every leg.
    ``leg_uuids`` (one per destination) name each leg's channel with a leading
    ``[origination_uuid=...]``, so the bridge's ``originate_causes`` tell whose cause is whose.
    """
    check_bridge_template(template)
    if not destinations:
        raise UnsafeArgument("bridge destinations", "at least one is required", "")
    if leg_uuids and len(leg_uuids) != len(destinations):
        raise UnsafeArgument("bridge leg uuids", "one per destination is required", ",".join(leg_uuids))
    legs = [template.replace("{number}", _dial_word("bridge destination", d)) for d in destinations]
    if leg_uuids:
        legs = [f"[origination_uuid={_match('bridge leg uuid', _NAME, u, 'a uuid')}]{leg}" for u, leg in zip(leg_uuids, legs)]
    prefix = ""
    if variables:
        pairs = [
            f"{_match('bridge variable', _NAME, k, 'a variable name')}={_dial_word('bridge variable value', v)}"
            for k, v in variables.items()
        ]
        prefix = "{" + ",".join(pairs) + "}"
    return prefix + ",".join(legs)


def say_digits_arg(digits: str, *, method: str = "iterated", language: str = "en") -> str:
    """``say`` argument reading ``digits`` one by one (``iterated``) or as a number (``pronounced``)."""
    _match("say digits", _DIGITS, digits, "digits from 0-9*#")
    _match("say language", _LANGUAGE, language, "a language code such as 'en'")
    if method not in _SAY_METHODS:
        raise UnsafeArgument("say method", f"must be one of {sorted(_SAY_METHODS)}", method)
    return f"{language} number {method} {digits}"
