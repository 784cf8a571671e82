"""The store is reached through its facade: nothing outside digest/store imports the modules
behind `digest.store` (the store's own tests may, for its internals)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _submodule_imports(path: Path) -> list[str]:
    """The `digest.store.<module>` imports of one file, as `line: module`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found += [f"{node.lineno}: {n}" for n in names if n.startswith("digest.store.")]
    return found


@pytest.mark.slow
def test_nothing_outside_the_store_imports_its_modules() -> None:
    inside = [ROOT / "digest" / "store", ROOT / "tests" / "store"]
    offenders = {
        str(path.relative_to(ROOT)): found
        for folder in ("digest", "tests", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if not any(path.is_relative_to(allowed) for allowed in inside)
        if (found := _submodule_imports(path))
    }
    assert offenders == {}, "import these from digest.store"
