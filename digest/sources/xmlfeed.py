"""RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 with lxml: the fast path (25 to 50 times feedparser).

The document is parsed strictly: libxml2's recover mode, once it meets one blemish, drops every
later `&amp;`, `&lt;` and `&gt;` (escaped bodies turn to tag soup, query strings lose their `&`),
so a document that is not well-formed raises `NotWellFormed`, and `feed.parse_document` repairs
the common blemishes (`repair.py`) or hands it to feedparser. External entities are never
resolved and nothing is fetched (no XXE); a document's own entities are, within libxml2's limit
on amplification (a billion laughs is refused, and read again with its references as text). A
well-formed document that is not RSS or Atom raises `NotAFeed`.

Elements are read by namespace and name, never by name alone: a `media:title` is not the title
and a `media:content` is not an Atom body. Bodies come from content:encoded, description,
Atom content/summary, then itunes:summary and media:description; images and enclosures from
enclosures, media:content and media:thumbnail (inside media:group too).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import threading
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

from lxml import etree

from digest.dates import parse_date
from digest.errors import FeedError
from digest.sources.normalize import Enclosure, Entry, ParsedFeed

ATOM10 = "http://www.w3.org/2005/Atom"
ATOM03 = "http://purl.org/atom/ns#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
XHTML = "http://www.w3.org/1999/xhtml"
MEDIA = "http://search.yahoo.com/mrss/"
ITUNES = frozenset(
    {"http://www.itunes.com/dtds/podcast-1.0.dtd", "http://www.itunes.com/DTDs/Podcast-1.0.dtd"}
)
FEEDBURNER = "http://rssnamespace.org/feedburner/ext/1.0"
# RSS 0.9x/2.0 elements have no namespace; RSS 1.0 and 0.90 have their own, and a few
# RSS 2.0 feeds put theirs in Userland's or Harvard's.
RSS = frozenset(
    {
        "",
        "http://purl.org/rss/1.0/",
        "http://my.netscape.com/rdf/simple/0.9/",
        "http://backend.userland.com/rss2",
        "http://blogs.law.harvard.edu/tech/rss",
    }
)
ATOM = frozenset({ATOM10, ATOM03})
_BASE_CHAIN = "{http://www.w3.org/XML/1998/namespace}base"


class NotAFeed(FeedError):
    """The document is not RSS or Atom (the message says what it seems to be)."""


class NotWellFormed(FeedError):
    """The document is not well-formed XML (the message says where)."""


_PARSERS = threading.local()  # a parser is reusable, but not by two threads at once


def _parser(*, recover: bool) -> etree.XMLParser:
    if recover:
        return _new_parser(recover=True)
    parser: etree.XMLParser | None = getattr(_PARSERS, "strict", None)
    if parser is None:
        parser = _PARSERS.strict = _new_parser(recover=False)
    return parser


def _new_parser(*, recover: bool) -> etree.XMLParser:
    return etree.XMLParser(
        recover=recover,
        resolve_entities="internal",  # a DOCTYPE's own entities; never an external one
        no_network=True,
        load_dtd=False,
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


# Characters 0x80-0x9F are C1 controls in Unicode but Windows-1252 punctuation in what feeds
# mean by them (`&#146;` is an apostrophe to every browser): read as HTML5 reads them.
_C1 = {code: bytes([code]).decode("cp1252", "ignore") or None for code in range(0x80, 0xA0)}


_C1_FOUND = re.compile("[\x80-\x9f]")


def _c1(text: str | None) -> str | None:
    if text and _C1_FOUND.search(text):
        return text.translate(_C1)
    return text


def _markup(element: Any) -> str:
    """The element's content as HTML: text escaped, child elements serialized."""
    parts = [html.escape(element.text or "", quote=False)]
    parts.extend(etree.tostring(child, encoding=str, with_tail=True) for child in element)
    return "".join(parts)


def _html(element: Any) -> str:
    """A body that holds HTML: its text when escaped, or the markup a feed left unescaped."""
    if len(element) == 0:
        return element.text or ""
    return _markup(element)


def _html_source(element: Any) -> str:
    """type="html" holding elements (TypePad wraps escaped HTML in a <div>): the content read
    back as the HTML source it was meant to be."""
    return html.unescape(_markup(element))


def _base(element: Any, fallback: str | None) -> str | None:
    """What relative links inside `element` are relative to (xml:base, else the fallback)."""
    if element.get(_BASE_CHAIN) is None and not any(
        a.get(_BASE_CHAIN) is not None for a in element.iterancestors()
    ):
        return fallback
    return element.base or fallback


def parse_xml(data: bytes, url: str | None, *, recover: bool = False) -> ParsedFeed:
    """Parse an RSS or Atom document (UTF-8 bytes).

    NotWellFormed when the XML is not well-formed (unless `recover`, the last resort, which
    keeps what parses); NotAFeed when it is XML but neither RSS nor Atom.
    """
    parser = _parser(recover=recover)
    try:
        root = etree.fromstring(data, parser, base_url=url)
    except etree.XMLSyntaxError as exc:
        raise NotWellFormed(f"not well-formed XML: {exc}") from None
    if root is None:
        first = parser.error_log[0].message if parser.error_log else "nothing parseable"
        raise NotWellFormed(f"not XML: {first}")
    problems = []
    if recover and parser.error_log:
        error = parser.error_log[0]
        problems.append(
            f"malformed XML at line {error.line}: {error.message.strip()}; kept what parsed"
        )
    namespace, local = _split(root.tag)
    if local == "rss" or (local == "RDF" and namespace == RDF):
        feed = _rss(root, url, rdf=local == "RDF")
    elif local == "feed" and namespace in (ATOM10, ATOM03, ""):
        feed = _atom(root, url, "atom03" if namespace == ATOM03 else "atom10")
    elif local.lower() == "html":
        raise NotAFeed("an HTML page, not a feed")
    else:
        raise NotAFeed(f"an XML document of type <{local}>, not RSS or Atom")
    feed.problems.extend(problems)
    return feed


# -- media: enclosures, media:content, media:thumbnail --------------------------------------------


def _int(value: str | None) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    return number if number > 0 else None


class _Media:
    """What one entry carries besides its text: enclosures, images, a media description."""

    __slots__ = ("description", "enclosures", "images", "thumbnails", "title")

    def __init__(self) -> None:
        self.enclosures: list[Enclosure] = []
        self.thumbnails: list[tuple[str, int | None, int | None]] = []
        self.images: list[tuple[str, int | None, int | None]] = []
        self.description: str | None = None
        self.title: str | None = None  # only when the entry has no title of its own

    def read(self, element: Any, local: str, base: str | None) -> None:
        """A media:* element (media:group recursed into)."""
        if local == "group":
            for child in element:
                namespace, name = _split(child.tag)
                if namespace == MEDIA:
                    self.read(child, name, base)
        elif local == "thumbnail" and element.get("url"):
            self.thumbnails.append(
                (
                    urljoin(base or "", element.get("url").strip()),
                    _int(element.get("width")),
                    _int(element.get("height")),
                )
            )
        elif local == "content" and element.get("url"):
            href = urljoin(base or "", element.get("url").strip())
            kind = (element.get("type") or "").strip().lower()
            medium = (element.get("medium") or "").strip().lower()
            size = (_int(element.get("width")), _int(element.get("height")))
            if medium == "image" or kind.startswith("image/"):
                self.images.append((href, *size))
            else:
                self.enclosures.append(Enclosure(href, kind or None, _int(element.get("fileSize"))))
            for child in element:  # thumbnails and descriptions may sit inside media:content
                namespace, name = _split(child.tag)
                if namespace == MEDIA and name in ("thumbnail", "description", "title"):
                    self.read(child, name, base)
        elif local == "title" and self.title is None and _text(element):
            kind = (element.get("type") or "plain").lower()
            self.title = (
                element.text if kind == "html" else html.escape(_text(element), quote=False)
            )
        elif local == "description" and self.description is None:
            text = element.text or ""
            if text.strip():
                kind = (element.get("type") or "plain").lower()
                self.description = text if kind == "html" else _paragraphs(text)

    def enclosure(self, href: str | None, kind: str | None, length: str | None) -> None:
        if href and href.strip():
            kind = (kind or "").strip().lower() or None
            self.enclosures.append(Enclosure(href.strip(), kind, _int(length)))

    def apply(self, entry: Entry) -> None:
        """Enclosures and the picture into the entry (and its text read as HTML5 reads it)."""
        entry.title, entry.content_html = _c1(entry.title), _c1(entry.content_html)
        seen: set[str] = set()
        for enclosure in self.enclosures:
            if enclosure.url not in seen:
                seen.add(enclosure.url)
                entry.enclosures.append(enclosure)
        images = [
            (e.url, None, None) for e in entry.enclosures if (e.type or "").startswith("image/")
        ]
        for href, width, height in [*images, *self.thumbnails, *self.images]:
            if href.startswith(("http://", "https://")):
                entry.image, entry.image_width, entry.image_height = href, width, height
                break


def _paragraphs(text: str) -> str:
    """Plain text (a media description, an itunes summary) as HTML paragraphs."""
    blocks = [" ".join(block.split()) for block in text.replace("\r", "").split("\n\n")]
    return "".join(f"<p>{html.escape(block, quote=False)}</p>" for block in blocks if block)


# -- RSS ----------------------------------------------------------------------------------------


def _rss(root: Any, url: str | None, *, rdf: bool) -> ParsedFeed:
    channel = None
    for child in root:
        namespace, local = _split(child.tag)
        if local == "channel" and namespace in RSS:
            channel = child
            break
    version = root.get("version", "2.0").strip()
    feed = ParsedFeed(format="rss10" if rdf else f"rss{version.replace('.', '')}")
    holder = root if rdf or channel is None else channel
    if channel is not None:
        for child in channel:
            namespace, local = _split(child.tag)
            if namespace not in RSS:
                continue
            if local == "title" and feed.title is None:
                feed.title = _text(child)
            elif local == "link" and feed.link is None:
                feed.link = _text(child) or None
    base = url or ""
    if channel is not None and channel.get(_BASE_CHAIN) is not None:
        base = channel.base or base
    elif feed.link and feed.link.startswith(("http://", "https://")):
        base = feed.link
    items = [child for child in holder if _is_item(child)]
    if not rdf and channel is not None and not items:  # items misplaced outside the channel
        items = [child for child in root if _is_item(child)]
    feed.entries = [_rss_item(item, base or None) for item in items]
    return feed


def _is_item(element: Any) -> bool:
    namespace, local = _split(element.tag)
    return local == "item" and namespace in RSS


_RSS_DATES = ("pubDate", "published", "date", "issued", "created", "updated", "modified")


def _rss_item(item: Any, base: str | None) -> Entry:
    base = _base(item, base)
    entry = Entry(base=base)
    media = _Media()
    description = encoded = summary = dc_title = None
    guid_is_link = False
    dates: dict[str, str] = {}
    for child in item:
        namespace, local = _split(child.tag)
        if not local:
            continue
        if namespace in RSS:
            if local == "title" and entry.title is None:
                entry.title = _html(child)
            elif local == "link" and not entry.link:
                entry.link = _text(child) or (child.get("href") or "").strip() or None
            elif local == "guid":
                entry.guid = _text(child) or None
                guid_is_link = child.get("isPermaLink", "true").strip().lower() != "false"
            elif local in ("pubDate", "updated", "published"):
                dates.setdefault(local, _text(child))
            elif local == "description":
                description = _html(child)
            elif local in ("body", "fullitem"):  # feeds of the 2000s; the full body
                encoded = encoded or (_markup(child) if len(child) else child.text)
            elif local == "summary" and summary is None and _text(child):
                summary = _html(child)
            elif local == "id" and entry.guid is None:
                entry.guid = _text(child) or None
            elif local == "author" and entry.author is None:
                entry.author = _author(child)
            elif local == "category":
                entry.categories.append(_text(child))
            elif local == "enclosure":
                media.enclosure(child.get("url"), child.get("type"), child.get("length"))
        elif namespace == CONTENT and local == "encoded":
            encoded = _html(child)
        elif namespace in (DC, DCTERMS):
            if local in ("date", "issued", "created", "modified"):
                dates.setdefault(local, _text(child))
            elif local == "creator" and entry.author is None:
                entry.author = _author(child)
            elif local == "subject":
                entry.categories.append(_text(child))
            elif local == "title" and dc_title is None:
                dc_title = _html(child)
            elif local == "description" and summary is None and _text(child):
                summary = _html(child)
        elif namespace == ATOM10:
            if local == "link" and child.get("href"):
                rel = child.get("rel", "alternate")
                if rel == "alternate" and not entry.link:
                    entry.link = child.get("href").strip()
                elif rel == "enclosure":
                    media.enclosure(child.get("href"), child.get("type"), child.get("length"))
            elif local in ("published", "updated"):
                dates.setdefault(local, _text(child))
            elif local == "author" and entry.author is None:
                entry.author = _author(child)
        elif namespace == FEEDBURNER and local == "origLink" and _text(child):
            entry.link = _text(child)  # FeedBurner keeps the real link here
        elif namespace == XHTML and local == "body":
            encoded = encoded or _markup(child)
        elif namespace in ITUNES:
            if local == "summary" and summary is None and _text(child):
                summary = _paragraphs(child.text or "")
            elif local == "author" and entry.author is None:
                entry.author = _author(child)
        elif namespace == MEDIA:
            media.read(child, local, base)
        elif namespace == RDF and local == "about":
            entry.guid = entry.guid or child.text
    if entry.title is None:
        entry.title = dc_title or media.title
    if entry.guid is None and item.get(f"{{{RDF}}}about"):
        entry.guid = item.get(f"{{{RDF}}}about")
    if not entry.link and entry.guid and guid_is_link and "://" in entry.guid:
        entry.link = entry.guid
    for which in _RSS_DATES:
        if (when := parse_date(dates.get(which))) is not None:
            entry.published = when
            break
    body = encoded if encoded and len(encoded.strip()) >= len((description or "").strip()) else None
    entry.content_html = (
        body or _nonblank(description) or _nonblank(encoded) or summary or media.description
    )
    media.apply(entry)
    return entry


def _nonblank(value: str | None) -> str | None:
    return value if value and value.strip() else None


def _author(element: Any) -> str | None:
    names = [_text(c) for c in element if _split(c.tag)[1] == "name"]
    value = names[0] if names else _text(element)
    # "email (Name)" as RSS 2.0 asks, or "Name (email)": keep the name either way
    if "(" in value and value.endswith(")"):
        outside, _, inside = value[:-1].partition("(")
        outside, inside = outside.strip(), inside.strip()
        if "@" in outside or not outside:
            value = inside or outside
        elif "@" in inside:
            value = outside
    return value or None


# -- Atom ---------------------------------------------------------------------------------------


def _atom(root: Any, url: str | None, format: str) -> ParsedFeed:
    feed = ParsedFeed(format=format)
    entries = []
    for child in root:
        namespace, local = _split(child.tag)
        if namespace not in ATOM and namespace:
            continue
        if local == "entry":
            entries.append(child)
        elif local == "title" and feed.title is None:
            feed.title = _construct(child)
        elif local == "link" and child.get("rel", "alternate") == "alternate" and not feed.link:
            feed.link = urljoin(_base(child, url) or "", child.get("href") or "") or None
    feed.entries = [_atom_entry(entry, url) for entry in entries]
    return feed


def _atom_entry(element: Any, url: str | None) -> Entry:
    entry = Entry(base=_base(element, url))
    media = _Media()
    content = summary = None
    content_base = summary_base = entry.base
    dates: dict[str, str] = {}
    links: list[tuple[str, str]] = []
    for child in element:
        namespace, local = _split(child.tag)
        if not local:
            continue
        if namespace == MEDIA:
            media.read(child, local, entry.base)
            continue
        if namespace in ITUNES and local == "summary" and _text(child):
            summary = summary or _paragraphs(child.text or "")
            continue
        if namespace not in ATOM and namespace:
            continue
        if local == "title":
            entry.title = _construct(child)
        elif local == "link" and (child.get("href") or _text(child)):
            rel = child.get("rel", "alternate").strip()
            href = urljoin(_base(child, url) or "", (child.get("href") or _text(child)).strip())
            if rel == "alternate":
                links.append((child.get("type", "text/html"), href))
            elif rel == "enclosure":
                media.enclosure(href, child.get("type"), child.get("length"))
        elif local == "id":
            entry.guid = _text(child) or None
        elif local in ("published", "issued", "created", "updated", "modified"):
            dates.setdefault(local, _text(child))
        elif local == "content" and not child.get("src"):
            content, content_base = _construct(child), _base(child, url)
        elif local == "summary":
            summary, summary_base = _construct(child), _base(child, url)
        elif local == "author" and entry.author is None:
            entry.author = _author(child)
        elif local == "category":
            entry.categories.append(child.get("label") or child.get("term") or _text(child))
    html_links = [href for kind, href in links if "html" in kind]
    entry.link = next(iter(html_links or [href for _, href in links]), None)
    for which in ("published", "issued", "created", "updated", "modified"):
        if (when := parse_date(dates.get(which))) is not None:
            entry.published = when
            break
    if entry.link is None and entry.guid and entry.guid.startswith(("http://", "https://")):
        entry.link = entry.guid  # an http id is the entry's address when it gives no link
    if entry.title is None:
        entry.title = media.title
    if content and content.strip():
        entry.content_html, entry.base = content, content_base
    elif summary and summary.strip():
        entry.content_html, entry.base = summary, summary_base
    else:
        entry.content_html = media.description
    media.apply(entry)
    return entry


def _base64(text: str | None, kind: str) -> str:
    try:
        decoded = base64.b64decode("".join((text or "").split())).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""
    return decoded if "html" in kind else html.escape(decoded, quote=False)


def _construct(element: Any) -> str:
    """An Atom text construct as HTML: text escaped, html kept, xhtml serialized."""
    kind = (element.get("type") or "text").strip().lower()
    mode = (element.get("mode") or "").strip().lower()  # Atom 0.3
    if mode == "base64":
        return _base64(element.text, kind)
    if kind in ("xhtml", "application/xhtml+xml") or mode == "xml":
        divs = [c for c in element if _split(c.tag) == (XHTML, "div")]
        if len(divs) == 1 and len(element) == 1 and not (element.text or "").strip():
            return _markup(divs[0])
        return _markup(element)
    if kind in ("html", "text/html") or mode == "escaped":
        return _html_source(element) if len(element) else (element.text or "")
    if kind not in ("text", "text/plain") and not (
        kind.startswith("text/") or kind.endswith(("+xml", "/xml"))
    ):  # any other media type is base64 (RFC 4287, 4.1.3.3)
        return _base64(element.text, kind)
    if len(element):  # "text" with markup inside: keep the markup as the feed meant it
        return _markup(element)
    return html.escape(element.text or "", quote=False)
