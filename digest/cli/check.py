"""`digest check`: validate the configuration, then render a full-size sample of each digest.

A template naming an unknown variable, or a design that would not fit the size budget with
`max_articles` full summaries, shows here instead of in a real run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from digest.cli.common import ConfigOption, err, out
from digest.errors import ConfigError, RenderError

if TYPE_CHECKING:
    from digest.config import Config

__all__ = ["check", "register"]


def check(config: ConfigOption = None) -> None:
    """Validate the configuration: exit 0 with a summary, or 2 with one line per problem."""
    # lazy: `digest --help` starts without pydantic and the pipeline
    from digest.config import load_config
    from digest.pipeline import sample_render
    from digest.send import secret_problems

    loaded = load_config(config)
    if problems := secret_problems(loaded.providers):
        raise ConfigError(problems)  # one line each, naming the variable, never its value
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


def register(app: typer.Typer) -> None:
    app.command()(check)
