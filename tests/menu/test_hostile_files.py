"""Whatever a menu file holds or is, loading it gives a menu or a MenuError, promptly."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import yaml

from ivrflow.menu import MenuError
from ivrflow.menu.files import MAX_MENU_BYTES, load_menu_file, load_menu_text
from ivrflow.menu.yaml_source import MAX_DEPTH, MAX_EXPANDED_NODES, LibyamlMenuLoader, PurePythonMenuLoader, parse_yaml

LOADERS = [PurePythonMenuLoader] + ([LibyamlMenuLoader] if LibyamlMenuLoader is not None else [])


def refusal(path: str | Path) -> str:
    with pytest.raises(MenuError) as caught:
        load_menu_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message


def test_a_1kb_menu_nested_500_deep_is_refused_naming_the_bound(tmp_path: Path) -> None:
    menu = tmp_path / "deep.yaml"
    menu.write_text("ivrs: " + "[" * 500 + "]" * 500 + "\n")
    assert menu.stat().st_size < 1100
    assert f"nested more than {MAX_DEPTH} levels deep" in refusal(menu)


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_depth_is_counted_by_both_loaders(loader: type) -> None:
    with pytest.raises(yaml.YAMLError, match="nested more than"):
        parse_yaml("a:\n" + "".join("  " * i + f"- k{i}:\n" for i in range(1, 40)), loader)
    with pytest.raises(yaml.YAMLError, match="nested more than"):
        parse_yaml("{a: " * 10_000 + "1" + "}" * 10_000, loader)
    assert parse_yaml("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1), loader) is not None


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_both_loaders_keep_numbers_as_written_and_refuse_duplicate_keys(loader: type) -> None:
    data = parse_yaml("a: 071\nb: +79876543210\nc: 12\nd: 0x1f\ne: &x {p: 1}\nf: {<<: *x, q: 2}\n", loader)
    assert data == {"a": "071", "b": "+79876543210", "c": 12, "d": "0x1f", "e": {"p": 1}, "f": {"p": 1, "q": 2}}
    with pytest.raises(yaml.YAMLError, match="key 'a' appears twice"):
        parse_yaml("a: 1\na: 2\n", loader)


def test_libyaml_is_used_when_pyyaml_has_it() -> None:
    from ivrflow.menu import yaml_source

    assert (yaml_source.MenuYamlLoader is LibyamlMenuLoader) == yaml.__with_libyaml__


def test_dev_zero_is_refused_without_reading_it() -> None:
    assert "not a regular file (a character device)" in refusal("/dev/zero")


def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "menu.yaml"
    os.mkfifo(fifo)
    messages: list[str] = []
    reader = threading.Thread(target=lambda: messages.append(refusal(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=10)  # a bound on a hang, not a timing: the old reader waits forever
    if reader.is_alive():
        with open(fifo, "w"):  # release the reader so the test process can end
            pass
        pytest.fail("loading a FIFO blocked waiting for a writer")
    assert "not a regular file (a FIFO)" in messages[0]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    assert "not a regular file (a directory)" in refusal(tmp_path)


def test_a_huge_file_is_refused_with_the_limit(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as f:
        f.truncate(MAX_MENU_BYTES * 6)  # sparse: costs no disk
    message = refusal(huge)
    assert f"the file is {MAX_MENU_BYTES * 6} bytes, more than the {MAX_MENU_BYTES} a menu may have" in message


def test_text_over_the_limit_is_refused() -> None:
    with pytest.raises(MenuError, match="more than the"):
        load_menu_text("#" * (MAX_MENU_BYTES + 1), "m.yaml")


@pytest.mark.parametrize("exc", [RecursionError("deep"), MemoryError(), KeyError("x"), ZeroDivisionError()])
def test_any_exception_while_loading_is_a_menu_error(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def explode(*args: object) -> None:
        raise exc

    monkeypatch.setattr("ivrflow.menu.files.load_menu_data", explode)
    with pytest.raises(MenuError, match=rf"^m.yaml: cannot load the menu: {type(exc).__name__}"):
        load_menu_text("ivrs: []\n", "m.yaml")


def test_any_exception_while_reading_is_a_menu_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def explode(path: object) -> str:
        raise MemoryError("no room")

    menu = tmp_path / "m.yaml"
    menu.write_text("ivrs: []\n")
    monkeypatch.setattr("ivrflow.menu.files.read_menu_text", explode)
    assert "cannot read the file: no room" in refusal(menu)


def test_a_huge_bad_value_is_quoted_clipped() -> None:
    text = f'ivrs:\n  - extension: "071"\n    label: "{"x" * 1_000_000}\\u001b"\n'
    with pytest.raises(MenuError) as caught:
        load_menu_text(text, "m.yaml")
    message = str(caught.value)
    assert len(message) < 1000
    assert "characters cut" in message and "remove it" in message



def test_a_billion_laughs_menu_is_refused_before_anything_walks_it() -> None:
    # 9 aliases per level, 9 levels: 400 bytes standing for 387 million values
    text = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    with pytest.raises(MenuError, match=f"aliases expand it to more than {MAX_EXPANDED_NODES} values"):
        load_menu_text(text, "m.yaml")


@pytest.mark.parametrize("loader", LOADERS, ids=lambda c: c.__name__)
def test_an_alias_inside_its_own_anchor_is_refused(loader: type) -> None:
    with pytest.raises(yaml.YAMLError, match="an alias refers to the node that holds it"):
        parse_yaml("a: &a [1, *a]\n", loader)


def test_aliases_within_the_bound_still_work() -> None:
    assert parse_yaml("a: &a {x: 1}\nb: [*a, *a]\n") == {"a": {"x": 1}, "b": [{"x": 1}, {"x": 1}]}
