"""README "Architecture" says what each package may import; this keeps it true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ivrflow"

# Package -> the ivrflow packages (and top-level modules) it may import.
MAY_IMPORT: dict[str, set[str]] = {
    "engine": {"menu"},
    "menu": set(),
    "calls": {"engine", "menu"},
    "freeswitch": {"calls", "engine", "menu", "logs", "safe_xml"},
    "asterisk": {"calls", "engine", "menu", "cooperative_http"},
    "webhooks": {"menu", "cooperative_http", "safe_xml"},
    "voicemail": set(),
    "service": {"calls", "engine", "menu", "freeswitch", "asterisk", "logs", "webhooks", "menu_api", "voicemail"},
    "tools": {"calls", "engine", "menu", "freeswitch", "logs"},
    "testing": {"freeswitch"},
    "api": {"menu", "tools", "logs"},
    "menu_api": {"menu"},
}


def imported_packages(path: Path) -> set[str]:
    """The first component under ivrflow of every import in a module."""
    module = path.relative_to(SRC.parent).with_suffix("").parts  # ("ivrflow", pkg, name)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(module[: len(module) - node.level])
                target = base + (node.module.split(".") if node.module else [])
                if len(target) == 1:  # `from .. import x`: x is the package
                    target += [alias.name for alias in node.names][:1]
            else:
                target = (node.module or "").split(".")
            if target[0] == "ivrflow" and len(target) > 1 and target[1] != "__version__":
                found.add(target[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "ivrflow" and len(parts) > 1:
                    found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_what_the_readme_allows(package: str) -> None:
    offending = {}
    for path in sorted((SRC / package).rglob("*.py")):
        extra = imported_packages(path) - MAY_IMPORT[package] - {package}
        if extra:
            offending[str(path.relative_to(SRC))] = sorted(extra)
    assert offending == {}


def test_every_package_is_covered() -> None:
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(MAY_IMPORT)
