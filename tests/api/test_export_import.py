"""YAML -> API -> YAML: importing a menu and exporting it gives back the same menu, ids renumbered.

Run on the example through the command line, and on every valid menu written in
the test suite (YAML files and YAML literals in the tests' source) that the API
can express: the API keeps a sound's bare uploaded file name, so a menu naming
sounds in subdirectories is not among them.
"""

from __future__ import annotations

import ast
import io
import json
import re
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ivrflow.api.auth import add_client as add_client_row
from ivrflow.api.db import make_engine, sessions
from ivrflow.menu import Menu, MenuError
from ivrflow.menu.files import load_menu_file, load_menu_text
from ivrflow.menu_api.client import ApiClient, Credentials
from ivrflow.menu_api.transfer import export_yaml, import_menu

from .harness import ROOT, Api, add_client, api_server, ivrflow

EXAMPLE = ROOT / "config" / "example.yaml"
TEMPLATE = re.compile(r"\{\{|\{[a-z_]+\}")


def canonical(menu: Menu) -> Any:
    """The menu with sound and context ids replaced by their position, and record ids dropped."""
    sounds = {s.id: i for i, s in enumerate(menu.sounds)}
    data = menu.model_dump(mode="json", exclude={"sounds": {"__all__": {"id", "client_id"}}})
    for ivr_data, ivr in zip(data["ivrs"], menu.ivrs):
        contexts = {c.id: i for i, c in enumerate(ivr.contexts)}
        ivr_data.update(id=None, client_id=None, entry_context=contexts.get(ivr.entry_context, 0))
        if ivr_data.get("vm_greeting"):
            ivr_data["vm_greeting"] = sounds[ivr_data["vm_greeting"]]
        for context in ivr_data["contexts"]:
            context["id"] = contexts[context["id"]]
            # A context without rules for start, timeout or invalid is as if it had none.
            context["options"] = {k: v for k, v in context["options"].items() if v or k not in ("start", "timeout", "invalid")}
            for rules in context["options"].values():
                for rule in rules:
                    rule["id"] = None
                    for key in ("sound", "record_digits_sound"):
                        if rule.get(key) is not None:
                            rule[key] = sounds[rule[key]]
                    if rule["action"] == "jump_to_context":
                        rule["context"] = contexts[rule["context"]]
    return data


def _suite_menus() -> Iterator[tuple[str, Menu]]:
    files = [EXAMPLE, ROOT / "bench" / "menu.yaml",
             *(p for p in sorted((ROOT / "tests").rglob("*.yaml")) if "broken" not in p.parts)]
    for path in files:
        try:
            yield str(path.relative_to(ROOT)), load_menu_file(path).menu
        except MenuError:
            continue
    for source in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text())):
            text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
            if "ivrs:" in text and not TEMPLATE.search(text):  # str.format templates are filled in by their tests
                try:
                    menu = load_menu_text(text, "literal").menu
                except MenuError:
                    continue  # a menu a test expects to be refused, or a template
                yield f"{source.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}", menu


def expressible(menu: Menu) -> bool:
    return bool(menu.ivrs) and all("/" not in s.filename for s in menu.sounds)


MENUS = [(name, menu) for name, menu in _suite_menus() if expressible(menu)]


def test_the_suite_has_menus_to_round_trip() -> None:
    names = [name for name, _ in MENUS]
    assert "config/example.yaml" in names and len(names) >= 5, names


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    db = f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}"
    add_client(db)  # migrates
    with api_server(db) as it:
        yield it


def tiny_wavs(menu: Menu, directory: Path) -> Path:
    for sound in menu.sounds:
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\x00\x01" * 800)
        (directory / sound.filename).write_bytes(buffer.getvalue())
    return directory


@pytest.mark.parametrize(("name", "menu"), MENUS, ids=[name for name, _ in MENUS])
def test_yaml_api_yaml_is_lossless(server: Api, name: str, menu: Menu, tmp_path: Path) -> None:
    engine = make_engine(server.db)
    with sessions(engine)() as session:
        client, secret = add_client_row(session)
    engine.dispose()
    api = ApiClient(server.base, Credentials(client.client_id, secret))
    import_menu(api, menu, tiny_wavs(menu, tmp_path))
    back = load_menu_text(export_yaml(api), "exported").menu
    api.close()
    assert canonical(back) == canonical(menu)


def test_import_and_export_commands_round_trip_the_example(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'api.db'}"
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(add_client(db)))
    with api_server(db) as it:
        done = ivrflow("import", str(EXAMPLE), "--menus-url", it.base, "--api-credentials", str(creds),
                       "--sounds", str(ROOT / "config" / "sounds"))
        assert done.returncode == 0, done.stderr
        out = tmp_path / "exported.yaml"
        exported = ivrflow("export", "--menus-url", it.base, "--api-credentials", str(creds), "-o", str(out))
        assert exported.returncode == 0, exported.stderr
    assert canonical(load_menu_file(out).menu) == canonical(load_menu_file(EXAMPLE).menu)
