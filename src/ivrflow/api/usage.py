"""What in an ivr refers to a sound or a context, said so that a refusal can name it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from .store import contexts_of, options_of, rules_of
from .tables import ExtensionRow

SOUND_FIELDS = ("sound", "record_digits_sound")


def sound_users(session: Session, ext: ExtensionRow, sound_id: int) -> list[str]:
    users = [f"extension {ext.id} vm_greeting"] if (ext.ivr or {}).get("vm_greeting") == sound_id else []
    for where, params in _rules(session, ext):
        if any(params.get(field) == sound_id for field in SOUND_FIELDS):
            users.append(where)
    return users


def context_users(session: Session, ext: ExtensionRow, context_id: int) -> list[str]:
    users = [f"extension {ext.id} entry_context"] if (ext.ivr or {}).get("entry_context") == context_id else []
    for where, params in _rules(session, ext):
        if params.get("action") == "jump_to_context" and params.get("context") == context_id:
            users.append(where)
    return users


def _rules(session: Session, ext: ExtensionRow) -> list[tuple[str, dict[str, object]]]:
    found = []
    for context in contexts_of(session, ext.id):
        for option in options_of(session, context.id):
            for rule in rules_of(session, option.id):
                found.append((f"rule {rule.id} (extension {ext.id}, context {context.id}, option {option.digits})", rule.params))
    return found
