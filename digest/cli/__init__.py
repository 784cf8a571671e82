"""The `digest` command. Exit codes: 0 done, 1 the job failed, 2 bad usage or configuration.

A user's mistake prints one clear line (no traceback): every `DigestError` is caught here.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from digest.config import Config, load_config
from digest.errors import ConfigError, DigestError, UsageError
from digest.models import IssueStatus

app = typer.Typer(
    name="digest",
    help="Build newsletter digests from your sources and deliver them exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

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
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="log what happens")]

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Turn Digest's errors into one line on stderr and the right exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                err.print(f"[red]error:[/red] {problem}", markup=True, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except DigestError as exc:
            err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def home_dir(home: Path | None) -> Path:
    return home or Path(os.environ.get("DIGEST_HOME", "var"))


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def open_workspace(config: Path | None, home: Path | None) -> Any:
    from digest.pipeline import Workspace

    return Workspace.open(load_config(config), home_dir(home))


@app.command()
@friendly
def check(config: ConfigOption = None) -> None:
    """Validate the configuration: exit 0 with a summary, or 2 with one line per problem."""
    from digest.errors import RenderError
    from digest.pipeline import sample_render

    loaded = load_config(config)
    summarize_config(loaded)
    failed = False
    for name in loaded.digests:
        try:
            lines = sample_render(loaded, name)
        except RenderError as exc:
            err.print(f"[red]error:[/red] digests.{name}.template: {exc}", soft_wrap=True)
            failed = True
            continue
        for line in lines:
            style = (
                "yellow" if ("OVER BUDGET" in line or line.startswith(("warning", "lint"))) else ""
            )
            text = f"{name} (sample of {loaded.digests[name].max_articles} articles): {line}"
            out.print(f"[{style}]{text}[/{style}]" if style else text, soft_wrap=True)
    if failed:
        raise typer.Exit(2)


def summarize_config(config: Config) -> None:
    out.print(f"[green]ok[/green] {config.path}")
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for column in ("digest", "schedule", "time zone", "window", "sources", "list", "provider"):
        table.add_column(column)
    for name, digest in config.digests.items():
        table.add_row(
            name,
            digest.schedule,
            digest.timezone,
            digest.window,
            ", ".join(digest.sources),
            digest.list,
            f"{digest.provider} ({config.providers[digest.provider].kind})",
        )
    out.print(table)
    out.print(
        f"{len(config.sources)} sources, {len(config.lists)} lists, "
        f"{len(config.providers)} providers, "
        f"store: {config.store.url or 'SQLite in the data directory'}"
    )


@app.command()
@friendly
def run(
    digest: Annotated[str, typer.Argument(help="name of the digest")],
    config: ConfigOption = None,
    home: HomeOption = None,
    max_wait: Annotated[
        float, typer.Option(help="seconds to keep waiting for retries before leaving them")
    ] = 600.0,
    verbose: VerboseOption = False,
) -> None:
    """Build the digest's current issue and deliver it to every active subscriber."""
    from digest.pipeline import run_digest

    setup_logging(verbose)
    ws = open_workspace(config, home)
    try:
        ws.config.digest(digest)
        result = asyncio.run(run_digest(ws, digest, max_wait=max_wait))
    finally:
        ws.close()
    for resumed in result.resumed:
        out.print(f"resumed issue {resumed.issue_id}: {resumed.status} {resumed.counts}")
    _print_report(result.report)
    if result.status == IssueStatus.SKIPPED:
        out.print(f"{digest}: {result.message}; nothing sent")
        return
    out.print(f"{digest}: {result.message}")
    if result.status in (IssueStatus.FAILED, IssueStatus.PARTIAL) or (
        result.dispatch is not None and result.dispatch.error
    ):
        raise typer.Exit(1)


def _print_report(report: dict[str, Any]) -> None:
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


@app.command()
@friendly
def preview(
    digest: Annotated[str, typer.Argument(help="name of the digest")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write the preview into")] = Path(
        "preview"
    ),
    config: ConfigOption = None,
    home: HomeOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Write the next issue as issue.html, issue.txt, issue.eml and issue.json; send nothing."""
    from digest.pipeline import render_settings, write_preview
    from digest.render import render_report

    setup_logging(verbose)
    ws = open_workspace(config, home)
    try:
        ws.config.digest(digest)
        draft = asyncio.run(write_preview(ws, digest, out_dir))
        report_lines = (
            render_report(draft.rendered, render_settings(ws, digest)) if draft.rendered else []
        )
    finally:
        ws.close()
    _print_report(draft.report)
    if draft.rendered is None:
        out.print(f"{digest}: nothing new to send; preview not written")
        return
    for line in report_lines:
        out.print(f"{digest}: {line}", soft_wrap=True)
    size_kb = draft.rendered.html_size / 1024
    out.print(
        f"{digest}: {len(draft.rendered.articles)} articles, HTML {size_kb:.1f} KB -> {out_dir}/"
    )


@app.command()
@friendly
def resume(
    digest: Annotated[str | None, typer.Argument(help="only this digest")] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
    max_wait: Annotated[float, typer.Option(help="seconds to wait for retries")] = 600.0,
    verbose: VerboseOption = False,
) -> None:
    """Carry on sending issues that were frozen but not finished (after a crash or an outage)."""
    from digest.pipeline import resume_unfinished

    setup_logging(verbose)
    ws = open_workspace(config, home)
    try:
        reports = asyncio.run(resume_unfinished(ws, digest, max_wait=max_wait))
    finally:
        ws.close()
    if not reports:
        out.print("nothing unfinished")
    failed = False
    for report in reports:
        out.print(f"issue {report.issue_id}: {report.status} {report.counts}")
        failed = failed or report.status in (IssueStatus.FAILED, IssueStatus.PARTIAL)
    if failed:
        raise typer.Exit(1)


@db_app.command("upgrade")
@friendly
def db_upgrade(config: ConfigOption = None, home: HomeOption = None) -> None:
    """Apply the schema migrations (also done on every start)."""
    from digest.store import open_store

    loaded = load_config(config)
    directory = home_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    store = open_store(loaded.store.url, directory)  # migrates
    try:
        out.print(f"store at revision {store.revision()}")
    finally:
        store.close()


def _register_commands() -> None:
    """Commands that live in their own modules add themselves here (one line each)."""
    from importlib import import_module

    for module in COMMAND_MODULES:
        import_module(f"digest.cli.{module}").register(app)


# Modules under digest/cli/ with a `register(app)` function.
COMMAND_MODULES: tuple[str, ...] = ("extract", "sources", "lists", "serve", "status")

_register_commands()


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
    except UsageError as exc:  # raised outside a command
        err.print(f"error: {exc}")
        sys.exit(2)
    finally:
        gc.freeze()  # exiting: what is left is freed with the process, no final collection
