"""Site sources: a home or section page. Find its feed, else take the articles it links to.

Discovery looks at the page's `<link rel="alternate">` feeds first, then at the paths where
feeds usually live (/feed, /rss.xml, /atom.xml, ...). A site without any feed still yields
items: the links the page lists that look like articles (same site, a title-like text or an
article-like path), each to be fetched whole at extraction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html

from digest.identity import item_key, url_key
from digest.models import SourceItem
from digest.sources.normalize import plain_text

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
    "application/json",
    "application/xml",
    "text/xml",
)
COMMON_PATHS = (
    "/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml", "/feed.json",
    "/feeds/posts/default", "/?feed=rss2",
)  # fmt: skip
_NOT_ARTICLES = re.compile(
    r"/(tag|tags|category|categories|author|authors|page|search|login|signin|signup|register|"
    r"about|contact|privacy|terms|cookies|subscribe|newsletter|feed|rss|cart|account|shop)"
    r"(/|$)",
    re.IGNORECASE,
)
_ASSET = re.compile(r"\.(jpe?g|png|gif|svg|webp|pdf|zip|css|js|xml|json|mp3|mp4|ico)$", re.I)
_DATE_IN_PATH = re.compile(r"/(20\d\d|19\d\d)/(\d\d?)/(?:(\d\d?)/)?")


@dataclass(frozen=True)
class Link:
    url: str
    text: str
    in_article: bool  # inside <article>, <main> or a heading


def _tree(html: str, base: str) -> object:
    return lxml_html.document_fromstring(html, base_url=base)


def feed_links(html: str, base: str) -> list[str]:
    """Feeds a page announces with <link rel="alternate" type="...">, in page order."""
    if not html.strip():
        return []
    tree = _tree(html, base)
    found = []
    for link in tree.iter("link"):  # type: ignore[attr-defined]
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = link.get("href")
        if "alternate" in rel and href and kind in FEED_TYPES:
            found.append(urljoin(base, href.strip()))
    return list(dict.fromkeys(found))


def common_feed_urls(site: str) -> list[str]:
    """Where feeds usually live, relative to the site's root and to the given section."""
    parts = urlsplit(site)
    root = f"{parts.scheme}://{parts.netloc}"
    section = site.rstrip("/")
    candidates = [section + path for path in COMMON_PATHS[:6]] if section != root else []
    candidates += [root + path for path in COMMON_PATHS]
    return list(dict.fromkeys(candidates))


def page_links(html: str, base: str) -> list[Link]:
    if not html.strip():
        return []
    tree = _tree(html, base)
    links = []
    for anchor in tree.iter("a"):  # type: ignore[attr-defined]
        href = anchor.get("href")
        if not href:
            continue
        inside = any(
            parent.tag in ("article", "main", "h1", "h2", "h3", "h4")
            for parent in anchor.iterancestors()
        )
        text = plain_text(anchor.text_content())
        links.append(Link(urljoin(base, href.strip()), text, inside))
    return links


def article_links(html: str, base: str, limit: int) -> list[Link]:
    """The links of a listing page that look like articles, best first, one per article."""
    site_host = urlsplit(base).netloc.lower().removeprefix("www.")
    page_key = url_key(base)
    scored: list[tuple[int, int, Link]] = []
    seen: set[str] = set()
    for position, link in enumerate(page_links(html, base)):
        parts = urlsplit(link.url)
        if parts.scheme not in ("http", "https"):
            continue
        if parts.netloc.lower().removeprefix("www.") != site_host:
            continue
        path = parts.path or "/"
        if path == "/" or _NOT_ARTICLES.search(path) or _ASSET.search(path):
            continue
        key = url_key(link.url)
        if key is None or key == page_key or key in seen:
            continue
        slug = path.rstrip("/").rsplit("/", 1)[-1]
        score = 0
        score += 2 if link.in_article else 0
        score += 1 if _DATE_IN_PATH.search(path) else 0
        score += 1 if slug.count("-") >= 2 else 0
        score += 1 if len(link.text.split()) >= 4 else 0
        if score < 2 or len(link.text.split()) < 2:
            continue
        seen.add(key)
        scored.append((-score, position, link))
    scored.sort(key=lambda entry: (entry[0], entry[1]))
    return [link for _, _, link in scored[:limit]]


def listing_items(name: str, html: str, base: str, limit: int) -> list[SourceItem]:
    """Items for a site without a feed: each article link, to be fetched whole at extraction."""
    items = []
    for link in article_links(html, base, limit):
        items.append(
            SourceItem(
                source=name,
                key=item_key(None, link.url, link.text, None),
                url=link.url,
                title=link.text or None,
                published=_date_from_path(link.url),
                fetch_full=True,  # a listing gives no text: the page must be fetched
            )
        )
    return items


def _date_from_path(url: str) -> datetime | None:
    match = _DATE_IN_PATH.search(urlsplit(url).path)
    if not match or not match.group(3):
        return None  # a month alone is too vague to place an article in a window
    try:
        return datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)), tzinfo=UTC)
    except ValueError:
        return None
