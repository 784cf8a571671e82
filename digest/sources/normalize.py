"""What every source kind does to an item before it leaves the sources stage.

Titles lose their markup and entities, bodies are sanitized (nh3) with their relative links made
absolute, dates become UTC (a date in the future is clamped to now), and every item gets its
stable identity. The parsers (XML, JSON Feed, feedparser) only fill an `Entry`; `build_items`
turns entries into `SourceItem`s the same way whatever the format.

Sanitizing takes bounded time: nh3's parser costs time in proportion to the square of the
nesting depth (200,000 nested `<div>`s: two minutes), so markup is first cut to MAX_BODY_CHARS
and nested tags past MAX_DEPTH levels are dropped, their text kept (`bounded_markup`); and
`build_items` stops at its deadline, the source's timeout.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

import nh3

from digest.errors import FeedError
from digest.identity import item_key
from digest.models import Enclosure, SourceItem

# Tags a feed item's body may keep; everything else (scripts, styles, iframes, forms) goes.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "figcaption", "figure", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "q", "s", "small", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_LINK_ATTRIBUTE = re.compile(r'\b(href|src)="([^"]*)"')
_FIRST_IMAGE = re.compile(r'<img\b[^>]*?\bsrc="(https?://[^"]+)"[^>]*>')
_DIMENSION = re.compile(r'\b(width|height)="(\d{1,5})"')

MAX_BODY_CHARS = 512 * 1024  # an item body is cut here (a lead needs its first paragraphs)
MAX_DEPTH = 256  # nested elements kept; deeper start and end tags are dropped, text stays
# Elements that never nest in a parser's tree (a new <p> or <li> closes the open one) or
# have no content: they do not count as depth.
_FLAT = {
    "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup",
    "rb", "rt", "rp", "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
    "param", "source", "track", "wbr",
}  # fmt: skip
_TAG = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*>")
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")  # enough to measure the depth


@dataclass
class Entry:
    """One feed entry as a parser found it: raw, not yet normalized."""

    guid: str | None = None
    link: str | None = None
    title: str | None = None  # may hold markup and entities
    published: datetime | None = None
    content_html: str | None = None  # unsanitized HTML
    author: str | None = None
    categories: list[str] = field(default_factory=list)
    base: str | None = None  # what relative links in the body are relative to
    image: str | None = None  # the entry's own picture (enclosure, media:thumbnail/content)
    image_width: int | None = None
    image_height: int | None = None
    enclosures: list[Enclosure] = field(default_factory=list)


@dataclass
class ParsedFeed:
    """A parsed feed document: its entries, what format it was, and what went wrong on the way."""

    format: str
    title: str | None = None
    link: str | None = None
    entries: list[Entry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # e.g. malformed XML, kept what parsed
    path: str = "lxml"  # which reading it took: lxml, lxml after repair (...), feedparser, ...


# Built once: nh3.clean(..., tags=...) rebuilds its allow-list on every call (about 3x slower).
_SANITIZER = nh3.Cleaner(tags=ALLOWED_TAGS, link_rel="noopener noreferrer nofollow")
_TEXT_ONLY = nh3.Cleaner(tags=set())


def bounded_markup(fragment: str) -> str:
    """The fragment cut to MAX_BODY_CHARS (at a tag's start) and at most MAX_DEPTH elements
    deep: deeper tags are dropped, their text kept. Bodies that are not too deep come back as
    they are (measured in one pass of the tag names; with fewer tags, not even that)."""
    if len(fragment) > MAX_BODY_CHARS:
        fragment = fragment[:MAX_BODY_CHARS]
        opening = fragment.rfind("<")
        if opening > fragment.rfind(">"):
            fragment = fragment[:opening]  # not half a tag
    if fragment.count("<") <= MAX_DEPTH or not _too_deep(fragment):
        return fragment
    return _flattened(fragment)


class _OpenElements:
    """The elements a parser would hold open, by name (an end tag closes what it matches and
    whatever is open inside it; one that matches nothing is ignored, as parsers do)."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.count: dict[str, int] = {}

    def open(self, name: str) -> None:
        self.stack.append(name)
        self.count[name] = self.count.get(name, 0) + 1

    def close(self, name: str) -> None:
        if not self.count.get(name):
            return
        while self.stack:
            closed = self.stack.pop()
            self.count[closed] -= 1
            if closed == name:
                return


def _too_deep(fragment: str) -> bool:
    """Whether some element would sit deeper than MAX_DEPTH (`_OpenElements`, inlined: hot)."""
    stack: list[str] = []
    count: dict[str, int] = {}
    for closing, name in _TAG_NAME.findall(fragment):
        name = name.lower()
        if name in _FLAT:
            continue
        if not closing:
            stack.append(name)
            count[name] = count.get(name, 0) + 1
            if len(stack) > MAX_DEPTH:
                return True
        elif count.get(name):
            while True:
                closed = stack.pop()
                count[closed] -= 1
                if closed == name:
                    break
    return False


def _flattened(fragment: str) -> str:
    """The fragment without the start and end tags of elements past MAX_DEPTH."""
    parts: list[str] = []
    kept = 0  # where the text not yet copied starts
    elements = _OpenElements()
    dropped: dict[str, int] = {}
    for tag in _TAG.finditer(fragment):
        name = tag.group(2).lower()
        if name in _FLAT:
            continue
        if not tag.group(1):
            if len(elements.stack) < MAX_DEPTH:
                elements.open(name)
                continue
            dropped[name] = dropped.get(name, 0) + 1
        elif dropped.get(name):
            dropped[name] -= 1
        else:
            elements.close(name)
            continue
        parts.append(fragment[kept : tag.start()])
        kept = tag.end()
    parts.append(fragment[kept:])
    return "".join(parts)


def sanitize_html(fragment: str, base: str | None = None) -> str:
    """Feed HTML as it may be stored: nh3 with a conservative allow-list, links made absolute,
    in bounded time (see `bounded_markup`)."""
    clean: str = _SANITIZER.clean(bounded_markup(fragment))
    if base and ("href" in clean or "src" in clean):
        clean = _LINK_ATTRIBUTE.sub(lambda m: _absolute(m, base), clean)
    return clean


def _absolute(match: re.Match[str], base: str) -> str:
    value = html.unescape(match.group(2)).strip()
    if value.startswith(("http://", "https://", "mailto:", "#")):
        return match.group(0)
    return f'{match.group(1)}="{html.escape(urljoin(base, value), quote=True)}"'


def plain_text(fragment: str | None) -> str:
    """Markup and entities out, whitespace folded: how titles are kept."""
    if not fragment:
        return ""
    if "<" in fragment:
        fragment = _TEXT_ONLY.clean(bounded_markup(fragment))
    if "&" in fragment:
        fragment = html.unescape(fragment)
        if "&" in fragment and ";" in fragment:  # double-escaped titles ("&amp;amp;") happen
            fragment = html.unescape(fragment)
    return " ".join(fragment.split())


def _sort_key(entry: Entry) -> tuple[bool, float]:
    return (entry.published is None, -entry.published.timestamp() if entry.published else 0.0)


def build_items(
    name: str,
    entries: list[Entry],
    *,
    max_items: int,
    fetch_full: bool,
    base_url: str | None,
    now: datetime,
    keep: Callable[[str, str | None, tuple[str, ...]], bool] | None = None,
    deadline: float | None = None,
    dropped: Callable[[str, str | None, datetime | None], None] | None = None,
) -> list[SourceItem]:
    """Normalized items, newest first, at most `max_items` that `keep` (title, link, categories)
    accepts, each identity once; `dropped` hears of each one `keep` refused (title, link,
    published), for the editor's list of what was left out.

    Identities are computed from the dates as the feed gave them, so clamping a future date to
    `now` never changes an item's identity between runs. Past `deadline` (a `time.monotonic()`
    value: the source's timeout) it stops with FeedError.
    """
    ordered = sorted(entries, key=_sort_key)  # stable: undated entries keep document order
    items: list[SourceItem] = []
    seen: set[str] = set()
    for entry in ordered:
        if len(items) >= max_items:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise FeedError(
                f"reading its items took longer than the source's timeout ({len(items)} done)"
            )
        link = entry.link.strip() if entry.link else None
        if link and base_url and not link.startswith(("https://", "http://")):
            link = urljoin(entry.base or base_url, link)
        title = plain_text(entry.title)
        if not (title or link or entry.content_html):
            continue  # nothing to show: a fragment left by broken markup
        key = item_key(entry.guid, link, title, entry.published)
        if key in seen:
            continue  # the same guid twice in one feed: the first (newest) one wins
        seen.add(key)
        categories = tuple(dict.fromkeys(c.strip() for c in entry.categories if c and c.strip()))
        if keep is not None and not keep(title, link, categories):
            if dropped is not None:
                dropped(title, link, entry.published)
            continue
        published = entry.published
        if published is not None and published > now:
            published = now
        body = entry.content_html
        clean = sanitize_html(body, entry.base or base_url) if body else None
        image, size = _image(entry, clean, entry.base or base_url)
        items.append(
            SourceItem(
                source=name,
                key=key,
                url=link,
                title=title or None,
                published=published,
                content_html=clean,
                author=plain_text(entry.author) or None,
                categories=categories,
                fetch_full=fetch_full,
                image=image,
                image_size=size,
                enclosures=tuple(
                    Enclosure(urljoin(entry.base or base_url or "", e.url), e.type, e.length)
                    for e in entry.enclosures
                ),
            )
        )
    return items


def _image(
    entry: Entry, body: str | None, base: str | None
) -> tuple[str | None, tuple[int, int] | None]:
    """The item's picture: the feed's own (enclosure, media), else the body's first image."""
    if entry.image:
        url = urljoin(base or "", entry.image.strip())
        if url.startswith(("http://", "https://")):
            size = (entry.image_width, entry.image_height)
            return url, (size[0], size[1]) if size[0] and size[1] else None
    for enclosure in entry.enclosures:  # a relative image enclosure, now that there is a base
        if (enclosure.type or "").startswith("image/"):
            url = urljoin(base or "", enclosure.url)
            if url.startswith(("http://", "https://")):
                return url, None
    if body and "<img" in body and (found := _FIRST_IMAGE.search(body)):
        sizes = dict(_DIMENSION.findall(found.group(0)))
        width, height = int(sizes.get("width", 0)), int(sizes.get("height", 0))
        return html.unescape(found.group(1)), (width, height) if width and height else None
    return None, None
