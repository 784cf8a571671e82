"""OPML lists, the format every feed reader exports: read into feed outlines, written from sources.

    <opml version="2.0"><head><title>My feeds</title></head><body>
      <outline text="News">                                          a folder: flattened
        <outline type="rss" text="Harbour Gazette" title="Harbour Gazette"
                 xmlUrl="https://gazette.example.org/feed.xml" htmlUrl="https://gazette..."/>
      </outline>
    </body></opml>

An outline with an http(s) `xmlUrl` is a feed (its `title`, else `text`, is kept); the same feed
twice is one; an outline with neither a feed URL nor children is reported and skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

from lxml import etree

from digest.errors import FeedError
from digest.identity import url_key
from digest.sources.repair import repair

__all__ = ["Outline", "OutlineList", "read_opml", "sub_source_name", "write_opml"]


@dataclass(frozen=True)
class Outline:
    """One feed of an OPML list."""

    url: str
    title: str | None = None
    html_url: str | None = None


@dataclass
class OutlineList:
    title: str | None = None
    feeds: list[Outline] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # bad outlines, each with why it was skipped


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
    )


def read_opml(data: bytes) -> OutlineList:
    """The feeds an OPML document lists, in document order; FeedError if it is no OPML."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as first:
        try:
            root = etree.fromstring(repair(data)[0], _parser())
        except etree.XMLSyntaxError:
            raise FeedError(f"not an OPML document: {first}") from None
    if not isinstance(root.tag, str) or etree.QName(root).localname.lower() != "opml":
        raise FeedError("not an OPML document (no <opml> root)")
    result = OutlineList()
    seen: set[str] = set()
    for child in root:
        local = etree.QName(child).localname.lower() if isinstance(child.tag, str) else ""
        if local == "head":
            title = child.find("title")
            result.title = (title.text or "").strip() or None if title is not None else None
        elif local == "body":
            _walk(child, result, seen, [])
    return result


def _walk(holder: Any, result: OutlineList, seen: set[str], folders: list[str]) -> None:
    for outline in holder:
        if not isinstance(outline.tag, str) or etree.QName(outline).localname != "outline":
            continue
        name = (outline.get("title") or outline.get("text") or "").strip() or None
        where = " / ".join([*folders, name or "(untitled)"])
        href = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if href:
            if not re.match(r"^https?://[^/\s]+", href, re.IGNORECASE):
                result.problems.append(f"outline {where!r}: feed URL {href!r} is not http(s)")
            elif (key := url_key(href) or href) in seen:
                pass  # the same feed in two folders: kept once, with its first title
            else:
                seen.add(key)
                html_url = (outline.get("htmlUrl") or "").strip() or None
                result.feeds.append(Outline(href, name, html_url))
        elif len(outline):
            _walk(outline, result, seen, [*folders, name or "(untitled)"])
        else:
            result.problems.append(f"outline {where!r} has no feed URL (xmlUrl)")


def sub_source_name(source: str, outline: Outline) -> str:
    """The stable name of an outline's feed within its OPML source (for caches and items)."""
    digest = hashlib.sha1(outline.url.encode(), usedforsecurity=False).hexdigest()[:8]
    slug = re.sub(r"[^a-z0-9]+", "-", (outline.title or "").lower()).strip("-")[:40]
    return f"{source}/{slug}-{digest}" if slug else f"{source}/{digest}"


def write_opml(title: str, feeds: Iterable[Outline]) -> str:
    """An OPML 2.0 document listing `feeds`, as readers import it."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_text(title)}</title></head>",
        "  <body>",
    ]
    for feed in feeds:
        name = quoteattr(feed.title or feed.url)
        html_url = f" htmlUrl={quoteattr(feed.html_url)}" if feed.html_url else ""
        lines.append(
            f'    <outline type="rss" text={name} title={name} '
            f"xmlUrl={quoteattr(feed.url)}{html_url}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
