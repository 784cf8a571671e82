"""Golden files of the example issue: what `digest preview example` writes, inlined HTML, text
and the whole message (.eml) a subscriber receives; in English, and with `locale = "de"` (the
same stories in a German issue: its words and dates).

The example runs at a fixed moment with fixed file times and a fixed signing key, so the output
is stable; only the MIME boundary is random and is normalized. Regenerate after an intended
change with `UPDATE_GOLDEN=1` and review the diff.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from typer.testing import CliRunner

from digest.cli import app
from tests.golden import assert_golden

GOLDEN = Path(__file__).parent / "golden"
MOMENT = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize("locale", ["en", "de"])
def test_example_issue_matches_golden_files(
    example_dir: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, locale: str
) -> None:
    suffix = "" if locale == "en" else f"-{locale}"
    if locale != "en":
        config = example_dir / "example.toml"
        config.write_text(
            config.read_text().replace(
                "summary_words = 60", f'summary_words = 60\nlocale = "{locale}"'
            )
        )
    monkeypatch.setenv("DIGEST_SECRET_KEY", "golden-test-key-not-secret-0123456789")
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
    assert_golden(GOLDEN / f"example-issue{suffix}.html", (out_dir / "issue.html").read_bytes())
    assert_golden(GOLDEN / f"example-issue{suffix}.txt", (out_dir / "issue.txt").read_bytes())
    message = re.sub(
        rb"=_digest_[0-9a-f]+", b"=_digest_BOUNDARY", (out_dir / "issue.eml").read_bytes()
    )
    assert_golden(GOLDEN / f"example-issue{suffix}.eml", message)
