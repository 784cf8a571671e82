"""What every command shares: the options, the two consoles, logging and the workspace.

Commands never catch Digest's errors themselves: `digest.cli.errors` turns every one of them
into one line and an exit code, in one place.
"""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from digest.workspace import Workspace

__all__ = [
    "ConfigOption",
    "HomeOption",
    "VerboseOption",
    "err",
    "open_workspace",
    "out",
    "print_report",
    "setup_logging",
    "state",
]

# Wide enough for tables when output is not a terminal (rich would assume 80 columns).
_WIDTH = shutil.get_terminal_size((120, 24)).columns
out = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)

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
        "--home", help="data directory (default: $DIGEST_HOME, else ./var)", show_default=False
    ),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="log what happens; tracebacks on errors")
]


@dataclass
class _State:
    verbose: bool = False  # set by -v: errors show their traceback (see digest.cli.errors)


state = _State()


def setup_logging(verbose: bool) -> None:
    """INFO with -v, else warnings only; -v also asks for tracebacks on errors."""
    state.verbose = state.verbose or verbose
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@contextmanager
def open_workspace(config: Path | None, home: Path | None) -> Iterator[Workspace]:
    """The workspace of the configuration and data directory the options name."""
    # lazy: `digest --help` starts without the store, the fetcher and pydantic
    from digest.config import load_config
    from digest.workspace import Workspace, resolve_home

    ws = Workspace.open(load_config(config), resolve_home(home))
    try:
        yield ws
    finally:
        ws.close()


def print_report(report: dict[str, Any]) -> None:
    """A build's failed sources, skipped articles and warnings, one line each on stderr."""
    for source, reason in (report.get("failed_sources") or {}).items():
        err.print(f"[yellow]source failed:[/yellow] {source}: {reason}", soft_wrap=True)
    for error in report.get("extraction_errors") or []:
        err.print(
            "[yellow]skipped article:[/yellow] "
            f"{error['source']}: {error['item']}: {error['error']}",
            soft_wrap=True,
        )
    for warning in report.get("warnings") or []:
        err.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
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
            err.print(
                f"[yellow]lead used:[/yellow] {fallback['title']}: {fallback['reason']} "
                f"({fallback['detail']})",
                soft_wrap=True,
            )
