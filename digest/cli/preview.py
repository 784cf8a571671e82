"""`digest preview`: the next issue as files (html, txt, eml, json); nothing sent or marked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from digest.cli.common import (
    ConfigOption,
    HomeOption,
    JsonOption,
    VerboseOption,
    open_workspace,
    out,
    print_report,
    progress,
    setup_logging,
)

__all__ = ["preview", "register"]


def preview(
    digest: Annotated[str, typer.Argument(help="name of the digest")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write the preview into")] = Path(
        "preview"
    ),
    next_only: Annotated[
        bool,
        typer.Option("--next-only", help="write only a next issue; with no news, write nothing"),
    ] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Write the next issue as issue.html, issue.txt, issue.eml and issue.json; send nothing.

    With no news, the most recent issue is written again (and the command says so).
    """
    # lazy: `digest --help` starts without the pipeline and asyncio
    import asyncio

    from digest.pipeline import render_settings, write_preview
    from digest.render import render_report
    from digest.workspace import ensure_folder

    setup_logging(verbose)
    with open_workspace(config, home) as ws, progress() as shown:
        ws.progress = shown
        ws.config.digest(digest)
        ensure_folder(out_dir, "--out")
        written = asyncio.run(write_preview(ws, digest, out_dir, next_only=next_only))
        draft = written.draft
        report_lines = (
            render_report(draft.rendered, render_settings(ws.config, digest))
            if draft.rendered
            else []
        )
    previous = written.previous
    if json_output:
        rendered = draft.rendered
        out.print_json(
            json.dumps(
                {
                    "digest": digest,
                    "written": written.written,
                    "out": str(out_dir),
                    "next": rendered is not None,
                    "previous_issue": previous.id if previous is not None else None,
                    "articles": len(rendered.articles) if rendered else None,
                    "html_size": rendered.html_size if rendered else None,
                    "checks": report_lines,
                    "failed_sources": draft.report.get("failed_sources") or {},
                },
                default=str,
            )
        )
        return
    print_report(draft.report)
    if previous is not None:
        out.print(
            f"{digest}: nothing new to send; wrote the most recent issue again (issue "
            f"{previous.id}, {previous.status}, {previous.created_at:%Y-%m-%d}) -> {out_dir}/"
        )
        return
    if draft.rendered is None:
        out.print(f"{digest}: nothing new to send; preview not written")
        return
    for line in report_lines:
        out.print(f"{digest}: {line}", soft_wrap=True)
    size_kb = draft.rendered.html_size / 1024
    out.print(
        f"{digest}: {len(draft.rendered.articles)} articles, HTML {size_kb:.1f} KB -> {out_dir}/"
    )


def register(app: typer.Typer) -> None:
    app.command()(preview)
