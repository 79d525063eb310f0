"""YAML -> API -> YAML: `ivrflow import` then `ivrflow export` give back the same menu, ids renumbered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ivrflow.menu.files import load_menu_file, load_menu_text

from .harness import ROOT, add_client, api_server, ivrflow

MENUS = [ROOT / "config" / "example.yaml"]


def canonical(menu: Any) -> Any:
    """The menu with sound and context ids replaced by their position, and record ids dropped."""
    sounds = {s.id: i for i, s in enumerate(menu.sounds)}
    data = menu.model_dump(mode="json", exclude={"sounds": {"__all__": {"id", "client_id"}}})
    for ivr_data, ivr in zip(data["ivrs"], menu.ivrs):
        contexts = {c.id: i for i, c in enumerate(ivr.contexts)}
        ivr_data.update(id=None, client_id=None, entry_context=contexts.get(ivr.entry_context, 0))
        for context in ivr_data["contexts"]:
            context["id"] = contexts[context["id"]]
            for rules in context["options"].values():
                for rule in rules:
                    rule["id"] = None
                    for key in ("sound", "record_digits_sound"):
                        if rule.get(key) is not None:
                            rule[key] = sounds[rule[key]]
                    if rule["action"] == "jump_to_context":
                        rule["context"] = contexts[rule["context"]]
    return data


@pytest.mark.parametrize("path", MENUS, ids=[p.name for p in MENUS])
def test_yaml_api_yaml_is_lossless(path: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'api.db'}"
    client = add_client(db)
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(client))
    with api_server(db) as server:
        done = ivrflow("import", str(path), "--menus-url", server.base, "--api-credentials", str(creds),
                       "--sounds", str(ROOT / "config" / "sounds"))
        assert done.returncode == 0, done.stderr
        exported = ivrflow("export", "--menus-url", server.base, "--api-credentials", str(creds))
        assert exported.returncode == 0, exported.stderr
    original = load_menu_file(path).menu
    back = load_menu_text(exported.stdout, "exported").menu
    assert canonical(back) == canonical(original)
