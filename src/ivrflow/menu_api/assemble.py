"""A client's voice menus read from the API's resources, in the menu model's data shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .client import ApiClient

SETTINGS = ("entry_context", "sleep_time", "lifetime", "lifetime_exp_action", "lifetime_exp_transfer_dst",
            "vm_enabled", "vm_greeting", "vm_mailto", "vm_attach_file")


def fetch_menu_data(api: ApiClient, include_unset: bool = False) -> dict[str, Any]:
    """Sounds and ivrs as `load_menu_data` reads them (sound filenames as the API gives them).

    An ivr with no entry context yet (0) is still being built and is left out, unless `include_unset`.
    """
    sounds = [{k: s[k] for k in ("id", "title", "filename", "client_id", "dealer_id")}
              for s in api.json("/client/@me/sound/")]
    ivrs = []
    for ext in api.json("/client/@me/extension/?type=ivr"):
        settings = api.json(f"/extension/{ext['id']}/ivr/")
        if settings.get("entry_context") == 0 and not include_unset:
            continue
        ivrs.append({
            "extension": str(ext["name"]).rpartition("*")[2], "id": ext["id"], "client_id": ext["client_id"],
            "label": ext.get("label") or "", "status": ext.get("status", "active"),
            **{key: settings[key] for key in SETTINGS if key in settings},
            "contexts": [_context(api, ext["id"], context) for context in api.json(f"/extension/{ext['id']}/ivr/context/")],
        })
    return {"sounds": sounds, "ivrs": ivrs}


def _context(api: ApiClient, extension_id: int, context: dict[str, Any]) -> dict[str, Any]:
    base = f"/extension/{extension_id}/ivr/context/{context['id']}/options/"
    options = {}
    for option in api.json(base):
        digits = option["digits"]
        options[digits] = api.json(f"{base}{quote(digits, safe='')}/rules/")
    return {**context, "options": options}
