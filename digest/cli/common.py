"""What every command shares: the options, the two consoles, logging and the workspace.

Commands never catch Digest's errors themselves: `digest.cli.errors` turns every one of them
into one line and an exit code, in one place.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from digest.errors import UsageError
from digest.progress import SILENT, Progress, Task

if TYPE_CHECKING:
    from rich.console import Console

    from digest.workspace import Workspace

__all__ = [
    "ConfigOption",
    "HomeOption",
    "JsonOption",
    "LogFormatOption",
    "VerboseOption",
    "err",
    "escape",
    "open_workspace",
    "out",
    "print_report",
    "progress",
    "setup_logging",
    "state",
]

# Wide enough for tables when output is not a terminal (rich would assume 80 columns).
_WIDTH = shutil.get_terminal_size((120, 24)).columns


class _LazyConsole:
    """A rich `Console` made at its first use, so `digest --help` starts without rich."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def get(self) -> Console:
        """The console itself (made now if need be)."""
        if self._console is None:
            from rich.console import Console  # lazy: start-up time (rich is ~35 ms)

            self._console = Console(stderr=self._stderr, highlight=False, width=_WIDTH)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


out = cast("Console", _LazyConsole(stderr=False))
err = cast("Console", _LazyConsole(stderr=True))


def escape(text: str) -> str:
    """`text` with rich markup escaped, so a `[` from a feed or a user is printed as it is."""
    from rich.markup import escape as rich_escape  # lazy: start-up time

    return rich_escape(text)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="configuration file (default: $DIGEST_CONFIG, config/digest.toml, "
        "config/example.toml)",
        show_default=False,
    ),
]
HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="data directory (default: $DIGEST_HOME, else the configuration's `home`, else var "
        "beside the configuration file)",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="log what happens; tracebacks on errors")
]


LogFormatOption = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        help="text or json (one JSON object per line); default: the configuration's log.format",
        show_default=False,
    ),
]


@dataclass
class _State:
    verbose: bool = False  # set by -v: errors show their traceback (see digest.cli.errors)
    log_format: str | None = None  # from --log-format; else the configuration's log.format


state = _State()


def setup_logging(verbose: bool = False, log_format: str | None = None) -> None:
    """INFO with -v, else warnings only; -v also asks for tracebacks on errors. Without -v
    and in text, Python's own last-resort handler prints warnings as bare lines."""
    # lazy: `digest --help` starts without logging
    import logging

    from digest.logs import configure_logging

    state.verbose = state.verbose or verbose
    if log_format is not None:
        if log_format not in ("text", "json"):
            raise UsageError(f"--log-format {log_format!r}: use text or json")
        state.log_format = log_format
    if state.verbose or state.log_format == "json":
        configure_logging(
            logging.INFO if state.verbose else logging.WARNING,
            "json" if state.log_format == "json" else "text",
        )


@contextmanager
def open_workspace(config: Path | None, home: Path | None) -> Iterator[Workspace]:
    """The workspace of the configuration and data directory the options name."""
    # lazy: `digest --help` starts without the store, the fetcher and pydantic
    from digest.config import load_config
    from digest.workspace import Workspace, resolve_home

    loaded = load_config(config)
    if state.log_format is None and loaded.log.format == "json":
        setup_logging(log_format="json")
    ws = Workspace.open(loaded, resolve_home(home, loaded))
    try:
        yield ws
    finally:
        ws.close()


class _BarTask(Task):
    def __init__(self, bars: Any, label: str, total: int | None) -> None:
        self.bars = bars
        self.id = bars.add_task(label, total=total)

    def advance(self, amount: int = 1) -> None:
        self.bars.advance(self.id, amount)

    def done(self) -> None:
        self.bars.update(self.id, visible=False)


class TerminalProgress(Progress):
    """Rich progress bars on standard error while a command runs (see `progress`)."""

    def __init__(self, console: Console) -> None:
        # lazy: rich.progress only when a terminal watches
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bars

        self.bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )

    def task(self, label: str, total: int | None = None) -> Task:
        return _BarTask(self.bars, label, total)


@contextmanager
def progress(console: Console | None = None) -> Iterator[Progress]:
    """Progress bars when standard error is a terminal; silence otherwise (cron, pipes)."""
    console = console or err
    if isinstance(console, _LazyConsole):
        console = console.get()  # rich's live display keeps the console itself
    if not console.is_terminal:
        yield SILENT
        return
    shown = TerminalProgress(console)
    with shown.bars:
        yield shown


def print_report(report: dict[str, Any]) -> None:
    """A build's failed sources, skipped articles and warnings, one line each on stderr.

    Their text comes from feeds and pages: escaped, so a `[` in it is never read as markup."""
    for source, reason in (report.get("failed_sources") or {}).items():
        err.print(
            f"[yellow]source failed:[/yellow] {escape(f'{source}: {reason}')}", soft_wrap=True
        )
    for error in report.get("extraction_errors") or []:
        item = str(error["item"])
        why = str(error["error"]).removeprefix(f"{item}: ")  # a fetch error names its URL already
        line = f"{error['source']}: {item}: {why}"
        err.print(f"[yellow]skipped article:[/yellow] {escape(line)}", soft_wrap=True)
    for warning in report.get("warnings") or []:
        err.print(f"[yellow]warning:[/yellow] {escape(str(warning))}", soft_wrap=True)
    summaries = report.get("summaries") or {}
    if summaries.get("summarizer") == "llm" or summaries.get("fallback"):
        reasons = ", ".join(f"{n} {why}" for why, n in summaries.get("reasons", {}).items())
        err.print(
            f"summaries: {summaries.get('model', 0)} by the model "
            f"({summaries.get('cached', 0)} kept from an earlier build), "
            f"{summaries.get('fallback', 0)} leads instead" + (f" ({reasons})" if reasons else ""),
            soft_wrap=True,
        )
        for fallback in summaries.get("fallbacks") or []:
            line = f"{fallback['title']}: {fallback['reason']} ({fallback['detail']})"
            err.print(f"[yellow]lead used:[/yellow] {escape(line)}", soft_wrap=True)
