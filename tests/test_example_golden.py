"""Golden files of the example issue: what `digest preview example` writes, inlined HTML and text.

The example runs at a fixed moment with fixed file times and a fixed signing key, so the output
is stable. Regenerate after an intended change with `DIGEST_REGEN_GOLDEN=1` and review the diff.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from typer.testing import CliRunner

from digest.cli import app

GOLDEN = Path(__file__).parent / "golden"
MOMENT = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def _compare(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DIGEST_REGEN_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; run with DIGEST_REGEN_GOLDEN=1 to create it")
    assert actual == path.read_text(encoding="utf-8"), (
        f"{name} differs from the golden file; if intended, regenerate with DIGEST_REGEN_GOLDEN=1"
    )


def test_example_issue_matches_golden_files(
    example_dir: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SECRET_KEY", "golden-test-key-not-secret")
    stamp = (MOMENT.timestamp() - 3600, MOMENT.timestamp() - 3600)
    for index, path in enumerate(sorted((example_dir / "example" / "articles").iterdir())):
        os.utime(path, (stamp[0] - index * 60, stamp[1] - index * 60))
    out_dir = tmp_path / "preview"
    with time_machine.travel(MOMENT, tick=False):
        result = CliRunner().invoke(
            app,
            [
                "preview",
                "example",
                "--config",
                str(example_dir / "example.toml"),
                "--home",
                str(home),
                "--out",
                str(out_dir),
            ],
        )
    assert result.exit_code == 0, result.stderr
    _compare("example-issue.html", (out_dir / "issue.html").read_text(encoding="utf-8"))
    _compare("example-issue.txt", (out_dir / "issue.txt").read_text(encoding="utf-8"))
