"""`digest lists`: every list, configured or stored, with its members by status."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from digest.cli.common import ConfigOption, HomeOption, open_workspace, out

__all__ = ["lists_command", "register"]


def lists_command(
    config: ConfigOption = None,
    home: HomeOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Every list (configured or stored) with its members by status."""
    # lazy: `digest --help` starts without them
    from rich.table import Table

    from digest.models import MembershipStatus

    with open_workspace(config, home) as ws:
        loaded, store = ws.config, ws.store
        for name, configured in loaded.lists.items():
            store.ensure_list(name, configured.title)
        rows = store.lists_overview()
    if json_output:
        out.print_json(
            json.dumps(
                [
                    {
                        "list": r.name,
                        "title": r.title,
                        "members": r.counts,
                        "configured": r.name in loaded.lists,
                        "double_opt_in": r.name in loaded.lists
                        and loaded.lists[r.name].double_opt_in,
                    }
                    for r in rows
                ]
            )
        )
        return
    table = Table(box=None, header_style="bold")
    for column in (
        "list",
        "title",
        "active",
        "pending",
        "unsubscribed",
        "bounced",
        "complained",
        "opt-in",
    ):
        table.add_column(column)
    for row in rows:
        known = loaded.lists.get(row.name)
        table.add_row(
            row.name,
            row.title,
            *(str(row.counts.get(status, 0)) for status in MembershipStatus),
            "double"
            if known and known.double_opt_in
            else ("single" if known else "not configured"),
        )
    out.print(table if rows else "no lists")


def register(app: typer.Typer) -> None:
    app.command("lists")(lists_command)
