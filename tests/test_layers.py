"""The import-linter contracts in pyproject.toml hold, and they do catch what they forbid."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the `digest` package found in `tree`, with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = "from importlinter.cli import lint_imports_command as c; c()"
    return subprocess.run(
        [sys.executable, "-c", command, "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copytree(ROOT / "digest", tmp_path / "digest", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_package_keeps_its_contracts() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


def test_an_upward_import_breaks_the_layers(tree: Path) -> None:
    models = tree / "digest" / "models.py"
    models.write_text(models.read_text() + "\nfrom digest.pipeline import build  # upward\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "digest.models -> digest.pipeline" in result.stdout


def test_a_cycle_inside_a_package_is_caught(tree: Path) -> None:
    build = tree / "digest" / "pipeline" / "build.py"  # lifecycle imports build: now both ways
    build.write_text(build.read_text() + "\nfrom digest.pipeline import lifecycle\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "No cycles are allowed in digest.pipeline" in result.stdout
    assert ".build -> .lifecycle" in result.stdout


def test_reaching_into_the_store_is_caught(tree: Path) -> None:
    compose = tree / "digest" / "compose.py"
    compose.write_text(compose.read_text() + "\nfrom digest.store import schema\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "digest.compose -> digest.store.schema" in result.stdout
