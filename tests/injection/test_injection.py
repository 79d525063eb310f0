"""Hostile values in every field that reaches FreeSWITCH: refused at load or start, or harmless on the wire.

For each payload and field, the value is put where a menu author, an operator
or the switch (the caller's side) would put it. What load and start-up refuse
is listed with where it stopped; everything else goes through emulated calls,
and every command the emulated switch received is checked for its shape (no
control character, no `${`, no extra header, argument or bridge leg, no
switch-acting variable) and the payload must not survive outside the inert
value of a variable. `pytest tests/injection -s` prints the table.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

import gevent
import yaml

from ivrflow.freeswitch.builders import check_bridge_template, check_context
from ivrflow.menu import MenuError
from ivrflow.menu.files import load_menu_text
from ivrflow.testing import Key, start_call

from e2e.harness import SOUNDS, ivrflow, script  # tests/ is on sys.path, as for every test package
from .payloads import CALLER_FIELDS, MENU_FIELDS, PAYLOADS, SETTING_FIELDS, menu_data
from .wire import problems

CHECKS = {"transfer_context": check_context, "simple_transfer_context": check_context,
          "bridge_template": check_bridge_template}
# Where a payload may travel: as data, the value of a variable (set or exported as
# one argument) and a sound's file name after the sound directory's absolute path;
# and in the operator's own bridge template and context, which the shape check of
# `transfer` and `bridge` pins down exactly (dialable destinations, nothing else).
DATA_APPS = ("export", "set", "playback", "transfer", "bridge")


def load(values: dict[str, str]) -> MenuError | None:
    text = yaml.safe_dump(menu_data(values), allow_unicode=True, width=10_000)
    try:
        load_menu_text(text, "menu.yaml")
    except MenuError as exc:
        return exc
    return None


def refused_at_load(field: str, value: str) -> str | None:
    error = load({field: value})
    if error is None:
        return None
    return "load: " + error.problems[0].message[:70].replace("\n", "\\n")


def refused_at_start(field: str, value: str) -> str | None:
    try:
        CHECKS[field](value)
    except ValueError as exc:
        return f"start: {str(exc)[:70]}".replace("\n", "\\n")
    return None


def start_calls(stack: ExitStack, payload: str, menu_values: dict[str, str], settings: dict[str, str]) -> tuple[Any, list[Any]]:
    """One call per ivr of the menu, with the payload in everything the switch itself hands over."""
    menu = load_menu_text(yaml.safe_dump(menu_data(menu_values), allow_unicode=True, width=10_000), "m.yaml").menu
    it = stack.enter_context(ivrflow(menu, **settings))
    calls = [
        start_call(it.address, script(
            destination_number=extension,
            caller_id_number="79991234567" + payload,
            caller_id_name="Caller" + payload,
            variables={"callback": "050" + payload, "caller_digits": "12" + payload},
            keys=[Key(0.05, payload[:1] or "x"), Key(0.06, payload)],
        ))
        for extension in ("071", "072", "073")
    ]
    return it, calls


def wire_faults(histories: list[Any], payload: str, settings: dict[str, str]) -> list[str]:
    faults = []
    template = settings.get("bridge_template", "user/{number}")
    contexts = {settings.get("transfer_context") or "default", settings.get("simple_transfer_context", "ivrflow-simple-transfer")}
    for history in histories:
        assert history.received, "the call sent nothing"
        for _, command in history.received:
            faults.extend(problems(command, str(SOUNDS), template, contexts))
            data = command.headers.get("execute-app-name") in DATA_APPS
            if len(payload) >= 3 and not data and payload in command.raw.decode("utf-8", "replace"):
                faults.append(f"payload in {command.line!r} {dict(command.headers)}")
    return faults


def test_no_payload_reaches_the_switch_in_a_form_it_acts_on() -> None:
    rows: list[tuple[str, str, str]] = []
    plans: list[tuple[str, str, dict[str, str], dict[str, str], list[str]]] = []
    for name, payload in PAYLOADS:
        menu_values: dict[str, str] = {}
        settings: dict[str, str] = {}
        through: list[str] = []
        for fields, refused, passed in ((MENU_FIELDS, refused_at_load, menu_values),
                                        (SETTING_FIELDS, refused_at_start, settings)):
            for field, base in fields:
                stopped = refused(field, base + payload)
                if stopped is None:
                    passed[field] = base + payload
                    through.append(field)
                else:
                    rows.append((name, field, stopped))
        through.extend(field for field, _ in CALLER_FIELDS)
        plans.append((name, payload, menu_values, settings, through))

    with ExitStack() as stack:  # every payload's calls at once: one server each
        running = [start_calls(stack, payload, menu_values, settings) for _, payload, menu_values, settings, _ in plans]
        gevent.joinall([call for _, calls in running for call in calls], timeout=60, raise_error=True)
        for (name, payload, _, settings, through), (it, calls) in zip(plans, running):
            it.wait_idle()
            assert len(it.records) == len(calls)
            # a value the wire builder would refuse must have been refused at load: no call ends in error
            # (keys from the payload may change the path, e.g. to `invalid`, which ends in a hangup)
            ended = [(r["outcome"], r["errors"]) for r in it.records]
            assert all(outcome != "error" and not errors for outcome, errors in ended), (name, ended)
            faults = wire_faults([call.get() for call in calls], payload, settings)
            assert not faults, f"{name!r} ({payload[:40]!r}) reached the switch: {faults[:3]}"
            rows.extend((name, field, "calls: inert on the wire (checked)") for field in through)

    width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print(f"\n{'payload':<{width[0]}}  {'field':<{width[1]}}  where it was stopped")
    for row in rows:
        print(f"{row[0]:<{width[0]}}  {row[1]:<{width[1]}}  {row[2]}")
    # every payload was tried in every field
    fields = len(MENU_FIELDS) + len(SETTING_FIELDS) + len(CALLER_FIELDS)
    assert len(rows) == len(PAYLOADS) * fields and len(PAYLOADS) >= 20
    # where the switch parses a value (destinations, names, digits, contexts), every payload stopped early
    parsed = {"transfer_dst", "simple_transfer transfer_dst", "lifetime_exp_transfer_dst", "set_variable_name",
              "record_digits_variable", "play_digits digits", "caller_id_number", "transfer_context",
              "simple_transfer_context"}
    late = [(name, field) for name, field, where in rows if field in parsed and where.startswith("calls")]
    assert not late, late
    # a bridge template keeps no dial-string structure, expansion or control character from a payload
    structural = set("\n\r\t\x00\x1b ${}[]<>|,")
    late = [name for name, field, where in rows if field == "bridge_template" and where.startswith("calls")
            and set(dict(PAYLOADS)[name]) & structural]
    assert not late, late
