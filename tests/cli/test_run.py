"""`digest run` on the offline example: one message per subscriber, then nothing new."""

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


@pytest.mark.slow
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


def test_unknown_digest_is_a_usage_error(cfg: str, home: Path) -> None:
    code, _, err = invoke("run", "weekly", "--config", cfg, "--home", str(home))
    assert code == 2
    assert "no digest named 'weekly'" in err


def test_run_json_and_a_quiet_week_exits_0(cfg: str, home: Path) -> None:
    code, out, err = invoke("run", "example", "--config", cfg, "--home", str(home), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "complete" and result["deliveries"] == {"sent": 3}
    assert result["failed"] is False and result["failed_sources"] == {}
    code, out, err = invoke("run", "example", "--config", cfg, "--home", str(home), "--json")
    assert code == 0, err  # nothing new: a quiet week is no failure
    assert json.loads(out)["status"] == "skipped"


def test_every_source_failing_exits_1_and_says_so_once(example_dir: Path, home: Path) -> None:
    config = example_dir / "example.toml"
    text = config.read_text()
    text = text.replace('url = "example/harbour-gazette.xml"', 'url = "http://127.0.0.1:9/a.xml"')
    text = text.replace(
        'kind = "folder"\npath = "example/articles"',
        'kind = "feed"\nurl = "http://127.0.0.1:9/b.xml"',
    )
    config.write_text(text)
    code, out, err = invoke("run", "example", "--config", str(config), "--home", str(home))
    assert code == 1
    assert err.count("source failed: harbour-gazette") == 1
    assert err.count("source failed: newsroom") == 1
    assert "every source of example failed" in err and "nothing new to send" in out
