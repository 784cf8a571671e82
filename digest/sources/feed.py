"""Feed sources: RSS 0.9x/1.0/2.0, Atom 0.3/1.0 and JSON Feed 1.0/1.1, from a URL or a file.

The fast parsers (lxml for XML, orjson for JSON Feed) read nearly every feed; feedparser, ten
to fifty times slower, is the fallback for what they cannot make sense of. Text is decoded first
(HTTP charset, then the document's declaration, then detection), so a wrong charset or invalid
UTF-8 costs a logged note, not the feed.
"""

from __future__ import annotations

import calendar
import html
import logging
import re
from datetime import UTC, datetime
from typing import Any

from digest.charset import REPLACED, decode
from digest.config import SourceConfig
from digest.dates import parse_date
from digest.errors import FeedError
from digest.models import SourceItem
from digest.sources.normalize import (
    Enclosure,
    Entry,
    ParsedFeed,
    build_items,
    plain_text,
    sanitize_html,
)
from digest.sources.repair import repair

__all__ = [
    "FeedError",
    "log_reading",
    "parse_document",
    "parse_feed",
    "plain_text",
    "read_with_feedparser",
    "sanitize_html",
]

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
    """A feed document's entries, whatever its format; FeedError with the reason otherwise.

    XML takes the first of these that works, and `ParsedFeed.path` says which:
        lxml                        the document is well-formed (nearly every feed)
        lxml after repair (...)     leading whitespace, HTML entities, bare ampersands or
                                    control characters repaired, then well-formed
        feedparser                  still ill-formed: feedparser's lenient reading
        lxml recover                feedparser found nothing either: what libxml2 recovers
    """
    if not content.strip():
        raise FeedError("empty response (no feed in it)")
    stripped = content.lstrip()
    if stripped[:1] in (b"{", b"[") or (content_type and "json" in content_type.lower()):
        from digest.sources.jsonfeed import NotAJsonFeed, parse_json_feed  # lazy: see below

        try:
            feed = parse_json_feed(content, url)
        except NotAJsonFeed as exc:
            raise FeedError(str(exc)) from None
        feed.path = "orjson"
        return feed
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
    feed = _read_xml(data, url)
    feed.problems[:0] = problems
    return feed


def _read_xml(data: bytes, url: str | None) -> ParsedFeed:
    from digest.sources.xmlfeed import (
        NotAFeed,
        NotWellFormed,
        parse_xml,
    )  # lazy: 304s parse nothing

    try:
        return parse_xml(data, url)
    except NotAFeed as exc:
        return _feedparser(data, url, str(exc))
    except NotWellFormed as exc:
        first_error = str(exc)
    repaired, fixes = repair(data)
    if fixes:
        try:
            feed = parse_xml(repaired, url)
        except NotWellFormed as exc:
            first_error = f"{first_error}; after repairing {', '.join(fixes)}: {exc}"
        except NotAFeed as exc:
            return _feedparser(data, url, str(exc))
        else:
            feed.path = f"lxml after repair ({', '.join(fixes)})"
            return feed
    try:
        return _feedparser(data, url, first_error)
    except FeedError:
        try:
            feed = parse_xml(data, url, recover=True)
        except FeedError:  # NotWellFormed or NotAFeed: no feed at all
            feed = ParsedFeed(format="none")
        if not feed.entries:
            raise FeedError(f"not a feed: {first_error}") from None
        feed.path = "lxml recover"
        return feed


def read_with_feedparser(
    content: bytes, url: str | None, content_type: str | None = None
) -> ParsedFeed:
    """feedparser's reading of a document, mapped to entries as the fast parser fills them
    (the fallback, and the reference the differential tests compare against)."""
    import feedparser  # lazy: 0.1 s to import, for the rare feed the fast parser refuses

    # No content-location: feedparser would resolve ids against it as if they were URIs; links
    # and bodies are made absolute by the normalization instead, as for the fast parser.
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(content, response_headers=headers)
    feed = ParsedFeed(
        format=f"feedparser:{parsed.get('version') or 'unknown'}",
        title=parsed.feed.get("title"),
        link=parsed.feed.get("link"),
        path="feedparser",
    )
    for entry in parsed.entries:
        feed.entries.append(_feedparser_entry(entry, url))
    return feed


def _feedparser_entry(entry: Any, url: str | None) -> Entry:
    body = None
    if entry.get("content"):
        body = max(entry["content"], key=lambda c: len(c.get("value", "")))
    elif entry.get("summary_detail"):
        body = entry["summary_detail"]
    html_body = None
    if body is not None and body.get("value"):
        html_body = body["value"]
        if "html" not in (body.get("type") or "text/html"):  # text/plain: escape it
            html_body = html.escape(html_body, quote=False)
    title = entry.get("title_detail")
    title_html = None
    if title is not None:
        title_html = title.get("value", "")
        if "html" not in (title.get("type") or "text/plain"):
            title_html = html.escape(title_html, quote=False)
    result = Entry(
        guid=entry.get("id"),
        link=entry.get("link"),
        title=title_html,
        published=_struct_time(entry),
        content_html=html_body or None,
        author=entry.get("author"),
        categories=[t.get("term", "") for t in entry.get("tags", [])],
        base=(body or {}).get("base") or url,
    )
    for link in entry.get("links", []):
        if link.get("rel") == "enclosure" and link.get("href"):
            length = str(link.get("length") or "")
            result.enclosures.append(
                Enclosure(
                    link["href"],
                    link.get("type") or None,
                    int(length) if length.isdigit() else None,
                )
            )
    pictures = [*entry.get("media_thumbnail", [])] + [
        c
        for c in entry.get("media_content", [])
        if c.get("medium") == "image" or str(c.get("type", "")).startswith("image/")
    ]
    for picture in pictures:
        href = picture.get("url") or ""
        if href.startswith(("http://", "https://")):
            result.image = href
            break
    return result


def _feedparser(data: bytes, url: str | None, why: str) -> ParsedFeed:
    """feedparser's reading of a document the fast parser could not read (or FeedError)."""
    feed = read_with_feedparser(data, url)
    if not feed.entries:
        if why.startswith("an HTML page"):
            raise FeedError(
                'the URL serves an HTML page, not a feed (kind = "site" finds a site\'s feed)'
            )
        raise FeedError(f"not a feed: {why}")
    feed.problems.append(f"{why}; read by feedparser")
    return feed


def _struct_time(entry: Any) -> datetime | None:
    for key in ("published", "updated", "created"):
        value = entry.get(f"{key}_parsed")
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
        if (when := parse_date(entry.get(key))) is not None:
            return when
    return None


def log_reading(name: str, feed: ParsedFeed) -> None:
    """Which path a source's document took (INFO unless clean) and what went wrong (WARNING)."""
    log.log(
        logging.DEBUG if feed.path in ("lxml", "orjson") else logging.INFO,
        "source %s: %s read by %s",
        name,
        feed.format,
        feed.path,
    )
    for problem in feed.problems:
        log.warning("source %s: %s", name, problem)


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
    log_reading(name, feed)
    return build_items(
        name,
        feed.entries,
        max_items=source.max_items,
        fetch_full=source.fetch_full,
        base_url=base_url,
        now=now or datetime.now(UTC),
        keep=lambda title, link, categories: keep_by_filters(source, title, link, categories),
    )
