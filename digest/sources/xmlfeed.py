"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 with lxml: the fast path (about 50x faster than feedparser).

The parser recovers from malformed XML and keeps the entries that parsed. It never resolves
entities or touches the network (no XXE, no billion laughs). A document it cannot make sense of
raises `NotAFeed`, and `feed.parse_document` then tries feedparser.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from digest.dates import parse_date
from digest.errors import FeedError
from digest.sources.normalize import Entry, ParsedFeed

ATOM10 = "http://www.w3.org/2005/Atom"
ATOM03 = "http://purl.org/atom/ns#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
XHTML = "http://www.w3.org/1999/xhtml"
XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


class NotAFeed(FeedError):
    """The document is not RSS or Atom (the message says what it seems to be)."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        recover=True,
        resolve_entities=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
        encoding="utf-8",
    )


@lru_cache(maxsize=1024)
def _split(tag: Any) -> tuple[str, str]:
    """(namespace, local name) of an element's tag; ("", "") for entities and the like."""
    if not isinstance(tag, str):
        return "", ""
    if tag[:1] == "{":
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _text(element: Any) -> str:
    if len(element) == 0:
        return (element.text or "").strip()
    return "".join(element.itertext()).strip()


def _inner(element: Any) -> str:
    """The element's content as markup: its text, or the HTML a feed left unescaped inside."""
    if len(element) == 0:
        return element.text or ""
    parts = [html.escape(element.text or "", quote=False)]
    parts.extend(etree.tostring(child, encoding=str, with_tail=True) for child in element)
    return "".join(parts)


def parse_xml(data: bytes, url: str | None) -> ParsedFeed:
    """Parse an RSS or Atom document (UTF-8 bytes); raise NotAFeed when it is neither."""
    parser = _parser()
    try:
        root = etree.fromstring(data, parser, base_url=url)
    except etree.XMLSyntaxError as exc:
        raise NotAFeed(f"not XML: {exc}") from None
    if root is None:
        first = parser.error_log[0].message if parser.error_log else "nothing parseable"
        raise NotAFeed(f"not XML: {first}")
    problems = []
    if parser.error_log:
        error = parser.error_log[0]
        problems.append(
            f"malformed XML at line {error.line}: {error.message.strip()}; kept what parsed"
        )
    namespace, local = _split(root.tag)
    if local == "rss" or (local == "RDF" and namespace == RDF):
        feed = _rss(root, url, rdf=local == "RDF")
    elif local == "feed" and namespace in (ATOM10, ATOM03, ""):
        feed = _atom(root, url, "atom10" if namespace != ATOM03 else "atom03")
    elif local.lower() == "html":
        raise NotAFeed("an HTML page, not a feed")
    else:
        raise NotAFeed(f"an XML document of type <{local}>, not RSS or Atom")
    feed.problems.extend(problems)
    return feed


# -- RSS ----------------------------------------------------------------------------------------


def _rss(root: Any, url: str | None, *, rdf: bool) -> ParsedFeed:
    channel = None
    for child in root:
        if _split(child.tag)[1] == "channel":
            channel = child
            break
    feed = ParsedFeed(format="rss10" if rdf else f"rss{root.get('version', '20').replace('.', '')}")
    holder = root if rdf or channel is None else channel
    if channel is not None:
        for child in channel:
            namespace, local = _split(child.tag)
            if local == "title" and namespace != ATOM10 and feed.title is None:
                feed.title = _text(child)
            elif local == "link" and namespace != ATOM10 and feed.link is None:
                feed.link = _text(child) or None
    base = url or ""
    if channel is not None and channel.get(XML_BASE):
        base = urljoin(base, channel.get(XML_BASE))
    elif feed.link and feed.link.startswith(("http://", "https://")):
        base = feed.link
    items = [child for child in holder if _split(child.tag)[1] == "item"]
    if not rdf and channel is not None and not items:  # items misplaced outside the channel
        items = [child for child in root if _split(child.tag)[1] == "item"]
    feed.entries = [_rss_item(item, base or None) for item in items]
    return feed


def _rss_item(item: Any, base: str | None) -> Entry:
    entry = Entry(base=urljoin(base or "", item.get(XML_BASE)) if item.get(XML_BASE) else base)
    description = encoded = None
    guid_is_link = False
    dates: dict[str, str] = {}
    for child in item:
        namespace, local = _split(child.tag)
        if not local:
            continue
        if local == "title" and entry.title is None:
            entry.title = _inner(child)
        elif local == "link":
            if namespace == ATOM10:
                if child.get("rel", "alternate") == "alternate" and child.get("href"):
                    entry.link = entry.link or child.get("href")
            elif not entry.link:
                entry.link = _text(child) or None
        elif local == "origLink" and _text(child):  # feedburner keeps the real link here
            entry.link = _text(child)
        elif local == "guid":
            entry.guid = _text(child) or None
            guid_is_link = child.get("isPermaLink", "true").lower() != "false"
        elif local == "about" and namespace == RDF:
            entry.guid = entry.guid or child.text
        elif local in ("pubDate", "date", "published", "updated", "issued", "modified"):
            dates.setdefault(local, _text(child))
        elif local == "description":
            description = _inner(child)
        elif local == "encoded" and namespace == CONTENT:
            encoded = _inner(child)
        elif local == "body" and namespace == XHTML:
            encoded = encoded or _inner(child)
        elif local in ("creator", "author") and entry.author is None:
            entry.author = _author(child)
        elif local in ("category", "subject"):
            entry.categories.append(_text(child))
    if entry.guid is None and item.get(f"{{{RDF}}}about"):
        entry.guid = item.get(f"{{{RDF}}}about")
    if not entry.link and entry.guid and guid_is_link and "://" in entry.guid:
        entry.link = entry.guid
    for which in ("pubDate", "published", "date", "issued", "updated", "modified"):
        if (when := parse_date(dates.get(which))) is not None:
            entry.published = when
            break
    body = encoded if encoded and len(encoded.strip()) >= len((description or "").strip()) else None
    entry.content_html = body or description or encoded
    return entry


def _author(element: Any) -> str | None:
    names = [_text(c) for c in element if _split(c.tag)[1] == "name"]
    value = names[0] if names else _text(element)
    # RSS 2.0 wants "email (Name)"; keep the name when there is one
    if "(" in value and value.endswith(")"):
        value = value[value.index("(") + 1 : -1]
    return value or None


# -- Atom ---------------------------------------------------------------------------------------


def _atom(root: Any, url: str | None, format: str) -> ParsedFeed:
    feed = ParsedFeed(format=format)
    entries = []
    for child in root:
        local = _split(child.tag)[1]
        if local == "entry":
            entries.append(child)
        elif local == "title" and feed.title is None:
            feed.title = _construct(child)
        elif local == "link" and child.get("rel", "alternate") == "alternate" and not feed.link:
            feed.link = urljoin(child.base or url or "", child.get("href") or "") or None
    feed.entries = [_atom_entry(entry, url) for entry in entries]
    return feed


def _atom_entry(element: Any, url: str | None) -> Entry:
    entry = Entry(base=element.base or url)
    content = summary = None
    published = updated = None
    links: list[tuple[str, str]] = []
    for child in element:
        local = _split(child.tag)[1]
        if not local:
            continue
        if local == "title":
            entry.title = _construct(child)
        elif local == "link" and child.get("href"):
            rel = child.get("rel", "alternate")
            if rel == "alternate":
                href = urljoin(child.base or url or "", child.get("href"))
                links.append((child.get("type", "text/html"), href))
        elif local == "id":
            entry.guid = _text(child) or None
        elif local in ("published", "issued", "created"):
            published = published or _text(child)
        elif local in ("updated", "modified"):
            updated = updated or _text(child)
        elif local == "content" and not child.get("src"):
            content = _construct(child)
        elif local == "summary":
            summary = _construct(child)
        elif local == "author" and entry.author is None:
            entry.author = _author(child)
        elif local == "category":
            entry.categories.append(child.get("label") or child.get("term") or _text(child))
    html_links = [href for kind, href in links if "html" in kind]
    entry.link = next(iter(html_links or [href for _, href in links]), None)
    entry.published = parse_date(published) or parse_date(updated)
    entry.content_html = content if content and content.strip() else summary
    return entry


def _construct(element: Any) -> str:
    """An Atom text construct as HTML (text is escaped, xhtml is serialized, html kept)."""
    kind = (element.get("type") or "text").lower()
    mode = (element.get("mode") or "").lower()  # Atom 0.3
    if kind in ("xhtml", "application/xhtml+xml") or mode == "xml":
        divs = [c for c in element if _split(c.tag)[1] == "div"]
        return _inner(divs[0]) if len(divs) == 1 and len(element) == 1 else _inner(element)
    if kind in ("html", "text/html") or mode == "escaped":
        return element.text or ""
    if len(element):  # "text" with markup inside: keep the markup as the feed meant it
        return _inner(element)
    return html.escape(element.text or "", quote=False)
