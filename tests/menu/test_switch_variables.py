"""Menus may not set the channel variables FreeSWITCH acts on by itself."""

from __future__ import annotations

import pytest

from ivrflow.freeswitch import builders
from ivrflow.freeswitch.builders import UnsafeArgument
from ivrflow.menu import MenuError
from ivrflow.menu.files import load_menu_text
from ivrflow.menu.switch_variables import refusal

MENU = """
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        options:
          start:
            - action: {action}
              {field}: {name}
              {extra}
            - action: hangup
"""

SET = ("set_variable", "set_variable_name", "set_variable_value: system touch /tmp/owned")
RECORD = ("record_digits", "record_digits_variable", "record_digits_max: 4")

REFUSED = [
    "api_hangup_hook",
    "API_HANGUP_HOOK",  # FreeSWITCH compares names without case
    "execute_on_answer",
    "execute_on_answer_2",  # switch_channel_execute_on runs every name with the prefix
    "api_on_answer",
    "api_on_pre_originate",
    "execute_on_post_bridge",
    "session_in_hangup_hook",
    "api_reporting_hook",
    "continue_on_fail",
    "hangup_after_bridge",
    "transfer_after_bridge",
    "park_after_bridge",
    "exec_after_bridge_app",
    "exec_after_bridge_arg",
    "bridge_pre_execute_bleg_app",
    "bridge_pre_execute_aleg_data",
    "socket_resume",
    "system_on_fax_success",
    "record_post_process_exec_api",
    "export_vars",
    "bridge_export_vars",
    "playback_terminators",
    "_nolocal_api_hangup_hook",  # the other leg's hook is a hook too
    "my_module_hangup_hook",
]


def load(action: tuple[str, str, str], name: str, allowed: tuple[str, ...] = ()) -> object:
    kind, field, extra = action
    text = MENU.format(action=kind, field=field, name=name, extra=extra)
    return load_menu_text(text, "m.yaml", allowed_variables=allowed)


@pytest.mark.parametrize("name", REFUSED)
@pytest.mark.parametrize("action", [SET, RECORD], ids=["set_variable", "record_digits"])
def test_switch_acting_variables_are_refused_at_load(action: tuple[str, str, str], name: str) -> None:
    with pytest.raises(MenuError) as caught:
        load(action, name)
    (problem,) = caught.value.problems
    assert problem.path[-1] == action[1]
    assert f"{name!r}" in problem.message and "a menu may not set it" in problem.message


@pytest.mark.parametrize("name", REFUSED)
def test_the_wire_builder_refuses_them_too(name: str) -> None:
    with pytest.raises(UnsafeArgument, match="variable name"):
        builders.export_arg(name, "system touch /tmp/owned")


@pytest.mark.parametrize("name", ["department", "account", "executive", "api_key", "hangup_reason", "on_answer"])
def test_ordinary_names_pass(name: str) -> None:
    assert refusal(name) is None
    load(SET, name)
    assert builders.export_arg(name, "x") == f"{name}=x"


def test_an_operator_can_allow_a_name_explicitly() -> None:
    load(SET, "continue_on_fail", allowed=("continue_on_fail",))
    assert builders.export_arg("continue_on_fail", "true", allowed={"continue_on_fail"}) == "continue_on_fail=true"
    with pytest.raises(MenuError):
        load(SET, "api_hangup_hook", allowed=("continue_on_fail",))

