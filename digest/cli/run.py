"""`digest run` and `digest resume`: build and deliver now, or finish what was left unsent."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from digest.cli.common import (
    ConfigOption,
    HomeOption,
    JsonOption,
    VerboseOption,
    err,
    open_workspace,
    out,
    print_report,
    progress,
    setup_logging,
)
from digest.errors import UsageError

__all__ = ["register", "resume", "run"]

DigestArgument = Annotated[str, typer.Argument(help="name of the digest")]
MaxWaitOption = Annotated[
    float, typer.Option(help="seconds to keep waiting for retries before leaving them")
]


def run(
    digest: DigestArgument,
    config: ConfigOption = None,
    home: HomeOption = None,
    max_wait: MaxWaitOption = 600.0,
    now: Annotated[
        bool, typer.Option("--now", help="send the approved issue now; build nothing new")
    ] = False,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Build the digest's current issue and deliver it to every active subscriber.

    An approved issue waiting goes out instead; with approval, a draft is built or refreshed.
    """
    # lazy: `digest --help` starts without the pipeline and asyncio
    import asyncio

    from digest.models import IssueStatus
    from digest.pipeline import run_digest, send_approved

    setup_logging(verbose)
    with open_workspace(config, home) as ws, progress() as shown:
        ws.progress = shown
        sources = ws.config.digest(digest).sources
        if now:
            sent = asyncio.run(send_approved(ws, digest, max_wait=max_wait))
            if not sent:
                raise UsageError(f"{digest} has no approved issue waiting to send")
            result = sent[-1]
        else:
            result = asyncio.run(run_digest(ws, digest, max_wait=max_wait))
    failed_sources = result.report.get("failed_sources") or {}
    # A quiet week (nothing new) is no failure; every source failing is.
    all_failed = bool(sources) and set(sources) <= set(failed_sources)
    failed = (
        all_failed
        or result.status in (IssueStatus.FAILED, IssueStatus.PARTIAL)
        or (result.dispatch is not None and bool(result.dispatch.error))
    )
    if json_output:
        out.print_json(
            json.dumps(
                {
                    "digest": digest,
                    "issue": result.issue_id,
                    "status": str(result.status),
                    "message": result.message,
                    "deliveries": result.dispatch.counts if result.dispatch else {},
                    "resumed": [
                        {"issue": r.issue_id, "status": str(r.status), "deliveries": r.counts}
                        for r in result.resumed
                    ],
                    "failed_sources": failed_sources,
                    "extraction_errors": result.report.get("extraction_errors") or [],
                    "warnings": result.report.get("warnings") or [],
                    "failed": failed,
                },
                default=str,
            )
        )
    else:
        for resumed in result.resumed:
            out.print(f"resumed issue {resumed.issue_id}: {resumed.status} {resumed.counts}")
        print_report(result.report)
        suffix = "; nothing sent" if result.status == IssueStatus.SKIPPED else ""
        out.print(f"{digest}: {result.message}{suffix}")
        if all_failed:
            err.print(f"[red]error:[/red] every source of {digest} failed", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def resume(
    digest: Annotated[str | None, typer.Argument(help="only this digest")] = None,
    config: ConfigOption = None,
    home: HomeOption = None,
    max_wait: MaxWaitOption = 600.0,
    verbose: VerboseOption = False,
) -> None:
    """Carry on sending issues that were frozen but not finished (after a crash or an outage)."""
    # lazy: `digest --help` starts without the pipeline and asyncio
    import asyncio

    from digest.models import IssueStatus
    from digest.pipeline import resume_unfinished

    setup_logging(verbose)
    with open_workspace(config, home) as ws, progress() as shown:
        ws.progress = shown
        reports = asyncio.run(resume_unfinished(ws, digest, max_wait=max_wait))
    if not reports:
        out.print("nothing unfinished")
    failed = False
    for report in reports:
        out.print(f"issue {report.issue_id}: {report.status} {report.counts}")
        failed = failed or report.status in (IssueStatus.FAILED, IssueStatus.PARTIAL)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(resume)
