"""The `digest` command as a whole: --version, -h, shell completion."""

from __future__ import annotations

import os
import subprocess
import sys

from typer.testing import CliRunner

from digest import __version__
from digest.cli import app
from tests.cli.process import ROOT

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"digest {__version__}"


def test_python_m_digest_is_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "digest", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == f"digest {__version__}", done.stderr


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


# What `digest --help` must not import: each costs tens of milliseconds of start-up on a small
# machine (bench/startup.py prints the figures). typer's rich help alone imported rich.markdown,
# pygments and rich.traceback.
HEAVY = (
    "rich",
    "pydantic",
    "sqlalchemy",
    "httpx",
    "jinja2",
    "lxml",
    "babel",
    "apscheduler",
    "starlette",
    "asyncio",
    "logging",
)
_PROBE = """
import sys
sys.argv = ["digest", *sys.argv[1:]]
from digest.cli import main
try:
    main()
except SystemExit:
    pass
heavy = {name.partition(".")[0] for name in sys.modules} & set(sys.argv[-1].split(","))
print(",".join(sorted(heavy)), file=sys.stderr)
"""


def _heavy_imports(*args: str) -> list[str]:
    """The HEAVY packages a fresh `digest ARGS` process has imported when it exits."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args, ",".join(HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return [name for name in done.stderr.strip().split(",") if name]


def test_help_and_version_start_without_the_heavy_parts() -> None:
    assert _heavy_imports("--help") == []
    assert _heavy_imports("--version") == []


def test_the_probe_sees_heavy_imports() -> None:
    """The probe above can fail: `digest check` does load pydantic (the configuration)."""
    assert "pydantic" in _heavy_imports("check", "--config", str(ROOT / "config/example.toml"))
