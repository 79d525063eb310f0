"""`ivrflow export` and `ivrflow import`: menus between YAML files and the API.

The API assigns its own ids; import maps the file's sound and context ids to
them, so a menu comes back the same menu, its ids renumbered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from ..menu import Menu, load_menu_data
from ..menu.model import SPECIAL_OPTIONS
from .assemble import fetch_menu_data
from .client import ApiClient, FetchError


def export_yaml(api: ApiClient) -> str:
    menu = load_menu_data(fetch_menu_data(api), api.base).menu
    data = menu.model_dump(mode="json", exclude_none=True)
    for ivr in data["ivrs"]:
        for context in ivr["contexts"]:
            # Every API context has start, timeout and invalid; one without rules is as if absent.
            context["options"] = {k: v for k, v in context["options"].items() if v or k not in SPECIAL_OPTIONS}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def import_menu(api: ApiClient, menu: Menu, sound_dir: Path) -> dict[str, int]:
    """Create the menu's sounds and ivrs through the API; the new id of each extension."""
    sounds = {}
    for sound in menu.sounds:
        with (sound_dir / sound.filename).open("rb") as f:
            created = _call(api, "POST", "/client/@me/sound/", files={"file": (Path(sound.filename).name, f)},
                            data={"title": sound.title})
        sounds[sound.id] = created["id"]
    made = {}
    for ivr in menu.ivrs:
        ext = _call(api, "POST", "/client/@me/extension/", json={"name": ivr.extension, "type": "ivr", "label": ivr.label,
                                                                  "status": ivr.status})
        base = f"/extension/{ext['id']}/ivr"
        contexts = {}
        for context in ivr.contexts:
            fields = context.model_dump(mode="json", exclude={"id", "options"})
            contexts[context.id] = _call(api, "POST", f"{base}/context/", json=fields)["id"]
        settings = ivr.model_dump(mode="json", exclude={"extension", "id", "client_id", "label", "status", "contexts"})
        settings["entry_context"] = contexts.get(ivr.entry_context, 0)
        if settings.get("vm_greeting"):
            settings["vm_greeting"] = sounds[settings["vm_greeting"]]
        for context in ivr.contexts:
            options = f"{base}/context/{contexts[context.id]}/options/"
            for digits in context.options:
                if digits not in SPECIAL_OPTIONS:
                    _call(api, "POST", options, json={"digits": digits})
        _call(api, "PUT", f"{base}/", json=settings)
        for context in ivr.contexts:
            options = f"{base}/context/{contexts[context.id]}/options/"
            for digits, rules in context.options.items():
                for rule in rules:
                    body = _mapped(rule.model_dump(mode="json", exclude={"id"}), sounds, contexts)
                    _call(api, "POST", f"{options}{quote(digits, safe='')}/rules/", json=body)
        made[ivr.extension] = ext["id"]
    return made


def _mapped(body: dict[str, Any], sounds: dict[int, int], contexts: dict[int, int]) -> dict[str, Any]:
    for key in ("sound", "record_digits_sound"):
        if body.get(key) is not None:
            body[key] = sounds[body[key]]
    if body.get("action") == "jump_to_context":
        body["context"] = contexts[body["context"]]
    return body


def _call(api: ApiClient, method: str, path: str, **kwargs: Any) -> Any:
    reply = api.request(method, path, **kwargs)
    if reply.status_code != 200:
        raise FetchError("status", f"{method} {path}: {reply.status_code} {reply.text[:300]}")
    return reply.json()
