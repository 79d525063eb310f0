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
    validate.add_argument("--sounds", type=Path, help="sound directory whose files must exist and be readable")
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
        "--script", help="run without a terminal on a virtual clock, e.g. \"wait 6; 2\" (steps: wait N, keys, hangup)"
    )
    simulate.set_defaults(run=_simulate)

    serve = commands.add_parser("serve", help="run the daemon: FreeSWITCH connects here for every call")
    add_settings_arguments(serve)
    serve.set_defaults(run=_serve)

    reload = commands.add_parser("reload", help="make a running daemon load its menu again")
    reload.add_argument("--metrics-listen", default="127.0.0.1:9464", help="the daemon's HTTP listener")
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
    loaded = load_menu_file(args.file, args.sounds)
    _print_warnings(loaded)
    ivrs = ", ".join(ivr.extension for ivr in loaded.menu.ivrs) or "none"
    print(f"{args.file}: valid ({len(loaded.menu.ivrs)} ivr(s): {ivrs}; {len(loaded.menu.sounds)} sound(s))")
    return 0


def _graph(args: argparse.Namespace) -> int:
    from .tools.graph import render

    loaded = load_menu_file(args.file)
    sys.stdout.write(render(loaded.menu, _pick_ivr(loaded.menu, args.ivr), args.format))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from .tools.simulate import ScriptError, run_interactive, run_script, sound_lengths

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


def _serve(args: argparse.Namespace) -> int:
    from .menu_api.client import CredentialsError
    from .service.daemon import Daemon
    from .logs import configure

    try:
        settings = resolve_settings(vars(args), args.settings)
    except SettingsError as exc:
        print(f"ivrflow serve: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_format, settings.log_level)
    try:
        daemon = Daemon(settings)
    except CredentialsError as exc:
        print(f"ivrflow serve: {exc}", file=sys.stderr)
        return 2
    return daemon.run()


def _reload(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    url = f"http://{args.metrics_listen}/-/reload"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        body = json.load(exc)
    except OSError as exc:
        print(f"ivrflow reload: cannot reach the daemon at {url}: {exc}", file=sys.stderr)
        return 2
    for message in body.get("messages", []):
        print(message, file=sys.stderr)
    print("reloaded" if body.get("reloaded") else "rejected: the daemon keeps its previous menu")
    return 0 if body.get("reloaded") else 1


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
