"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), read with orjson."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urljoin

import orjson

from digest.dates import parse_date
from digest.errors import FeedError
from digest.sources.normalize import Enclosure, Entry, ParsedFeed


class NotAJsonFeed(FeedError):
    """The document is not a JSON Feed (the message says why)."""


def _string(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # ids are strings by the spec, numbers in the wild
    return None


def parse_json_feed(data: bytes, url: str | None) -> ParsedFeed:
    """Entries of a JSON Feed; items that are not objects are skipped and counted."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise NotAJsonFeed(f"not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise NotAJsonFeed('JSON without an "items" list, not a JSON Feed')
    version = str(document.get("version", ""))
    feed = ParsedFeed(
        format="json11" if version.endswith("/1.1") else "json10",
        title=_string(document.get("title")),
        link=_string(document.get("home_page_url")),
    )
    if "jsonfeed.org/version/" not in version:
        feed.problems.append(f"unknown JSON Feed version {version!r}; read as 1.1")
    base = feed.link or url
    feed_authors = _authors(document)
    skipped = 0
    for raw in document["items"]:
        if not isinstance(raw, dict):
            skipped += 1
            continue
        link = _string(raw.get("url")) or _string(raw.get("external_url"))
        content = _string(raw.get("content_html"))
        if content is None and (text := _string(raw.get("content_text"))):
            content = "".join(
                f"<p>{html.escape(p.strip(), quote=False)}</p>" for p in text.split("\n\n")
            )
        if content is None and (summary := _string(raw.get("summary"))):
            content = f"<p>{html.escape(summary, quote=False)}</p>"
        tags = raw.get("tags")
        attachments = raw.get("attachments")
        enclosures = [
            Enclosure(urljoin(base or "", href), _string(a.get("mime_type")), _size(a))
            for a in (attachments if isinstance(attachments, list) else [])
            if isinstance(a, dict) and (href := _string(a.get("url")))
        ]
        picture = _string(raw.get("image")) or _string(raw.get("banner_image"))
        feed.entries.append(
            Entry(
                guid=_string(raw.get("id")),
                link=urljoin(base or "", link) if link else None,
                title=html.escape(_string(raw.get("title")) or "", quote=False) or None,
                published=parse_date(_string(raw.get("date_published")))
                or parse_date(_string(raw.get("date_modified"))),
                content_html=content,
                author=next(iter(_authors(raw) or feed_authors), None),
                categories=[t for t in tags if isinstance(t, str)]
                if isinstance(tags, list)
                else [],
                base=(link and urljoin(base or "", link)) or base,
                image=urljoin(base or "", picture) if picture else None,
                enclosures=enclosures,
            )
        )
    if skipped:
        feed.problems.append(f"{skipped} items were not objects and were skipped")
    return feed


def _size(attachment: dict[str, Any]) -> int | None:
    value = attachment.get("size_in_bytes")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _authors(holder: dict[str, Any]) -> list[str]:
    found = holder.get("authors")  # 1.1
    if not isinstance(found, list):
        found = [holder.get("author")]  # 1.0
    return [name for a in found if isinstance(a, dict) and (name := _string(a.get("name")))]
