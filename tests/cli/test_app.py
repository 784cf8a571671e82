"""The `digest` command as a whole: --version, -h, shell completion."""

from __future__ import annotations

from typer.testing import CliRunner

from digest import __version__
from digest.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"digest {__version__}"


def test_h_is_help_everywhere() -> None:
    for args in (["-h"], ["run", "-h"], ["users", "-h"], ["subscribers", "import", "-h"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage: digest" in result.stdout
    assert runner.invoke(app, ["-h"]).stdout == runner.invoke(app, ["--help"]).stdout


def test_completion_can_be_installed() -> None:
    result = runner.invoke(app, ["--show-completion", "bash"])
    assert result.exit_code == 0
    assert "complete" in result.stdout and "digest" in result.stdout.lower()
