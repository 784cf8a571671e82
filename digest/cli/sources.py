"""`digest sources`: every configured source with its health, so an operator sees what is failing.

    digest sources [--config PATH] [--home DIR] [--json]
    digest sources export --opml [--output FILE] [--config PATH]

One line per source: its kind and address, whether its last attempt worked, when it last
succeeded and last brought a new item, how many items its last fetch had, how many times in a row
it has failed, and why it failed last. Exit code 1 when any source is failing now.

`export --opml` writes the configured feeds as an OPML list any feed reader imports: each feed
source, and the feeds of each OPML source read from a file.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import ConfigOption, HomeOption, err, open_workspace, out


def _age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = max(0.0, (now - when).total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


group = typer.Typer(invoke_without_command=True, no_args_is_help=False)


@group.callback()
def sources(
    ctx: typer.Context,
    config: ConfigOption = None,
    home: HomeOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Every source's health: last success, last error, failures in a row, items last fetched."""
    if ctx.invoked_subcommand is not None:
        return

    from rich.table import Table  # lazy: `digest --help` starts without it

    from digest.sources.health import source_rows  # lazy, as above

    with open_workspace(config, home) as ws:
        rows = source_rows(ws.config, ws.store.source_health())
    failing = [row for row in rows if row["state"] == "failing"]
    if json_output:
        out.print_json(json.dumps(rows, default=lambda value: value.isoformat()))
    else:
        now = datetime.now(UTC)
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("source", "kind", "state", "last success", "last new item",
                       "last fetch", "failures"):  # fmt: skip
            table.add_column(column, no_wrap=True)
        table.add_column("last error", overflow="fold")
        for row in rows:
            state = row["state"]
            shown = {"failing": "[red]failing[/red]", "ok": "[green]ok[/green]"}.get(state, state)
            table.add_row(
                row["source"],
                row["kind"],
                shown,
                _age(row["last_success"], now),
                _age(row["last_new_item"], now),
                "-" if row["last_items"] is None else f"{row['last_items']} items",
                str(row["consecutive_failures"]),
                row["last_error"] or "",
            )
        out.print(table if rows else "no sources configured")
        if failing:
            err.print(f"{len(failing)} of {len(rows)} sources failing")
    if failing:
        raise typer.Exit(1)


@group.command("export")
def export(
    config: ConfigOption = None,
    opml: Annotated[bool, typer.Option("--opml", help="as an OPML list (the one format)")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")
    ] = None,
) -> None:
    """The configured feeds as an OPML list, for a feed reader (or another Digest)."""
    # lazy: `digest --help` starts without pydantic and the sources stage
    from digest.config import load_config
    from digest.sources import is_remote
    from digest.sources.opml import Outline, read_opml, write_opml

    if not opml:
        raise typer.BadParameter("say --opml: OPML is the format sources are exported in")
    loaded = load_config(config)
    feeds: dict[str, Outline] = {}
    for name, source in loaded.sources.items():
        if source.kind == "feed" and source.url and is_remote(source.url):
            feeds.setdefault(source.url, Outline(source.url, source.title or name))
        elif source.kind == "opml" and source.path:
            listed = read_opml(loaded.resolve(source.path).read_bytes())
            for outline in listed.feeds:
                feeds.setdefault(outline.url, outline)
    document = write_opml("Digest sources", feeds.values())
    if output is None:
        sys.stdout.write(document)
    else:
        output.write_text(document, encoding="utf-8")
        err.print(f"wrote {len(feeds)} feeds to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="sources")
