"""`digest extract TARGET...`: what the pipeline would make of a page, a file or stdin.

A probe for operators and for tuning: it runs exactly the pipeline's extraction and summary
code (extract_document, LeadSummarizer) and prints title, lead, summary and metadata. With many
targets it streams one JSON object per line and keeps going past a bad one.

It fetches through the shared `Fetcher` (size cap counted while decompressing, redirects
checked), reaches a private network only at the hosts named on its command line, and stops at
an overall deadline (`--deadline`): the targets it did not get to are reported, not waited for.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from digest.errors import DigestError, ExtractionError
from digest.text import DEFAULT_WORDS

if TYPE_CHECKING:
    import httpx

    from digest.fetch import Fetcher
    from digest.models import ExtractedArticle

__all__ = ["extract_command", "extract_target", "probe_fetcher", "register"]

FIELDS = (
    "target",
    "url",
    "title",
    "lead",
    "summary",
    "author",
    "published",
    "image",
    "language",
    "words",
)
_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz", ".md", ".markdown", ".txt")
_FETCH_TIMEOUT = 15.0
DEFAULT_DEADLINE = 120.0  # seconds for the whole command, every target included
_MAX_STDIN = 10_000_000 + 1  # the extractor's cap, plus the byte that says "larger"


async def _read_target(target: str, fetcher: Fetcher) -> ExtractedArticle:
    from digest.extract import extract_document, extract_file  # lazy: lxml and trafilatura

    if target == "-":
        return extract_document(sys.stdin.buffer.read(_MAX_STDIN))
    if target.startswith(("http://", "https://")):
        page = await fetcher.get(target)
        return extract_document(page.content, url=page.url, content_type=page.content_type)
    path = Path(target)
    if not path.is_file():
        raise ExtractionError(f"no such file: {target}")
    if not path.name.lower().endswith(_SUFFIXES):
        raise ExtractionError(
            f"unsupported file type {path.suffix or '(none)'}: use {', '.join(_SUFFIXES)}"
        )
    return extract_file(path)


def probe_fetcher(
    transport: httpx.AsyncBaseTransport | None = None, *, targets: Iterable[str] = ()
) -> Fetcher:
    """The shared fetcher with the probe's limits: one try, the extractor's size cap, and
    private addresses only at the hosts of the URL `targets` (the operator named them)."""
    # lazy: `digest --help` starts without httpx, lxml and trafilatura
    from digest.extract import MAX_DOCUMENT_BYTES
    from digest.fetch import Fetcher

    return Fetcher(
        timeout=_FETCH_TIMEOUT,
        size_cap=MAX_DOCUMENT_BYTES,
        retries=0,
        transport=transport,
        allow_private=_hosts(targets),
    )


def _hosts(targets: Iterable[str]) -> list[str]:
    hosts = []
    for target in targets:
        if target.startswith(("http://", "https://")):
            try:
                host = urlsplit(target).hostname
            except ValueError:  # a malformed URL: its fetch says what is wrong
                continue
            if host:
                hosts.append(host)
    return hosts


async def extract_target(
    target: str, fetcher: Fetcher, *, words: int = DEFAULT_WORDS
) -> dict[str, Any]:
    """One target -> the probe's record (the fields in FIELDS), through the pipeline's code."""
    from digest.summarize import LeadSummarizer  # lazy: `digest --help` starts without httpx

    article = await _read_target(target, fetcher)
    summary = LeadSummarizer().summarize(article.lead or "", words=words, language=article.language)
    return {
        "target": target,
        "url": article.url,
        "title": article.title,
        "lead": article.lead,
        "summary": summary or None,
        "author": article.author,
        "published": article.published.isoformat() if article.published else None,
        "image": article.image,
        "language": article.language,
        "words": article.words,
    }


async def _records(
    targets: list[str],
    words: int,
    emit: Callable[[dict[str, Any]], None],
    deadline: float = DEFAULT_DEADLINE,
) -> None:
    """Emit records in order; a failing target becomes {"target", "error"}; the rest go on,
    until `deadline` seconds have passed: the targets left then are reported as not done."""
    import asyncio  # lazy: `digest --help` starts without asyncio

    loop = asyncio.get_running_loop()
    ends = loop.time() + deadline
    async with probe_fetcher(targets=targets) as fetcher:
        for target in targets:
            left = ends - loop.time()
            if left <= 0:
                emit(
                    {"target": target, "error": f"not started: the {deadline:g} s deadline passed"}
                )
                continue
            try:
                async with asyncio.timeout(left):
                    emit(await extract_target(target, fetcher, words=words))
            except TimeoutError:
                emit({"target": target, "error": f"stopped at the {deadline:g} s deadline"})
            except DigestError as exc:
                emit({"target": target, "error": str(exc)})
            except Exception as exc:  # a probe reports every failure and moves on to the next
                emit({"target": target, "error": f"{type(exc).__name__}: {exc}"})


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def _show(record: dict[str, Any], console: Any) -> None:
    if "error" in record:
        target, error = record["target"], record["error"]
        error = error.removeprefix(f"{target}: ")  # a fetch error names its URL already
        from rich.markup import escape  # lazy: `digest --help` starts without rich

        console.print(f"[bold red]{escape(target)}[/]: {escape(error)}", soft_wrap=True)
        return
    from rich.table import Table  # lazy: `digest --help` starts without it

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for name in FIELDS:
        value = record.get(name)
        table.add_row(name, "—" if value is None else str(value))
    console.print(table)


def extract_command(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="URL, local .html/.htm/.html.gz/.md/.txt file, or - for standard input."
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object (an array for many targets).")
    ] = False,
    as_jsonl: Annotated[
        bool, typer.Option("--jsonl", help="One JSON object per line, streamed.")
    ] = False,
    words: Annotated[
        int, typer.Option("--words", min=1, help="Summary word budget.")
    ] = DEFAULT_WORDS,
    deadline: Annotated[
        float,
        typer.Option(
            "--deadline", min=0.1, help="Seconds for the whole command; targets left are errors."
        ),
    ] = DEFAULT_DEADLINE,
) -> None:
    """Show the title, lead, summary and metadata the pipeline extracts from each TARGET."""
    if as_json and as_jsonl:
        raise typer.BadParameter("use --json or --jsonl, not both")
    if targets.count("-") > 1:
        raise typer.BadParameter("standard input (-) can be read only once")
    from rich.console import Console  # lazy: `digest --help` starts without it

    records: list[dict[str, Any]] = []
    console = Console(soft_wrap=False)

    def emit(record: dict[str, Any]) -> None:
        records.append(record)
        if as_json:
            return  # printed as a whole below
        if as_jsonl or len(targets) > 1:
            typer.echo(_dumps(record))
            sys.stdout.flush()
        else:
            _show(record, console)

    import asyncio  # lazy: `digest --help` starts without asyncio

    asyncio.run(_records(targets, words, emit, deadline))
    if as_json:
        typer.echo(
            _dumps(records[0]) if len(targets) == 1 else json.dumps(records, ensure_ascii=False)
        )
    if any("error" in record for record in records):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("extract")(extract_command)
