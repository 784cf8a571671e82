"""The CLI's one error path: a user's mistake is one line and exit 2; -v adds the traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.cli.common import state

runner = CliRunner()


@pytest.fixture(autouse=True)
def _quiet() -> None:
    state.verbose = False  # -v in one test must not leak into the next


@pytest.fixture
def cfg(example_dir: Path) -> str:
    return str(example_dir / "example.toml")


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--out", "/proc/nope"], "--out /proc/nope: cannot create the folder"),
        (["--home", "/etc/passwd"], "data directory /etc/passwd: not a folder"),
        (["--home", "/proc/no/such/folder"], "data directory /proc/no/such/folder: cannot"),
    ],
)
def test_unusable_folders_are_one_line_and_exit_2(
    cfg: str, home: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    full = ["preview", "example", "--config", cfg]
    if "--home" not in args:
        full += ["--home", str(home)]
    result = runner.invoke(app, [*full, *args])
    assert result.exit_code == 2
    assert _one_line(result.stderr).startswith(f"error: {expected}")


def test_unknown_digest_is_a_usage_error(cfg: str, home: Path) -> None:
    result = runner.invoke(app, ["run", "nosuch", "--config", cfg, "--home", str(home)])
    assert result.exit_code == 2
    assert "no digest named 'nosuch'" in _one_line(result.stderr)


def test_verbose_adds_the_traceback(cfg: str) -> None:
    result = runner.invoke(app, ["-v", "run", "example", "--config", cfg, "--home", "/etc/passwd"])
    assert result.exit_code == 2
    assert "error: data directory /etc/passwd: not a folder" in result.stderr
    assert "Traceback" in result.stderr and "UsageError" in result.stderr


def test_a_failed_job_exits_1_with_one_line(cfg: str, home: Path, tmp_path: Path) -> None:
    """A store that cannot be reached is the job failing (1), not a usage error (2)."""
    path = Path(cfg)
    path.write_text(
        path.read_text() + '\n[store]\nurl = "postgresql+psycopg://nobody@127.0.0.1:9/none"\n'
    )
    result = runner.invoke(app, ["status", "--config", cfg, "--home", str(home)])
    assert result.exit_code == 1, result.output
    assert _one_line(result.stderr).startswith("error: ")


@pytest.mark.parametrize("where", ["environment", "file"])
def test_a_short_signing_key_is_one_line_and_exit_2(
    cfg: str, home: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "environment":
        monkeypatch.setenv("DIGEST_SECRET_KEY", "too-short-a-key")
        expected = "error: $DIGEST_SECRET_KEY: the link-signing key is 15 bytes"
    else:
        monkeypatch.delenv("DIGEST_SECRET_KEY", raising=False)
        (home / "secret.key").write_text("too-short-a-key\n", encoding="utf-8")
        expected = f"error: {home / 'secret.key'}: the link-signing key is 15 bytes"
    result = runner.invoke(app, ["status", "--config", cfg, "--home", str(home)])
    assert result.exit_code == 2
    assert _one_line(result.stderr).startswith(expected)
