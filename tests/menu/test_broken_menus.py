"""Each broken menu in broken/ fails with exactly the message its first line expects."""

from pathlib import Path

import pytest

from ivrflow.menu import MenuError
from ivrflow.menu.files import load_menu_file

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


def expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: '"
    return f"{path}: {first.removeprefix('# expect: ')}"


def test_there_are_a_dozen_broken_variants() -> None:
    assert len(BROKEN) >= 12


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_menu_fails_with_its_message(path: Path) -> None:
    with pytest.raises(MenuError) as caught:
        load_menu_file(path)
    assert [p.render(str(path)) for p in caught.value.problems] == [expected(path)]
