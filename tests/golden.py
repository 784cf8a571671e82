"""The one golden-file helper: compare output with its file, or rewrite the file on request.

    assert_golden(GOLDEN / "issue.html", html)

Run with `UPDATE_GOLDEN=1` after an intended change to rewrite the files, then review the diff
(`git diff tests/`) before committing them. Files are compared byte for byte (no newline
translation), so CRLF in a MIME message is checked too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["assert_golden", "updating"]


def updating() -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"


def assert_golden(path: Path, actual: str | bytes) -> None:
    data = actual.encode("utf-8") if isinstance(actual, str) else actual
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    if not path.exists():
        pytest.fail(f"{path} is missing; run with UPDATE_GOLDEN=1 to create it")
    expected = path.read_bytes()
    if data != expected:
        # Show the text diff pytest makes of two strings, not two byte strings.
        assert data.decode("utf-8", "replace") == expected.decode("utf-8", "replace"), (
            f"{path.name} differs from the golden file; if intended, rerun with UPDATE_GOLDEN=1"
        )
        pytest.fail(f"{path.name} differs from the golden file in bytes only (line endings?)")
