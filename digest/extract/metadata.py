"""What a page declares about its article: title, date, author, image, language.

Meta tags, JSON-LD and the visible markup are read together; each `pick_*` says which wins."""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html

from digest.dates import parse_date
from digest.extract.prose import norm_ws, overlap, word_tokens

LOGGER = logging.getLogger(__name__)


def _words(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated string (easier to read and edit)."""
    return frozenset(text.split())


MAX_DOCUMENT_BYTES = 10_000_000
"""Largest document (after decompression) we try to extract; bigger ones are refused."""

_MAX_HTML_CHARS = 1_000_000
"""Markup (after scripts and styles are dropped) or plain text beyond this is cut before
parsing: extraction time grows with the page (about 2 s per MB here), an article's start is
never megabytes down, and one page must never hold up a run."""

_MAX_TRAFILATURA_ELEMENTS = 6000
"""Above this many elements trafilatura is skipped (the corpus' largest page has 1,600)."""

_MIN_BLOCK_CHARS = 20
"""Blocks shorter than this are labels, not paragraphs (ten words take more)."""

_LEAD_MIN_WORDS = 15
"""A lead has at least this many words (the benchmark's definition of a lead, too)."""

_MAX_BLOCKS = 1600
"""Candidate blocks examined on one page; bounds the time spent on pages made of thousands."""


# --------------------------------------------------------------------------------------------
# Metadata


@dataclass
class Meta:
    """What the page says about itself in <head>, JSON-LD and microdata."""

    tags: dict[str, list[str]]
    jsonld: list[dict[str, Any]]

    def first(self, *keys: str) -> str | None:
        for key in keys:
            for value in self.tags.get(key, ()):
                value = norm_ws(html_lib.unescape(value))
                if value:
                    return value
        return None

    def ld(self, key: str) -> Any:
        for obj in self.jsonld:
            if obj.get(key):
                return obj[key]
        return None


_ARTICLE_TYPES = re.compile(r"(Article|BlogPosting|Report|NewsArticle|WebPage|Posting)$")


def _iter_jsonld(obj: Any) -> Iterator[dict[str, Any]]:
    if isinstance(obj, list):
        for item in obj:
            yield from _iter_jsonld(item)
    elif isinstance(obj, dict):
        graph = obj.get("@graph")
        if isinstance(graph, list):
            yield from _iter_jsonld(graph)
        yield obj


def read_meta(tree: lxml_html.HtmlElement) -> Meta:
    tags: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
        content = el.get("content")
        if key and content:
            tags.setdefault(key.strip().lower(), []).append(content)
    for el in tree.iter("link"):
        rel = (el.get("rel") or "").lower().split()
        href = el.get("href")
        if href and "canonical" in rel:
            tags.setdefault("link:canonical", []).append(href)
    objects: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except (ValueError, RecursionError):
            continue
        for obj in _iter_jsonld(data):
            kind = obj.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            if any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds):
                objects.append(obj)
    # Prefer the article object over a generic WebPage one.
    objects.sort(key=lambda o: "WebPage" in str(o.get("@type")))
    return Meta(tags, objects)


_TITLE_SEPARATORS = re.compile(r"\s+[|–—·•»:\-/]\s+|\s+[|–—·•»]|\s*\|\s*")


def _compact(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.lower()) if ch.isalnum())


def _site_names(meta: Meta, url: str | None) -> set[str]:
    """Names the site goes by, compacted: og:site_name, publisher, and the host's labels."""
    names: set[str] = set()
    for value in (meta.first("og:site_name", "application-name", "twitter:site"),):
        if value:
            names.add(_compact(value.lstrip("@")))
    publisher = meta.ld("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        names.add(_compact(publisher["name"]))
    if url:
        host = (urlsplit(url).hostname or "").lower()
        labels = [p for p in host.split(".") if p not in {"www", "m", "amp", "edition", "news"}]
        if labels:
            names.add(_compact("".join(labels[:-1]) or labels[0]))
            names.add(_compact(labels[0]))
            names.add(_compact(host.removeprefix("www.")))
    names.discard("")
    return names


def _is_site_segment(segment: str, sites: set[str]) -> bool:
    compact = _compact(segment)
    if not compact:
        return True
    if len(segment.split()) > 6:
        return False
    return any(
        compact == s or (len(s) >= 4 and (s in compact or compact in s)) or compact == "the" + s
        for s in sites
    )


def _strip_site(title: str, sites: set[str]) -> str:
    """Drop a leading or trailing " | Site name" segment that names the site or its host."""
    title = norm_ws(title)
    for _ in range(2):
        parts = _TITLE_SEPARATORS.split(title)
        if len(parts) < 2:
            break
        if _is_site_segment(parts[-1], sites):
            title = re.sub(r"[\s|–—·•»:\-/]+$", "", title[: title.rfind(parts[-1])]).strip()
        elif _is_site_segment(parts[0], sites) and len(parts[0]) < len(title) / 2:
            title = re.sub(r"^[\s|–—·•»:\-/]+", "", title[len(parts[0]) :]).strip()
        else:
            break
    return title


def element_text(el: lxml_html.HtmlElement) -> str:
    return norm_ws(el.text_content())


def pick_title(
    tree: lxml_html.HtmlElement, meta: Meta, url: str | None
) -> tuple[str | None, lxml_html.HtmlElement | None]:
    """The article's headline and the <h1> that shows it (None when the page has none).

    The visible <h1> wins when it agrees with what the page calls itself (og:title, JSON-LD
    headline, <title>); an <h1> that is only the site's logo, or that says something else, loses
    to og:title, cleaned of its " | Site" segment.
    """
    sites = _site_names(meta, url)
    # What the article says its title is, then what the document says (<title>).
    declared = [
        t
        for t in (
            meta.first("og:title", "twitter:title"),
            _str_or_none(meta.ld("headline")),
            meta.first("title", "dc.title", "sailthru.title", "parsely-title"),
        )
        if t
    ]
    document_title = norm_ws(tree.findtext(".//title") or "")
    claimed = [*declared, document_title] if document_title else declared
    h1s = [(el, element_text(el)) for el in tree.iter("h1")]
    h1s = [(el, t) for el, t in h1s if t and not _is_site_segment(t, sites)]
    best: tuple[float, lxml_html.HtmlElement | None, str | None] = (0.0, None, None)
    for el, text in h1s[:10]:
        for claim in claimed:
            score = overlap(claim, text)
            short, full = _compact(text), _compact(claim)
            if short and short in full and len(short) >= 0.4 * len(full):
                score = max(score, 0.9)  # the <title> adds a site name or a kicker
            if score > best[0]:
                best = (score, el, text)
    if best[1] is not None and best[0] >= 0.6:
        return best[2], best[1]
    if not declared and len(h1s) == 1 and _strip_site(document_title, sites) == document_title:
        # A <title> that names no site (a generic "Home" or a stale template title) loses to
        # the page's one headline; "Headline - Site" keeps its word against an <h1> logo.
        return h1s[0][1], h1s[0][0]
    for claim in claimed:
        stripped = _strip_site(claim, sites)
        if stripped:
            heading = _find_heading(h1s, stripped)
            return stripped, heading
    if h1s:
        return h1s[0][1], h1s[0][0]
    return None, None


def _find_heading(
    h1s: list[tuple[lxml_html.HtmlElement, str]], title: str
) -> lxml_html.HtmlElement | None:
    for el, text in h1s:
        if overlap(title, text) >= 0.6:
            return el
    return None


def _str_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return norm_ws(html_lib.unescape(value)) or None
    if isinstance(value, list) and value:
        return _str_or_none(value[0])
    return None


def plausible_date(value: str | None) -> datetime | None:
    """A page's date when it is one an article could carry (metadata holds odd values)."""
    when = parse_date(value)
    return when if when is not None and 1990 <= when.year <= 2100 else None


def pick_published(tree: lxml_html.HtmlElement, meta: Meta) -> datetime | None:
    for value in (
        meta.first(
            "article:published_time",
            "og:published_time",
            "og:article:published_time",
            "datepublished",
            "publishdate",
            "publish-date",
            "pubdate",
            "parsely-pub-date",
            "sailthru.date",
            "dc.date.issued",
            "dc.date",
            "dcterms.created",
            "date",
            "article.published",
            "cxenseparse:recs:publishtime",
        ),
        _str_or_none(meta.ld("datePublished")),
        _str_or_none(meta.ld("dateCreated")),
    ):
        when = plausible_date(value)
        if when is not None:
            return when
    for el in tree.iter("time"):
        when = plausible_date(el.get("datetime"))
        if when is not None:
            return when
    return None


def guess_published(tree: lxml_html.HtmlElement, url: str | None) -> datetime | None:
    """htmldate (trafilatura's date finder) for pages whose metadata names no date: dates in
    the URL, in the visible text, in odd attributes. Only then: it copies the whole tree."""
    from htmldate import find_date  # lazy: only pages whose metadata names no date

    try:
        found = find_date(
            tree,
            extensive_search=False,
            original_date=True,
            url=url,
            outputformat="%Y-%m-%dT%H:%M:%S",
        )
    except Exception as exc:  # a third-party failure costs us the date, not the page
        LOGGER.debug("htmldate failed on %s: %s", url, exc)
        return None
    return plausible_date(found) if isinstance(found, str) else None


def _ld_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [n for item in value for n in _ld_names(item)]
    return []


def pick_author(tree: lxml_html.HtmlElement, meta: Meta) -> str | None:
    names = [n for n in _ld_names(meta.ld("author")) if n and not n.startswith("http")]
    if not names:
        value = meta.first(
            "author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "byl"
        )
        if value and not value.startswith("http"):
            names = [value]
    if not names:
        for el in tree.xpath('//*[@rel="author" or @itemprop="author"]')[:3]:
            text = element_text(el)
            if text and len(text.split()) <= 6:
                names = [text]
                break
    cleaned: list[str] = []
    for name in names:
        name = re.sub(r"^(by|von|par|por)\s+", "", norm_ws(html_lib.unescape(name)), flags=re.I)
        if name and name not in cleaned and len(name) <= 100:
            cleaned.append(name)
    return ", ".join(cleaned[:4]) or None


def pick_image(meta: Meta, base: str | None) -> str | None:
    image = meta.first(
        "og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"
    )
    if image is None:
        ld_image = meta.ld("image")
        if isinstance(ld_image, dict):
            image = _str_or_none(ld_image.get("url"))
        else:
            image = _str_or_none(ld_image)
            if (
                image is None
                and isinstance(ld_image, list)
                and ld_image
                and isinstance(ld_image[0], dict)
            ):
                image = _str_or_none(ld_image[0].get("url"))
    return absolute_url(image, base)


def absolute_url(link: str | None, base: str | None) -> str | None:
    if not link:
        return None
    link = link.strip()
    if base:
        link = urljoin(base, link)
    return link if link.startswith(("http://", "https://")) or not base else None


def pick_language(tree: lxml_html.HtmlElement, meta: Meta, text: str | None) -> str | None:
    for value in (
        tree.get("lang"),
        tree.get("xml:lang"),
        meta.first("content-language", "og:locale", "language", "dc.language"),
        _str_or_none(meta.ld("inLanguage")),
    ):
        if value:
            code = re.split(r"[-_]", value.strip().lower())[0]
            if re.fullmatch(r"[a-z]{2,3}", code):
                return code
    return guess_language(text) if text else None


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        """
        the and of to in is that for it with was on as are be this have from
        """
    ),
    "de": _words(
        """
            der die und das ist nicht den mit sich des auf für ein eine dem zu im
            """
    ),
    "fr": _words(
        """
        le la les et des est une pour que dans qui sur pas du au avec il
        """
    ),
    "es": _words(
        """
        el la los las de que y en un una por con para es del se al
        """
    ),
    "pt": _words(
        """
        o a os as de que e em um uma para com não do da no na
        """
    ),
    "it": _words(
        """
        il la di che e un una per con non sono del della nel gli le
        """
    ),
    "nl": _words(
        """
        de het een en van is dat op te in voor niet met zijn
        """
    ),
}


def guess_language(text: str) -> str | None:
    """A cheap guess from common words for the languages the summarizer knows (None if unsure)."""
    words = word_tokens(text[:4000])
    if len(words) < 8:
        return None
    if sum(1 for w in words if re.search(r"[а-яё]", w)) > len(words) / 2:
        return "ru"
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPWORDS.items()}
    lang, best = max(scores.items(), key=lambda kv: kv[1])
    return lang if best >= max(3, len(words) // 20) else None
