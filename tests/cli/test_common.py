"""Progress bars on a terminal, silence elsewhere (cron, pipes, tests); reports of a build."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from digest.cli import common
from digest.cli.common import TerminalProgress, progress
from digest.progress import SILENT


def test_progress_is_silent_when_nobody_watches() -> None:
    piped = Console(file=io.StringIO(), force_terminal=False)
    with progress(piped) as shown:
        assert shown is SILENT
        shown.task("sending messages", 10).advance(10)
    assert piped.file.getvalue() == ""  # type: ignore[attr-defined]


def test_progress_draws_bars_on_a_terminal() -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100)
    with progress(terminal) as shown:
        assert isinstance(shown, TerminalProgress)
        task = shown.task("sending messages", 1500)
        task.advance(600)
        shown.bars.refresh()
        drawn = screen.getvalue()
        task.done()
    assert "sending messages" in drawn and "600/1500" in drawn


def test_a_report_shows_feed_text_as_it_is_and_each_url_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(common, "err", Console(file=screen, width=300, highlight=False))
    link = "http://10.0.0.7/a[b]"
    common.print_report(
        {
            "failed_sources": {"gazette": "HTTP 500 [bold]server[/bold] error"},
            "extraction_errors": [
                {"source": "feed", "item": link, "error": f"{link}: refused: a private address"}
            ],
            "warnings": ["title [red]x[/red] too long"],
        }
    )
    lines = screen.getvalue().splitlines()
    assert lines == [
        "source failed: gazette: HTTP 500 [bold]server[/bold] error",
        f"skipped article: feed: {link}: refused: a private address",
        "warning: title [red]x[/red] too long",
    ]
