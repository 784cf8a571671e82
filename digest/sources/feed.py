"""Feed sources: RSS and Atom through feedparser, from a URL or a local file."""

from __future__ import annotations

import calendar
import html
from datetime import UTC, datetime

import feedparser
import nh3

from digest.config import SourceConfig
from digest.models import SourceItem
from digest.sources.identity import item_key

# Tags a feed item's body may keep; everything else (scripts, styles, iframes, forms) goes.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "figcaption", "figure", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "q", "s", "small", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip


def sanitize_html(fragment: str) -> str:
    """Feed HTML as it may be stored: nh3 with a conservative allow-list."""
    return nh3.clean(fragment, tags=ALLOWED_TAGS, link_rel="noopener noreferrer nofollow")


def plain_text(fragment: str | None) -> str:
    """Markup and entities out, whitespace folded: how titles are kept."""
    if not fragment:
        return ""
    text = html.unescape(nh3.clean(fragment, tags=set()))
    return " ".join(text.split())


def _when(entry: dict[str, object]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)  # type: ignore[arg-type]
    return None


def parse_feed(name: str, source: SourceConfig, content: bytes, base_url: str) -> list[SourceItem]:
    """Items of a feed document. Malformed XML keeps what parses; nothing parseable is an error."""
    parsed = feedparser.parse(content, response_headers={"content-location": base_url})
    if not parsed.entries:
        if parsed.get("bozo"):
            raise ValueError(f"not a feed: {parsed.get('bozo_exception')}")
        return []
    items: list[SourceItem] = []
    for entry in parsed.entries[: source.max_items]:
        link = entry.get("link")
        title = plain_text(entry.get("title"))
        published = _when(entry)
        body = ""
        if entry.get("content"):
            body = max((c.get("value", "") for c in entry["content"]), key=len)
        if not body:
            body = entry.get("summary", "") or ""
        items.append(
            SourceItem(
                source=name,
                key=item_key(entry.get("id"), link, title, published),
                url=link,
                title=title or None,
                published=published,
                content_html=sanitize_html(body) if body else None,
                author=plain_text(entry.get("author")) or None,
                categories=tuple(t.get("term", "") for t in entry.get("tags", []) if t.get("term")),
                fetch_full=source.fetch_full,
            )
        )
    return items
