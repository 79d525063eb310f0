"""An ivr as the menu model sees it, read from the database, and every write checked by that model.

A write is flushed, the ivr is rebuilt from the database and loaded with
`load_menu_data`, the same code that loads a YAML file; any error refuses the
write (the request's transaction is rolled back, nothing is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..menu import MenuError, load_menu_data
from ..menu.model import SPECIAL_OPTIONS, Ivr
from ..menu.problems import Path, Problem, format_path
from .errors import ApiError
from .tables import ContextRow, ExtensionRow, OptionRow, RuleRow, SoundRow

IVR_DEFAULTS: dict[str, Any] = {
    "entry_context": 0,
    "sleep_time": 0,
    "lifetime": 1800,
    "lifetime_exp_action": "hangup",
    "lifetime_exp_transfer_dst": None,
    "vm_enabled": False,
    "vm_greeting": None,
    "vm_mailto": None,
    "vm_attach_file": True,
}
CONTEXT_FIELDS = ("name", "description", "timeout", "inter_digit_timeout", "digit_len", "allow_any_dial", "extra_params")
CONTEXT_DEFAULTS: dict[str, Any] = {
    "name": "", "description": None, "timeout": 5000, "inter_digit_timeout": 2000,
    "digit_len": 1, "allow_any_dial": False, "extra_params": None,
}


def bare_name(stored: str) -> str:
    return stored.rpartition("*")[2]


def sound_data(row: SoundRow) -> dict[str, Any]:
    return {"id": row.id, "client_id": row.client, "title": row.title, "dealer_id": None, "filename": row.filename}


def client_sounds(session: Session, client: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(SoundRow).where(SoundRow.client == client).order_by(SoundRow.id))
    return [sound_data(row) for row in rows]


def contexts_of(session: Session, extension: int) -> Sequence[ContextRow]:
    return session.scalars(select(ContextRow).where(ContextRow.extension == extension).order_by(ContextRow.id)).all()


def options_of(session: Session, context: int) -> Sequence[OptionRow]:
    """Options as the source lists them: start, timeout, invalid, then digit options newest first."""
    rows = session.scalars(select(OptionRow).where(OptionRow.context == context)).all()
    special = sorted((r for r in rows if r.digits in SPECIAL_OPTIONS), key=lambda r: SPECIAL_OPTIONS.index(r.digits))
    digits = sorted((r for r in rows if r.digits not in SPECIAL_OPTIONS), key=lambda r: -r.id)
    return [*special, *digits]


def rules_of(session: Session, option: int) -> Sequence[RuleRow]:
    return session.scalars(select(RuleRow).where(RuleRow.option == option).order_by(RuleRow.position, RuleRow.id)).all()


def rule_data(row: RuleRow) -> dict[str, Any]:
    return {"id": row.id, **row.params}


def ivr_data(session: Session, ext: ExtensionRow) -> dict[str, Any]:
    """The ivr extension in the menu model's shape (the shape of a YAML file's ivr)."""
    contexts = []
    for context in contexts_of(session, ext.id):
        options = {
            option.digits: [rule_data(rule) for rule in rules_of(session, option.id)]
            for option in options_of(session, context.id)
        }
        contexts.append({"id": context.id, **context.fields, "options": options})
    return {
        "extension": bare_name(ext.name),
        "id": ext.id,
        "client_id": ext.client,
        "label": ext.label,
        "status": ext.status,
        **(ext.ivr or IVR_DEFAULTS),
        "contexts": contexts,
    }


def checked_ivr(session: Session, ext: ExtensionRow, focus: Path = (), default_field: str = "") -> Ivr:
    """The ivr after a pending write, or ApiError(400) naming what the write broke."""
    session.flush()
    data = ivr_data(session, ext)
    unset = type(data["entry_context"]) is int and data["entry_context"] == 0
    if unset and data["contexts"]:
        # An ivr being built has no entry context yet ("none"): check it as if its first context were.
        data["entry_context"] = data["contexts"][0]["id"]
    try:
        ivr = load_menu_data({"sounds": client_sounds(session, ext.client), "ivrs": [data]}, "api").menu.ivrs[0]
    except MenuError as exc:
        problems = [p for p in exc.problems if p.path != ("ivrs", 0, "entry_context") or not unset]
        if problems:
            raise ApiError(400, "; ".join(_render(p, focus, default_field) for p in problems)) from exc
        ivr = Ivr.model_validate(data)  # no context at all yet: nothing else to check
    return ivr.model_copy(update={"entry_context": 0}) if unset else ivr


def settings_of(ivr: Ivr) -> dict[str, Any]:
    return ivr.model_dump(mode="json", include=set(IVR_DEFAULTS))


def context_fields(ivr: Ivr, context_id: int) -> dict[str, Any]:
    context = ivr.context(context_id)
    assert context is not None
    return context.model_dump(mode="json", include=set(CONTEXT_FIELDS))


def _render(problem: Problem, focus: Path, default_field: str) -> str:
    path = problem.path[2:]  # drop ("ivrs", 0)
    if focus and path[: len(focus)] == focus:
        where = format_path(path[len(focus):]) or default_field
    else:
        where = format_path(path) or default_field
    return f"{where}: {problem.message}" if where else problem.message


def context_index(session: Session, ext: ExtensionRow, context_id: int) -> int:
    return [c.id for c in contexts_of(session, ext.id)].index(context_id)
