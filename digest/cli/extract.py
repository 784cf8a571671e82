"""`digest extract TARGET...`: what the pipeline would make of a page, a file or stdin.

A probe for operators and for tuning: it runs exactly the pipeline's extraction and summary
code (extract_document, LeadSummarizer) and prints title, lead, summary and metadata. With many
targets it streams one JSON object per line and keeps going past a bad one.
"""

from __future__ import annotations

__all__ = ["extract_target", "register"]

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from digest.errors import DigestError, ExtractionError, SourceError
from digest.models import ExtractedArticle
from digest.summarize import DEFAULT_WORDS, LeadSummarizer

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
_MAX_REDIRECTS = 5
_USER_AGENT = "digest/0.1 (+newsletter digest; extraction probe)"


def _fetch(
    url: str, *, transport: httpx.BaseTransport | None = None
) -> tuple[bytes, str | None, str]:
    """GET a page: (body, content type, final URL). Streams with a size cap.

    Small and private on purpose: the shared fetcher (timeouts, per-host limits, conditional
    GET) will replace it.
    """
    from digest.extract import MAX_DOCUMENT_BYTES  # the extractor loads only when used

    try:
        with (
            httpx.Client(
                timeout=_FETCH_TIMEOUT,
                follow_redirects=True,
                max_redirects=_MAX_REDIRECTS,
                headers={"User-Agent": _USER_AGENT},
                transport=transport,
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise SourceError(url, f"HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
                raise SourceError(url, f"page larger than {MAX_DOCUMENT_BYTES // 1_000_000} MB")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_DOCUMENT_BYTES:
                    raise SourceError(url, f"page larger than {MAX_DOCUMENT_BYTES // 1_000_000} MB")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("content-type"), str(response.url)
    except httpx.TooManyRedirects as exc:
        raise SourceError(url, f"more than {_MAX_REDIRECTS} redirects") from exc
    except httpx.TimeoutException as exc:
        raise SourceError(url, f"timed out after {_FETCH_TIMEOUT:g} s") from exc
    except httpx.HTTPError as exc:
        raise SourceError(url, f"fetch failed: {type(exc).__name__}: {exc}") from exc


def _read_target(target: str, *, transport: httpx.BaseTransport | None = None) -> ExtractedArticle:
    from digest.extract import extract_document, extract_file

    if target == "-":
        return extract_document(sys.stdin.buffer.read())
    if target.startswith(("http://", "https://")):
        data, content_type, final_url = _fetch(target, transport=transport)
        return extract_document(data, url=final_url, content_type=content_type)
    path = Path(target)
    if not path.is_file():
        raise ExtractionError(f"no such file: {target}")
    if not path.name.lower().endswith(_SUFFIXES):
        raise ExtractionError(
            f"unsupported file type {path.suffix or '(none)'}: use {', '.join(_SUFFIXES)}"
        )
    return extract_file(path)


def extract_target(
    target: str, *, words: int = DEFAULT_WORDS, transport: httpx.BaseTransport | None = None
) -> dict[str, Any]:
    """One target -> the probe's record (the fields in FIELDS), through the pipeline's code."""
    article = _read_target(target, transport=transport)
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


def _records(targets: list[str], words: int) -> Iterator[dict[str, Any]]:
    """Records in order; a failing target becomes {"target", "error"} and the rest go on."""
    for target in targets:
        try:
            yield extract_target(target, words=words)
        except DigestError as exc:
            yield {"target": target, "error": str(exc)}
        except Exception as exc:  # a probe reports every failure and moves on to the next
            yield {"target": target, "error": f"{type(exc).__name__}: {exc}"}


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def _show(record: dict[str, Any], console: Console) -> None:
    if "error" in record:
        console.print(f"[bold red]{record['target']}[/]: {record['error']}", soft_wrap=True)
        return
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
) -> None:
    """Show the title, lead, summary and metadata the pipeline extracts from each TARGET."""
    if as_json and as_jsonl:
        raise typer.BadParameter("use --json or --jsonl, not both")
    if targets.count("-") > 1:
        raise typer.BadParameter("standard input (-) can be read only once")
    failed = False
    if as_json:
        records = list(_records(targets, words))
        failed = any("error" in r for r in records)
        typer.echo(
            _dumps(records[0]) if len(targets) == 1 else json.dumps(records, ensure_ascii=False)
        )
    elif as_jsonl or len(targets) > 1:
        for record in _records(targets, words):
            failed |= "error" in record
            typer.echo(_dumps(record))
            sys.stdout.flush()
    else:
        console = Console(soft_wrap=False)
        for record in _records(targets, words):
            failed |= "error" in record
            _show(record, console)
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the `extract` command to the main `digest` app."""
    app.command("extract")(extract_command)
