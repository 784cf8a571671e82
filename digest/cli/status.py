"""`digest status`: per digest, the next firing (in its zone and UTC), its last issues with
their delivery counts by status, and the sources that are failing."""

from __future__ import annotations

__all__ = ["collect_status", "register", "status"]

import json
from datetime import datetime
from typing import Annotated, Any

import typer

from digest.cli.common import ConfigOption, HomeOption, open_workspace, out


def collect_status(ws: Any, *, last: int = 5, now: datetime | None = None) -> dict[str, Any]:
    """Everything `digest status` shows, as plain data."""
    # lazy: APScheduler, SQLAlchemy and the date parser only for this command
    from digest.dates import utcnow
    from digest.schedule import DigestSchedule

    now = now or utcnow()
    digests = []
    for name, digest in ws.config.digests.items():
        schedule = DigestSchedule(name, digest.schedule, digest.timezone)
        firing = schedule.next_firing(now)
        digests.append(
            {
                "digest": name,
                "schedule": digest.schedule,
                "timezone": digest.timezone,
                "next_local": firing.local.isoformat(timespec="minutes") if firing else None,
                "next_utc": firing.at.isoformat(timespec="minutes") if firing else None,
                "next_period": firing.period if firing else None,
                "issues": [_issue(ws, issue) for issue in ws.store.issues_of(name, limit=last)],
            }
        )
    failing = []
    for source, health in sorted(ws.store.source_health().items()):
        if health.get("consecutive_failures"):
            when = health.get("last_error_at")
            failing.append(
                {
                    "source": source,
                    "failures": health["consecutive_failures"],
                    "error": health.get("last_error"),
                    "since": when.isoformat(timespec="seconds") if when else None,
                }
            )
    return {"digests": digests, "failing_sources": failing}


def _issue(ws: Any, issue: Any) -> dict[str, Any]:
    return {
        "issue": issue.id,
        "digest": issue.digest,
        "period": issue.period,
        "status": issue.status,
        "created": issue.created_at.isoformat(timespec="seconds"),
        "subject": issue.subject,
        "reason": issue.report.get("reason"),
        "deliveries": ws.store.delivery_counts(issue.id),
    }


def status(
    config: ConfigOption = None,
    home: HomeOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="machine-readable: the --last recent issues")
    ] = False,
    schedules: Annotated[
        bool, typer.Option("--schedules", help="with --json: the digests and sources instead")
    ] = False,
    last: Annotated[int, typer.Option(help="issues to show per digest", min=1)] = 5,
) -> None:
    """Per digest: next firing (local and UTC), last issues with counts, failing sources."""
    from rich.table import Table  # lazy: `digest --help` starts without it

    with open_workspace(config, home) as ws:
        found = collect_status(ws, last=last)
        recent = [_issue(ws, issue) for issue in ws.store.issues_of(limit=last)]
        where = {
            "home": str(ws.home.resolve()),
            "store": ws.store.engine.url.render_as_string(hide_password=True),
        }
    if json_output:
        out.print_json(json.dumps({**where, **found} if schedules else recent))
        return
    out.print(f"home {where['home']}  store {where['store']}", soft_wrap=True, markup=False)
    for entry in found["digests"]:
        next_line = (
            f"next {entry['next_local']} ({entry['timezone']}) = {entry['next_utc']} UTC, "
            f"period {entry['next_period']}"
            if entry["next_local"]
            else "never fires again"
        )
        out.print(
            f"[bold]{entry['digest']}[/bold]  {entry['schedule']}  {next_line}", soft_wrap=True
        )
        if not entry["issues"]:
            out.print("  no issues yet")
            continue
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("issue", "period", "status", "created (UTC)"):
            table.add_column(column, no_wrap=True)
        table.add_column("deliveries")
        for row in entry["issues"]:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(row["deliveries"].items()))
            detail = counts or row["reason"] or "-"
            created = datetime.fromisoformat(row["created"]).strftime("%Y-%m-%d %H:%M")
            table.add_row(str(row["issue"]), row["period"], row["status"], created, detail)
        out.print(table)
    for source in found["failing_sources"]:
        out.print(
            f"[yellow]source failing:[/yellow] {source['source']}: {source['failures']} "
            f"time(s) in a row since {source['since']}: {source['error']}",
            soft_wrap=True,
        )
    if not found["digests"]:
        out.print("no digests configured")


def register(app: typer.Typer) -> None:
    app.command()(status)
