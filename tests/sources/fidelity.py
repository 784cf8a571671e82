"""The differential harness: Digest's feed reading against feedparser's, entry by entry.

Both readings go through the same normalization (`plain_text` for titles, `sanitize_html` for
bodies), so what is compared is what each parser found, not how it is cleaned afterwards:
title, link, id, date, the body as text and the links inside the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin

from digest.sources.feed import parse_document, read_with_feedparser
from digest.sources.normalize import Entry, ParsedFeed, plain_text, sanitize_html

CORPUS = Path(__file__).resolve().parents[1] / "data" / "feedparser"
DEFAULT_BASE = "http://corpus.test/"
FIELDS = ("title", "link", "id", "date", "content", "links")
_HEADER = re.compile(rb"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.MULTILINE)
_LINKS = re.compile(r'\b(?:href|src)="([^"]*)"')


@dataclass(frozen=True)
class Reading:
    """One entry as compared: every field normalized the same way for both parsers."""

    title: str
    link: str
    id: str
    date: datetime | None
    content: str
    links: tuple[str, ...]


EMPTY = Reading("", "", "", None, "", ())


def corpus_files() -> list[Path]:
    return sorted(CORPUS.rglob("*.xml"))


def headers_of(data: bytes) -> dict[str, str]:
    """The HTTP headers a corpus file asks for (its `Header:` comment lines)."""
    return {m.group(1).decode().lower(): m.group(2).decode() for m in _HEADER.finditer(data)}


def name_of(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix() if path.is_relative_to(CORPUS) else path.name


def location(path: Path, headers: dict[str, str]) -> str:
    return headers.get("content-location") or urljoin(DEFAULT_BASE, name_of(path))


def reading(entry: Entry, url: str) -> Reading:
    base = entry.base or url
    link = (entry.link or "").strip()
    if link and not link.startswith(("http://", "https://")):
        link = urljoin(base, link)
    body = sanitize_html(entry.content_html, base) if entry.content_html else ""
    return Reading(
        title=plain_text(entry.title),
        link=link,
        id=(entry.guid or "").strip(),
        # feedparser's dates are struct_time: whole seconds
        date=entry.published.replace(microsecond=0) if entry.published else None,
        content=plain_text(body),
        links=tuple(_LINKS.findall(body)),
    )


def readings(feed: ParsedFeed, url: str) -> list[Reading]:
    return [reading(entry, url) for entry in feed.entries]


def digest_reading(data: bytes, url: str, content_type: str | None) -> ParsedFeed | None:
    try:
        return parse_document(data, url, content_type)
    except Exception:  # a document Digest refuses: every entry feedparser found differs
        return None


def feedparser_reading(data: bytes, url: str, content_type: str | None) -> ParsedFeed | None:
    try:
        return read_with_feedparser(data, url, content_type)
    except Exception:
        return None


@dataclass(frozen=True)
class Difference:
    file: str  # relative to the corpus
    index: int  # the entry, in document order
    field: str
    ours: object
    theirs: object


def compare(path: Path) -> tuple[int, list[Difference], str]:
    """(entries feedparser found, the differences, the path Digest's reading took)."""
    data = path.read_bytes()
    headers = headers_of(data)
    url = location(path, headers)
    content_type = headers.get("content-type")
    theirs = feedparser_reading(data, url, content_type)
    ours = digest_reading(data, url, content_type)
    name = name_of(path)
    # an entry with nothing in it (no title, link, id or body) is never an item: not counted
    # (build_items drops it), on either side
    their_entries = [r for r in readings(theirs, url) if r != EMPTY] if theirs else []
    our_entries = [r for r in readings(ours, url) if r != EMPTY] if ours else []
    differences: list[Difference] = []
    for index in range(max(len(their_entries), len(our_entries))):
        if index >= len(our_entries) or index >= len(their_entries):
            mine = our_entries[index] if index < len(our_entries) else None
            other = their_entries[index] if index < len(their_entries) else None
            differences.append(Difference(name, index, "entry", mine, other))
            continue
        mine, other = our_entries[index], their_entries[index]
        for field in FIELDS:
            if getattr(mine, field) != getattr(other, field):
                differences.append(
                    Difference(name, index, field, getattr(mine, field), getattr(other, field))
                )
    return len(their_entries), differences, ours.path if ours else "refused"


def differences_in_corpus() -> Iterator[tuple[Path, int, list[Difference], str]]:
    for path in corpus_files():
        count, differences, route = compare(path)
        yield path, count, differences, route
