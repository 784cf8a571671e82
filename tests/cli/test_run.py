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
