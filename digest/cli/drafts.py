"""`digest drafts`, `digest approve` and `digest drop`: an editor's work from the command line.

    digest drafts [DIGEST]             drafts and approved issues waiting to send
    digest approve DIGEST [--issue N]  approve the newest draft (or issue N)
    digest drop DIGEST [--issue N]     drop it instead

An approved issue goes out at the digest's next run or firing, or at once with
`digest run DIGEST --now`. The desk (`digest serve`, /desk/) does the same and more.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer

from digest.cli.common import ConfigOption, HomeOption, open_workspace, out

__all__ = ["approve", "drafts", "drop", "register"]

DigestArgument = Annotated[str, typer.Argument(help="name of the digest")]
IssueOption = Annotated[
    int | None, typer.Option("--issue", help="the issue's number (default: the newest waiting)")
]


def _who() -> str:
    return f"cli:{getpass.getuser()}"


def drafts(
    digest: Annotated[str | None, typer.Argument(help="only this digest")] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """Drafts and approved issues waiting to send, newest first."""
    from rich.table import Table  # lazy: `digest --help` starts without it

    from digest.models import IssueStatus  # lazy: `digest --help` starts without it

    with open_workspace(config, home) as ws:
        if digest is not None:
            ws.config.digest(digest)
        rows = [
            {
                "issue": issue.id,
                "digest": issue.digest,
                "status": str(issue.status),
                "built": issue.created_at.isoformat(timespec="minutes"),
                "subject": issue.subject,
                "stories": len(issue.content.get("article_keys") or []),
                "edited_by": (issue.content.get("edits") or {}).get("editor"),
            }
            for issue in ws.store.issues_of(digest, statuses=IssueStatus.EDITABLE, limit=200)
        ]
    if json_output:
        out.print_json(json.dumps(rows))
        return
    if not rows:
        out.print("no drafts or approved issues waiting")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("issue", "digest", "status", "built (UTC)", "stories", "subject"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            str(row["issue"]),
            str(row["digest"]),
            str(row["status"]),
            str(row["built"]),
            str(row["stories"]),
            str(row["subject"]),
        )
    out.print(table)


def approve(
    digest: DigestArgument,
    issue: IssueOption = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Approve the newest draft (or issue N) as it is; it goes out at the next run or firing."""
    from digest.pipeline import editing  # lazy: `digest --help` starts without the pipeline

    with open_workspace(config, home) as ws:
        ws.config.digest(digest)
        waiting = editing.waiting_issue(ws, digest, issue)
        approved = editing.approve(ws, waiting.id, _who())
    out.print(
        f"{digest}: issue {approved.id} approved ({approved.subject}); it goes out at the next "
        f"run or firing, or now with `digest run {digest} --now`"
    )


def drop(
    digest: DigestArgument,
    issue: IssueOption = None,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Drop the newest draft or approved issue (or issue N); it will not be sent."""
    from digest.pipeline import editing  # lazy: `digest --help` starts without the pipeline

    with open_workspace(config, home) as ws:
        ws.config.digest(digest)
        waiting = editing.waiting_issue(ws, digest, issue)
        dropped = editing.drop(ws, waiting.id, _who())
    out.print(f"{digest}: issue {dropped.id} dropped")


def register(app: typer.Typer) -> None:
    app.command()(drafts)
    app.command()(approve)
    app.command()(drop)
