"""The `digest` command end to end on the offline example: check, run (twice), preview."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cfg(example_dir: Path) -> str:
    return str(example_dir / "example.toml")


def test_check_prints_a_summary(cfg: str) -> None:
    code, out, _ = invoke("check", "--config", cfg)
    assert code == 0
    assert "ok" in out and "example" in out and "0 8 * * MON" in out


def test_check_names_a_misspelled_key_and_exits_2(cfg: str) -> None:
    path = Path(cfg)
    path.write_text(path.read_text().replace("summary_words", "sumary_words"))
    code, _, err = invoke("check", "--config", cfg)
    assert code == 2
    assert f"{cfg}: digests.example.sumary_words: unknown key" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('schedule = "0 8 * * MON"', 'schedule = "every monday"', "digests.example.schedule"),
        ('timezone = "Europe/Berlin"', 'timezone = "Mars/Olympus"', "digests.example.timezone"),
        ('list = "readers"', 'list = "ghosts"', "digests.example.list: no list 'ghosts'"),
        ('path = "example/articles"', 'path = "nowhere"', "sources.newsroom.path: folder"),
        ('provider = "outbox"', 'provider = "pigeon"', "digests.example.provider"),
    ],
)
def test_each_bad_configuration_exits_2_with_its_key(
    cfg: str, old: str, new: str, expected: str
) -> None:
    path = Path(cfg)
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    for command in (["check"], ["run", "example"], ["preview", "example"]):
        code, _, err = invoke(*command, "--config", cfg)
        assert code == 2, command
        assert expected in err


def test_run_delivers_one_message_per_subscriber_then_nothing(cfg: str, home: Path) -> None:
    code, out, err = invoke("run", "example", "--config", cfg, "--home", str(home))
    assert code == 0, err
    files = sorted((home / "outbox").glob("*.eml"))
    assert len(files) == 3
    recipients = set()
    for file in files:
        message = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
        recipients.add(message["To"].addresses[0].addr_spec)
        assert message["List-Unsubscribe"].startswith("<https://news.example.org/unsubscribe/")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_content_type() == "multipart/alternative"
        parts = [part.get_content_type() for part in message.iter_parts()]
        assert parts == ["text/plain", "text/html"]
    assert recipients == {"ada@example.org", "grace@example.net", "oneil@example.com"}
    assert "3 sent" in out

    code, out, _ = invoke("run", "example", "--config", cfg, "--home", str(home))
    assert code == 0
    assert "nothing new" in out and "nothing sent" in out
    assert len(list((home / "outbox").glob("*.eml"))) == 3

    code, out, _ = invoke("status", "--config", cfg, "--home", str(home), "--json")
    assert code == 0
    issues = json.loads(out)
    assert [i["status"] for i in issues] == ["skipped", "complete"]
    assert issues[1]["deliveries"] == {"sent": 3}


def test_preview_writes_the_issue_and_marks_nothing_sent(
    cfg: str, home: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "preview"
    code, _out, err = invoke(
        "preview", "example", "--config", cfg, "--home", str(home), "--out", str(out_dir)
    )
    assert code == 0, err
    assert {p.name for p in out_dir.iterdir()} == {
        "issue.html",
        "issue.txt",
        "issue.eml",
        "issue.json",
    }
    summary = json.loads((out_dir / "issue.json").read_text())
    assert summary["digest"] == "example"
    titles = [a["title"] for a in summary["articles"]]
    assert "Night ferry returns after two-year pause" in titles
    assert "Central library to open until midnight during exam season" in titles
    assert all(
        set(a) >= {"title", "url", "source", "published", "summary"} for a in summary["articles"]
    )
    assert not (home / "outbox").exists()
    # nothing was marked as sent: a run afterwards still sends the full issue
    code, _, err = invoke("run", "example", "--config", cfg, "--home", str(home))
    assert code == 0, err
    assert len(list((home / "outbox").glob("*.eml"))) == 3


def test_unknown_digest_is_a_usage_error(cfg: str, home: Path) -> None:
    code, _, err = invoke("run", "weekly", "--config", cfg, "--home", str(home))
    assert code == 2
    assert "no digest named 'weekly'" in err


def test_check_renders_a_sample_issue_and_names_template_errors(cfg: str) -> None:
    path = Path(cfg)
    templates = path.parent / "my-templates"
    templates.mkdir()
    (templates / "issue.html").write_text(
        '{% extends "base.html" %}{% block content %}{{ no_such_variable }}{% endblock %}'
    )
    path.write_text(
        path.read_text().replace(
            "summary_words = 60", 'summary_words = 60\ntemplate = "my-templates"'
        )
    )
    code, _, err = invoke("check", "--config", cfg)
    assert code == 2
    assert "digests.example.template:" in err and "no_such_variable" in err


def test_check_warns_when_a_full_issue_would_not_fit_the_budget(cfg: str) -> None:
    path = Path(cfg)
    text = path.read_text().replace("max_articles = 12", "max_articles = 120")
    path.write_text(text.replace("summary_words = 60", "summary_words = 120\nsize_budget = 20000"))
    code, out, _ = invoke("check", "--config", cfg)
    assert code == 0
    assert "example (sample of 120 articles): HTML" in out
    assert "warning:" in out  # what was done to fit: images, shorter summaries, more stories
