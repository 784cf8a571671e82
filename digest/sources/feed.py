"""Feed sources: RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed 1.0/1.1, from a URL or a file.

The fast parsers (lxml for XML, orjson for JSON Feed) read nearly every feed; feedparser, ten
to fifty times slower, is the fallback for what they cannot make sense of. Text is decoded first
(HTTP charset, then the document's declaration, then detection), so a wrong charset or invalid
UTF-8 costs a logged note, not the feed.
"""

from __future__ import annotations

import calendar
import logging
import re
from datetime import UTC, datetime

from digest.charset import REPLACED, decode
from digest.config import SourceConfig
from digest.dates import parse_date
from digest.errors import FeedError
from digest.models import SourceItem
from digest.sources.normalize import (
    Entry,
    ParsedFeed,
    build_items,
    plain_text,
    sanitize_html,
)

__all__ = ["FeedError", "parse_document", "parse_feed", "plain_text", "sanitize_html"]

log = logging.getLogger(__name__)


def _matches(pattern: str, values: list[str]) -> bool:
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        regex = re.compile(pattern[1:-1], re.IGNORECASE)
        return any(regex.search(value) for value in values)
    return any(pattern.lower() in value.lower() for value in values)


def keep_by_filters(
    source: SourceConfig, title: str, url: str | None, categories: tuple[str, ...]
) -> bool:
    """The source's include/exclude filters (keywords, or /regular expressions/, any case)
    on an item's title, URL and categories."""
    if not (source.filters.include or source.filters.exclude):
        return True
    values = [title, url or "", *categories]
    if source.filters.include and not any(_matches(p, values) for p in source.filters.include):
        return False
    return not any(_matches(p, values) for p in source.filters.exclude)


def looks_like_html(content: bytes, content_type: str | None) -> bool:
    """An HTML page rather than a feed (servers often label feeds text/html: look inside)."""
    head = content[:4096].lstrip().lower()
    if head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf")):
        return False
    if head.startswith((b"<!doctype html", b"<html")):
        return True
    labelled_html = bool(content_type and "html" in content_type.lower())
    return labelled_html and not any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf"))


def parse_document(content: bytes, url: str | None, content_type: str | None = None) -> ParsedFeed:
    """A feed document's entries, whatever its format; FeedError with the reason otherwise."""
    if not content.strip():
        raise FeedError("empty response (no feed in it)")
    stripped = content.lstrip()
    if stripped[:1] in (b"{", b"[") or (content_type and "json" in content_type.lower()):
        from digest.sources.jsonfeed import NotAJsonFeed, parse_json_feed  # lazy: see below

        try:
            return parse_json_feed(content, url)
        except NotAJsonFeed as exc:
            raise FeedError(str(exc)) from None
    text, charset = decode(content, content_type)
    problems = (
        [f"invalid {charset.removesuffix(REPLACED)} text, bad bytes replaced"]
        if charset.endswith(REPLACED)
        else []
    )
    if looks_like_html(content, content_type):
        raise FeedError(
            'the URL serves an HTML page, not a feed (kind = "site" finds a site\'s feed)'
        )
    data = text.encode("utf-8")
    from digest.sources.xmlfeed import NotAFeed, parse_xml  # lazy: a run of 304s parses nothing

    try:
        feed = parse_xml(data, url)
    except NotAFeed as exc:
        feed = _feedparser(data, url, str(exc))
    if not feed.entries and feed.problems:
        fallback = _feedparser(data, url, feed.problems[0])
        if fallback.entries:
            feed = fallback
    feed.problems[:0] = problems
    return feed


def _feedparser(data: bytes, url: str | None, why: str) -> ParsedFeed:
    """feedparser's reading of a document the fast parser rejected (or FeedError)."""
    import feedparser  # lazy: 0.1 s to import, for the rare feed the fast parser refuses

    parsed = feedparser.parse(data, response_headers={"content-location": url or ""})
    if not parsed.entries:
        if why.startswith("an HTML page"):
            raise FeedError(
                'the URL serves an HTML page, not a feed (kind = "site" finds a site\'s feed)'
            )
        raise FeedError(f"not a feed: {why}")
    feed = ParsedFeed(
        format=f"feedparser:{parsed.get('version') or 'unknown'}",
        title=parsed.feed.get("title"),
        link=parsed.feed.get("link"),
        problems=[f"{why}; read by feedparser"],
    )
    for entry in parsed.entries:
        body = ""
        if entry.get("content"):
            body = max((c.get("value", "") for c in entry["content"]), key=len)
        feed.entries.append(
            Entry(
                guid=entry.get("id"),
                link=entry.get("link"),
                title=entry.get("title"),
                published=_struct_time(entry),
                content_html=body or entry.get("summary") or None,
                author=entry.get("author"),
                categories=[t.get("term", "") for t in entry.get("tags", [])],
                base=entry.get("link") or url,
            )
        )
    return feed


def _struct_time(entry: dict[str, object]) -> datetime | None:
    for key in ("published", "updated", "created"):
        value = entry.get(f"{key}_parsed")
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)  # type: ignore[arg-type]
            except (OverflowError, ValueError, OSError):
                continue
        if (when := parse_date(entry.get(key))) is not None:  # type: ignore[arg-type]
            return when
    return None


def parse_feed(
    name: str,
    source: SourceConfig,
    content: bytes,
    base_url: str,
    content_type: str | None = None,
    *,
    now: datetime | None = None,
) -> list[SourceItem]:
    """Items of a feed document. Malformed XML keeps what parses; nothing parseable is an error."""
    feed = parse_document(content, base_url, content_type)
    for problem in feed.problems:
        log.warning("source %s: %s", name, problem)
    return build_items(
        name,
        feed.entries,
        max_items=source.max_items,
        fetch_full=source.fetch_full,
        base_url=base_url,
        now=now or datetime.now(UTC),
        keep=lambda title, link, categories: keep_by_filters(source, title, link, categories),
    )
