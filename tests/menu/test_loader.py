from pathlib import Path

import pytest
from pydantic import ValidationError

from ivrflow.menu import MenuError
from ivrflow.menu.files import load_menu_file, load_menu_text
from ivrflow.menu.model import PlaySound, TransferRule
from ivrflow.menu.problems import format_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example.yaml"
SPEC_EXAMPLE = ROOT.parent / "shared" / "spec" / "example.yaml"


def test_example_menu_loads_with_the_spec_defaults() -> None:
    menu = load_menu_file(EXAMPLE, ROOT / "config" / "sounds").menu
    ivr = menu.ivr_for("071")
    assert ivr is not None
    assert (ivr.entry_context, ivr.sleep_time, ivr.lifetime) == (1, 5000, 1800)
    assert (ivr.vm_enabled, ivr.vm_attach_file, ivr.lifetime_exp_action) == (False, True, "hangup")
    context = ivr.contexts[0]
    assert (context.timeout, context.inter_digit_timeout, context.digit_len, context.allow_any_dial) == (
        5000,
        2000,
        3,
        True,
    )
    start = context.rules("start")
    assert [r.sound for r in start if isinstance(r, PlaySound)] == [52, 51]
    assert [r.sound_type for r in start if isinstance(r, PlaySound)] == ["foreground", "background"]
    transfer = context.rules("1")[0]
    assert isinstance(transfer, TransferRule) and transfer.destinations == ("+79876543210",)


def test_documented_example_loads() -> None:
    assert load_menu_file(SPEC_EXAMPLE).menu.ivr_for("071") is not None


def test_models_are_immutable() -> None:
    ivr = load_menu_file(EXAMPLE).menu.ivrs[0]
    with pytest.raises(ValidationError, match="frozen"):
        ivr.sleep_time = 1  # type: ignore[misc]


MINIMAL = """
ivrs:
  - extension: {extension}
    entry_context: 1
    contexts:
      - id: 1
        digit_len: 3
        options:
          {option}:
            - action: transfer
              transfer_dst: {dst}
"""


@pytest.mark.parametrize(
    ("extension", "option", "dst", "want_extension", "want_option", "want_dst"),
    [
        ("071", "010", "050", "071", "010", "050"),  # leading zeros kept, not octal
        ("71", "1", "+79876543210", "71", "1", "+79876543210"),  # plus kept
        ('"071"', '"*1#"', '"002"', "071", "*1#", "002"),
    ],
)
def test_numbers_stay_as_written(extension, option, dst, want_extension, want_option, want_dst) -> None:
    menu = load_menu_text(MINIMAL.format(extension=extension, option=option, dst=dst), "m.yaml").menu
    context = menu.ivrs[0].contexts[0]
    assert menu.ivrs[0].extension == want_extension
    assert list(context.options) == [want_option]
    rule = context.rules(want_option)[0]
    assert isinstance(rule, TransferRule) and rule.destinations == (want_dst,)


def test_every_error_is_reported_at_once() -> None:
    text = MINIMAL.format(extension="071", option="1", dst='"0 50"').replace(
        "digit_len: 3", "digit_len: 3\n        timeout: -1\n        colour: red"
    )
    with pytest.raises(MenuError) as caught:
        load_menu_text(text, "m.yaml")
    rendered = str(caught.value).splitlines()
    assert len(rendered) == 3
    assert any("contexts[0].timeout" in line for line in rendered)
    assert any("unknown key 'colour'" in line for line in rendered)
    assert any('options."1"[0].transfer_dst' in line for line in rendered)


def test_warnings_do_not_fail_the_load() -> None:
    text = MINIMAL.format(extension="071", option="105", dst="050").replace(
        "digit_len: 3", "digit_len: 3\n        allow_any_dial: true"
    ) + "      - id: 2\n        options: {}\n"
    loaded = load_menu_text(text, "m.yaml")
    messages = [w.render("m.yaml") for w in loaded.warnings]
    assert any("shadows the internal number 105" in m for m in messages)
    assert any("context 2 (unnamed) is never reached" in m for m in messages)


def test_not_yaml_names_the_line() -> None:
    with pytest.raises(MenuError, match=r"m.yaml: not valid YAML: line 3, column 1"):
        load_menu_text("ivrs:\n  - [\n", "m.yaml")


def test_missing_sound_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "hello.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(MenuError) as caught:
        load_menu_file(EXAMPLE, tmp_path)
    messages = str(caught.value)
    assert "hello.wav is not readable audio" in messages
    assert "advertising.wav does not exist" in messages


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("ivrs", 0, "contexts", 1, "options", "2", 0, "transfer_dst"), 'ivrs[0].contexts[1].options."2"[0].transfer_dst'),
        (("ivrs", 0, "contexts", 0, "options", "start", 1), "ivrs[0].contexts[0].options.start[1]"),
        (("sounds",), "sounds"),
    ],
)
def test_paths_read_like_the_file(path, text) -> None:
    assert format_path(path) == text


@pytest.mark.parametrize("filename", ["${x}.wav", "${api(system rm)}.wav", "a\x1b.wav"])
def test_a_sound_the_wire_would_refuse_is_refused_at_load(filename: str) -> None:
    text = f'sounds:\n  - id: 1\n    filename: "{filename}"\nivrs: []\n'.replace("\x1b", "\\e")
    with pytest.raises(MenuError, match=r"sounds\[0\]\.filename"):
        load_menu_text(text, "m.yaml")


TRANSFER_FROM_VARIABLE = """
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        options:
          start:
            - action: transfer_from_variable
              transfer_variable: callback_number
            - action: {fallback}
              {field}
"""


def test_the_rule_after_transfer_from_variable_is_its_fallback_not_dead_code() -> None:
    text = TRANSFER_FROM_VARIABLE.format(fallback="transfer", field='transfer_dst: "050"')
    assert not [w for w in load_menu_text(text, "m.yaml").warnings if "never runs" in w.message]


def test_a_jump_loop_behind_transfer_from_variable_is_caught() -> None:
    text = TRANSFER_FROM_VARIABLE.format(fallback="jump_to_context", field="context: 1")
    with pytest.raises(MenuError, match="jumps loop without playing or waiting"):
        load_menu_text(text, "m.yaml")


@pytest.mark.parametrize("action", ["transfer", "simple_transfer"])
def test_both_transfers_take_at_most_ten_destinations(action: str) -> None:
    text = MINIMAL.format(extension="071", option="1", dst=",".join(f"1{n:02d}" for n in range(11)))
    with pytest.raises(MenuError, match="11 destinations given, at most 10 are allowed"):
        load_menu_text(text.replace("action: transfer", f"action: {action}"), "m.yaml")
    load_menu_text(MINIMAL.format(extension="071", option="1", dst="100,101").replace("action: transfer", f"action: {action}"), "m.yaml")


VOICE = """
ivrs:
  - extension: "071"
    entry_context: 1
    contexts:
      - id: 1
        options:
          start:
            - {action: voice_helper, voice_helper_rules: [{to_option: "1", transcription: bill}, {to_option: "7", transcription: x}]}
            - {action: hangup}
          "1": [{action: hangup}]
"""


def test_voice_helper_routes_must_name_options_of_their_context_and_it_ends_the_option() -> None:
    with pytest.raises(MenuError) as refused:
        load_menu_text(VOICE, "m.yaml")
    [problem] = refused.value.problems
    assert problem.path == ("ivrs", 0, "contexts", 0, "options", "start", 0, "voice_helper_rules", 1, "to_option")
    assert "option '7'" in problem.message and "add it or use one of" in problem.message
    loaded = load_menu_text(VOICE.replace('"7"', '"1"'), "m.yaml")  # no sound: it is optional
    assert [w.message for w in loaded.warnings] == ["never runs: rule 0 (voice_helper) ends the option"]
