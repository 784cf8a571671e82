"""Logs as text or JSON lines, naming the digest, issue and source they are about."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from digest.cli import app
from digest.logs import configure_logging, context_with, log_context

log = logging.getLogger("digest.test")


@pytest.fixture
def captured() -> io.StringIO:
    return io.StringIO()  # conftest removes the handler each test configures


def test_json_lines_carry_the_context_one_event_per_line(captured: io.StringIO) -> None:
    configure_logging(logging.INFO, "json", captured)

    async def source(name: str) -> None:
        with log_context(source=name):
            await asyncio.sleep(0)
            log.info("fetched %s", name)

    async def build() -> None:
        with log_context(digest="weekly", issue=12):
            await asyncio.gather(source("lwn"), source("hn"))
            try:
                raise ValueError("bad\nthing")
            except ValueError:
                log.exception("failed")
        log.warning("outside")

    asyncio.run(build())
    lines = captured.getvalue().splitlines()
    events = [json.loads(line) for line in lines]
    assert len(lines) == 4  # the traceback stays inside its event
    by_message = {event["message"]: event for event in events}
    assert by_message["fetched lwn"]["source"] == "lwn"
    assert by_message["fetched hn"] | {"time": ""} == {
        "time": "",
        "level": "INFO",
        "logger": "digest.test",
        "message": "fetched hn",
        "digest": "weekly",
        "issue": 12,
        "source": "hn",
    }
    assert "ValueError: bad" in by_message["failed"]["exception"]
    assert "source" not in by_message["failed"]
    assert set(by_message["outside"]) == {"time", "level", "logger", "message"}


def test_text_lines_end_with_the_context(captured: io.StringIO) -> None:
    configure_logging(logging.INFO, "text", captured)
    configure_logging(logging.INFO, "text", captured)  # configuring again does not double lines
    with log_context(digest="weekly"):
        log.info("built")
    log.info("plain")
    lines = captured.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("INFO digest.test: built [digest=weekly]")
    assert lines[1].endswith("INFO digest.test: plain")


def test_a_task_started_elsewhere_logs_under_the_names_it_was_given(
    captured: io.StringIO,
) -> None:
    configure_logging(logging.INFO, "json", captured)

    async def fire() -> None:
        log.info("fired")

    async def main() -> None:
        await asyncio.create_task(fire(), context=context_with(digest="daily"))

    asyncio.run(main())
    assert json.loads(captured.getvalue())["digest"] == "daily"


def test_a_run_logs_json_lines_with_digest_and_source(
    example_dir: Path, home: Path, captured: io.StringIO
) -> None:
    (example_dir / "example" / "harbour-gazette.xml").write_text("<rss><channel>", "utf-8")
    result = CliRunner().invoke(
        app,
        [
            "-v",
            "--log-format",
            "json",
            "run",
            "example",
            "--config",
            str(example_dir / "example.toml"),
            "--home",
            str(home),
        ],
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert events, result.stderr
    assert any(e.get("digest") == "example" for e in events)
    failed = [e for e in events if e["message"].startswith("source harbour-gazette failed")]
    assert failed and failed[0]["source"] == "harbour-gazette"
    assert failed[0]["digest"] == "example"


def test_the_configuration_chooses_json(example_dir: Path, home: Path) -> None:
    config = example_dir / "example.toml"
    config.write_text(config.read_text("utf-8") + '\n[log]\nformat = "json"\n', "utf-8")
    result = CliRunner().invoke(app, ["-v", "status", "--config", str(config), "--home", str(home)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines)


def test_an_unknown_log_format_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["--log-format", "xml", "status"])
    assert result.exit_code == 2
    assert "--log-format 'xml': use text or json" in result.output
