"""The `ivrflow` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import TypeAdapter

from . import __version__
from .menu import LoadedMenu, Menu, MenuError
from .menu.files import load_menu_file
from .menu.model import Ivr
from .service.settings import SettingsError
from .tools.sound_prep import add_command as add_sounds_command
from .api.cli import add_command as add_api_command
from .service.settings import add_arguments as add_settings_arguments
from .service.settings import resolve as resolve_settings
from .service.settings import resolve_some as resolve_some_settings

RELOAD_SETTINGS = ("metrics_listen", "admin_token")  # what `ivrflow reload` needs to reach the daemon


DIAL_PASSWORD_ENV = "IVRFLOW_ESL_PASSWORD"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except MenuError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivrflow", description="A live IVR runtime for FreeSWITCH.")
    parser.add_argument("--version", action="version", version=f"ivrflow {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check a menu file, printing every problem")
    validate.add_argument("file", type=Path)
    validate.add_argument(
        "--sounds", type=Path,
        help="sound directory whose files must exist and be readable (default, as for serve: sounds/ beside the file)",
    )
    validate.add_argument("--no-sounds", action="store_true", help="check the menu alone, not its sound files")
    validate.set_defaults(run=_validate)

    graph = commands.add_parser("graph", help="draw an ivr as a diagram")
    graph.add_argument("file", type=Path)
    graph.add_argument("--ivr", help="extension of the ivr (default: the only or first one)")
    graph.add_argument("--format", choices=("dot", "mermaid"), default="dot")
    graph.set_defaults(run=_graph)

    simulate = commands.add_parser("simulate", help="walk an ivr in the terminal with the real engine")
    simulate.add_argument("file", type=Path)
    simulate.add_argument("--ivr", help="extension of the ivr (default: the only or first one)")
    simulate.add_argument("--sounds", type=Path, help="sound directory (default: sounds/ beside the file)")
    simulate.add_argument(
        "--script", help="run without a terminal on a virtual clock, e.g. \"wait 10; 2\" (steps: wait N, keys, hangup)"
    )
    simulate.set_defaults(run=_simulate)

    dial = commands.add_parser(
        "dial",
        help="smoke-test a menu on a real switch: originate a call into it and report what happened",
        description="Originate a test call into EXTENSION through the switch's inbound Event Socket, play a "
        "caller script and print what the switch saw. The password comes from --password or, better (it stays "
        f"out of the process list), from ${DIAL_PASSWORD_ENV}; FreeSWITCH's default is ClueCon.",
    )
    dial.add_argument("extension", help="the menu's extension in the dialplan, e.g. 071")
    dial.add_argument("--switch", default="127.0.0.1:8021", metavar="HOST:PORT", help="the inbound Event Socket")
    dial.add_argument("--password", help=f"event socket password (default: ${DIAL_PASSWORD_ENV}, else ClueCon)")
    dial.add_argument("--context", default="default", help="dialplan context of the extension (default: default)")
    dial.add_argument(
        "--dial-string",
        help="call this leg (e.g. user/1000) and send it to the extension once answered; "
        "default: a loopback leg, which rings nobody",
    )
    dial.add_argument("--script", default="", help='the caller, as simulate reads it: "wait 6; 2" (wait N, keys, hangup)')
    dial.add_argument(
        "--expect", help="transfer:DESTINATION, transfer:any or hangup; exit 0 if the call ends so, else 1"
    )
    dial.add_argument("--timeout", type=float, default=120.0, help="seconds after the answer to wait for the end")
    dial.add_argument("--caller-id-number", default="0000000000", help="caller number the menu sees")
    dial.set_defaults(run=_dial)

    serve = commands.add_parser("serve", help="run the daemon: FreeSWITCH connects here for every call")
    add_settings_arguments(serve)
    serve.set_defaults(run=_serve)

    reload = commands.add_parser("reload", help="make a running daemon load its menu again")
    add_settings_arguments(reload, RELOAD_SETTINGS)
    reload.set_defaults(run=_reload)

    add_sounds_command(commands)
    add_api_command(commands)

    for name, text in (("export", "write the menus of the API as YAML"), ("import", "create a YAML menu through the API")):
        transfer = commands.add_parser(name, help=text)
        if name == "import":
            transfer.add_argument("file", type=Path)
            transfer.add_argument("--sounds", type=Path, help="sound directory (default: sounds/ beside the file)")
        else:
            transfer.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
        transfer.add_argument("--menus-url", required=True, help="base URL of the API, e.g. http://HOST/api/ver1.0")
        transfer.add_argument("--api-credentials", type=Path, help="JSON file with client_id and client_secret")
        transfer.set_defaults(run=_transfer, command=name)

    schema = commands.add_parser("schema", help="print the JSON Schema of the menu file format")
    schema.set_defaults(run=_schema)
    return parser


def _validate(args: argparse.Namespace) -> int:
    # The sound directory serve would use, so that what validate accepts serve starts with.
    sound_dir = None if args.no_sounds else (args.sounds or args.file.parent / "sounds")
    loaded = load_menu_file(args.file, sound_dir)
    _print_warnings(loaded)
    ivrs = ", ".join(ivr.extension for ivr in loaded.menu.ivrs) or "none"
    sounds = "not checked" if sound_dir is None else f"all found in {sound_dir.absolute()}"
    print(f"{args.file}: valid ({len(loaded.menu.ivrs)} ivr(s): {ivrs}; {len(loaded.menu.sounds)} sound(s), {sounds})")
    return 0


def _graph(args: argparse.Namespace) -> int:
    from .tools.graph import render

    loaded = load_menu_file(args.file)
    sys.stdout.write(render(loaded.menu, _pick_ivr(loaded.menu, args.ivr), args.format))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from .tools.caller_script import ScriptError
    from .tools.simulate import run_interactive, run_script, sound_lengths

    sound_dir = args.sounds or args.file.parent / "sounds"
    loaded = load_menu_file(args.file)
    _print_warnings(loaded)
    ivr = _pick_ivr(loaded.menu, args.ivr)
    lengths = sound_lengths(loaded.menu, sound_dir, lambda line: print(line, file=sys.stderr))
    if args.script is None:
        try:
            run_interactive(loaded.menu, ivr, lengths, sys.stdout)
        except EOFError as exc:
            print(f"ivrflow simulate: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        run_script(loaded.menu, ivr, lengths, args.script, sys.stdout)
    except ScriptError as exc:
        print(f"ivrflow simulate: {exc}", file=sys.stderr)
        return 2
    return 0


def _dial(args: argparse.Namespace) -> int:
    import os

    from .tools.dial import DialError, DialOptions, dial

    host, _, port = args.switch.rpartition(":")
    if not host or not port.isdigit():
        print(f"ivrflow dial: --switch {args.switch!r}: use HOST:PORT, e.g. 127.0.0.1:8021", file=sys.stderr)
        return 2
    options = DialOptions(
        host=host,
        port=int(port),
        password=args.password or os.environ.get(DIAL_PASSWORD_ENV) or "ClueCon",
        extension=args.extension,
        context=args.context,
        dial_string=args.dial_string,
        script=args.script,
        expect=args.expect,
        timeout=args.timeout,
        caller_id_number=args.caller_id_number,
    )
    try:
        return dial(options, sys.stdout)
    except DialError as exc:
        print(f"ivrflow dial: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    from .menu_api.client import CredentialsError
    from .service.daemon import Daemon, StartupError
    from .logs import configure

    try:
        settings = resolve_settings(vars(args), args.settings)
    except SettingsError as exc:
        print(f"ivrflow serve: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_format, settings.log_level)
    try:
        return Daemon(settings).run()
    except (StartupError, CredentialsError) as exc:
        print(f"ivrflow serve: {exc}", file=sys.stderr)
        return 1


def _reload(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    try:
        settings = resolve_some_settings(RELOAD_SETTINGS, vars(args), args.settings)
    except SettingsError as exc:
        print(f"ivrflow reload: {exc}", file=sys.stderr)
        return 2
    if settings["metrics_listen"] is None:
        print("ivrflow reload: the daemon's HTTP listener is off (metrics_listen); send it SIGHUP", file=sys.stderr)
        return 2
    host, port = settings["metrics_listen"]
    url = f"http://{host}:{port}/-/reload"
    headers = {"Content-Type": "application/json"}
    if settings["admin_token"]:
        headers["Authorization"] = f"Bearer {settings['admin_token']}"
    request = urllib.request.Request(url, data=b"{}", method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError as exc:
        print(f"ivrflow reload: cannot reach the daemon at {url}: {exc}", file=sys.stderr)
        return 2
    try:
        body = json.loads(raw)
        reloaded, messages = bool(body["reloaded"]), [str(m) for m in body.get("messages", [])]
    except (ValueError, TypeError, KeyError):
        print(f"ivrflow reload: the daemon at {url} answered HTTP {status} with no reload result", file=sys.stderr)
        return 2
    for message in messages:
        print(message, file=sys.stderr)
    print("reloaded" if reloaded else "rejected: the daemon keeps its previous menu")
    return 0 if reloaded else 1


def _transfer(args: argparse.Namespace) -> int:
    from .menu_api.client import ApiClient, CredentialsError, FetchError, load_credentials
    from .menu_api.transfer import export_yaml, import_menu

    try:
        api = ApiClient(args.menus_url, load_credentials(args.api_credentials))
        if args.command == "export":
            text = export_yaml(api)
            if args.output is None:
                sys.stdout.write(text)
            else:
                args.output.write_text(text, encoding="utf-8")
            return 0
        menu = load_menu_file(args.file).menu
        made = import_menu(api, menu, args.sounds or args.file.parent / "sounds")
    except (CredentialsError, FetchError, OSError) as exc:
        print(f"ivrflow {args.command}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"extensions": made}))
    return 0


def _schema(args: argparse.Namespace) -> int:
    schema = TypeAdapter(Menu).json_schema(mode="validation")
    schema["title"] = "ivrflow menu file"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    print(json.dumps(schema, indent=2))
    return 0


def _pick_ivr(menu: Menu, extension: str | None) -> Ivr:
    if extension is None:
        if not menu.ivrs:
            raise SystemExit("ivrflow: the menu has no ivr")
        return menu.ivrs[0]
    for ivr in menu.ivrs:
        if ivr.extension == extension:
            return ivr
    known = ", ".join(ivr.extension for ivr in menu.ivrs)
    raise SystemExit(f"ivrflow: no ivr {extension!r} in the menu (it has: {known})")


def _print_warnings(loaded: LoadedMenu) -> None:
    for warning in loaded.warnings:
        print(warning.render(loaded.source), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
