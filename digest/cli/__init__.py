"""The `digest` command: one module per command group, errors mapped in one place.

    check               check.py        validate the configuration, render a sample
    run, resume         run.py          build and deliver; finish what was left unsent
    preview             preview.py      the next issue as files
    status              status.py       next firings, recent issues, failing sources
    sources             sources.py      each source's health
    extract             extract.py      what extraction makes of a page or file
    lists               lists.py        lists with their members by status
    subscribers ...     subscribers.py  add, remove, show, import, export, suppress
    drafts, approve, drop   drafts.py   an editor's work: drafts waiting, approve, drop
    users ...           users.py        desk accounts: add, list, remove, password
    serve, web          serve.py        the long-lived service; the web app alone
    db upgrade          db.py           schema migrations

Exit codes: 0 done, 1 the job failed, 2 bad usage or configuration (`digest.cli.errors`).
Command modules import the heavy parts of Digest inside their commands, so `digest --help`
starts without them.
"""

from __future__ import annotations

import gc
from typing import Annotated

import typer

from digest import __version__
from digest.cli import (
    check,
    db,
    drafts,
    extract,
    lists,
    preview,
    run,
    serve,
    sources,
    status,
    subscribers,
    users,
)
from digest.cli.common import LogFormatOption, setup_logging, state
from digest.cli.errors import DigestGroup

__all__ = ["app", "main"]

app = typer.Typer(
    name="digest",
    cls=DigestGroup,
    help="Build newsletter digests from your sources and deliver them exactly once.",
    no_args_is_help=True,
    add_completion=True,  # digest --install-completion bash|zsh|fish|powershell
    pretty_exceptions_enable=False,
    # Plain click help and usage errors: rich's help panels import rich.markdown, pygments and
    # rich.traceback, about 100 ms of a 250 ms `digest --help` on a small machine.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"digest {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log what happens; tracebacks on errors")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
    log_format: LogFormatOption = None,
) -> None:
    """Build newsletter digests from your sources and deliver them exactly once."""
    state.verbose, state.log_format = False, None  # each invocation starts afresh
    if verbose or log_format:
        setup_logging(verbose, log_format)


for _module in (
    check,
    run,
    preview,
    drafts,
    status,
    sources,
    extract,
    lists,
    subscribers,
    users,
    serve,
    db,
):
    _module.register(app)


def main() -> None:
    """Entry point of the console script."""
    # A run allocates hundreds of thousands of objects that live until it ends (items, rows,
    # parsed feeds). At CPython's default threshold (700) the cyclic collector walks that
    # growing heap again and again, about a fifth of a warm preview's time, and once more at
    # exit; mypy raises its threshold for the same reason. Collections still happen, less
    # often, so a long-running `digest serve` keeps its memory in check.
    gc.set_threshold(10_000, 50, 100)
    try:
        app()
    finally:
        gc.freeze()  # exiting: what is left is freed with the process, no final collection
