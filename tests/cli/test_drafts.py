"""`digest drafts`, `approve`, `drop` and `run --now`: an editor's work from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app

runner = CliRunner()


@pytest.fixture
def cfg(example_dir: Path) -> Path:
    config = example_dir / "example.toml"
    config.write_text(
        config.read_text().replace("[digests.example]\n", "[digests.example]\napproval = true\n")
    )
    return config


def invoke(cfg: Path, home: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*args, "--config", str(cfg), "--home", str(home)])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_a_draft_is_approved_and_sent_from_the_command_line(cfg: Path, home: Path) -> None:
    code, out, err = invoke(cfg, home, "run", "example")
    assert code == 0, err
    assert "waiting for an editor's approval" in out
    assert not (home / "outbox").exists()

    code, out, _ = invoke(cfg, home, "drafts", "--json")
    [draft] = json.loads(out)
    assert draft["status"] == "draft" and draft["stories"] >= 3

    code, out, err = invoke(cfg, home, "run", "example")  # a second run: no second draft
    assert code == 0, err
    assert json.loads(invoke(cfg, home, "drafts", "--json")[1])[0]["issue"] == draft["issue"]
    assert len(json.loads(invoke(cfg, home, "drafts", "--json")[1])) == 1

    code, out, err = invoke(cfg, home, "run", "example", "--now")
    assert code == 2 and "no approved issue" in err

    code, out, err = invoke(cfg, home, "approve", "example")
    assert code == 0, err
    assert f"issue {draft['issue']} approved" in out
    assert json.loads(invoke(cfg, home, "drafts", "--json")[1])[0]["status"] == "approved"

    code, out, err = invoke(cfg, home, "run", "example", "--now")
    assert code == 0, err
    assert len(list((home / "outbox").glob("*.eml"))) == 3
    assert invoke(cfg, home, "drafts")[1].strip() == "no drafts or approved issues waiting"


def test_drop_and_bad_issue_numbers(cfg: Path, home: Path) -> None:
    assert invoke(cfg, home, "drop", "example")[0] == 2  # nothing waiting yet
    invoke(cfg, home, "run", "example")
    code, _, err = invoke(cfg, home, "approve", "example", "--issue", "999")
    assert code == 2 and "999" in err
    code, out, _ = invoke(cfg, home, "drop", "example")
    assert code == 0 and "dropped" in out
    code, out, err = invoke(cfg, home, "approve", "example")
    assert code == 2 and "no draft or approved issue waiting" in err
