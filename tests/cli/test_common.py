"""Progress bars on a terminal, silence elsewhere (cron, pipes, tests)."""

from __future__ import annotations

import io

from rich.console import Console

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
