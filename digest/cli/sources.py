"""`digest sources`: every configured source with its health, so an operator sees what is failing.

    digest sources [--config PATH] [--home DIR] [--json]

One line per source: its kind and address, whether its last attempt worked, when it last
succeeded and last brought a new item, how many items it has yielded, how many times in a row
it has failed, and why it failed last. Exit code 1 when any source is failing now.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

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


def source_rows(config: Any, health: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The table's rows: configured sources first as configured, then unknown health rows."""
    rows = []
    for name, source in config.sources.items():
        record = health.get(name, {})
        failures = int(record.get("consecutive_failures") or 0)
        if not record:
            state = "not run yet"
        elif failures:
            state = "failing"
        else:
            state = "ok"
        rows.append(
            {
                "source": name,
                "kind": source.kind,
                "location": source.url or source.path,
                "state": state,
                "last_success": record.get("last_success"),
                "last_new_item": record.get("last_new_item"),
                "items_seen": int(record.get("items_seen") or 0),
                "consecutive_failures": failures,
                "last_error": record.get("last_error") if failures else None,
                "last_error_at": record.get("last_error_at"),
            }
        )
    return rows


def sources(
    config: ConfigOption = None,
    home: HomeOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Every source's health: last success, last error, failures in a row, items seen."""
    from rich.table import Table  # lazy: `digest --help` starts without it

    with open_workspace(config, home) as ws:
        rows = source_rows(ws.config, ws.store.source_health())
    failing = [row for row in rows if row["state"] == "failing"]
    if json_output:
        out.print_json(json.dumps(rows, default=lambda value: value.isoformat()))
    else:
        now = datetime.now(UTC)
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("source", "kind", "state", "last success", "last new item",
                       "items seen", "failures"):  # fmt: skip
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
                str(row["items_seen"]),
                str(row["consecutive_failures"]),
                row["last_error"] or "",
            )
        out.print(table if rows else "no sources configured")
        if failing:
            err.print(f"{len(failing)} of {len(rows)} sources failing")
    if failing:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("sources")(sources)
