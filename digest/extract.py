"""Extraction: one document (HTML page, text or Markdown file, feed item) -> ExtractedArticle.

The stage every article goes through before selection and summary. trafilatura finds the main
text; our own rules then pick the title and the lead paragraph, because a lead that starts with a
byline, a caption or a cookie banner is the one mistake a subscriber always notices.

    bytes --decode--> str --lxml (once)--> tree --+--> metadata (meta tags, JSON-LD, <h1>)
                                                  +--> trafilatura (precision, fast) -> body text
                                                  +--> lead rules over the page's blocks

The rules look at how pages are built, never at a particular site or text:

Title. The visible <h1> when it agrees with what the page declares (og:title, JSON-LD headline,
<title>); an <h1> that is only the site's name loses; otherwise og:title/<title> without its
" | Site" segment (a segment naming og:site_name, the publisher or the host).

Lead. The first block of real prose inside the article's body container.
  * Blocks: <p>, text-bearing <div>/<td>/<section>, and <div>s of inline text; <br><br> and
    child blocks with text split them, a single <br> only after a finished sentence. Inline
    widgets inside a paragraph (a hover card: a picture or a run of links) are dropped.
  * Real prose (is_prose): at least 15 words, ends like a sentence (or runs 40+ words), at most
    60 % linked text, and is no byline, timestamp, greeting, picture caption or credit, nor a
    short block using a chrome phrase (cookies, sign up, advertisement, "min read"...).
  * Body container: the deepest element holding 80 % of the page's prose words, comment threads
    left out. Deks, kickers, bylines and promos around the headline fall outside it; inside it,
    blocks under class/id hints (caption, credit, promo, newsletter, share, related, ad...)
    and an ad after its "Advertisement" label are skipped. Hints on wrappers above the
    container are layout and ignored.
  * Exceptions: the body's very first block may lack its final stop (20+ words); a block marked
    intro/lede/summary just before the container leads.
  * Fallbacks: first prose block after the headline anywhere, then trafilatura's first.
"""

from __future__ import annotations

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "decode_html",
    "extract_document",
    "extract_feed_item",
    "extract_file",
    "extract_html",
    "extract_text",
    "guess_language",
    "is_prose",
]

import html as html_lib
import json
import logging
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

from digest.errors import ExtractionError
from digest.models import ExtractedArticle

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
# Text helpers

_WS_RE = re.compile(r"\s+")
_INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]+")
_WORD_RE = re.compile(r"\w+")
_TOKEN_RE = re.compile(r"[^\s\w]*\w\S*")  # a whitespace-separated token holding a word character
_NON_LETTER_RE = re.compile(r"[\W\d_]+")
_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PARA_BREAK = "\u2029"  # stands in for <br> while we collect text, so source newlines differ
_BREAK_RE = re.compile(f'{_PARA_BREAK}\\s*{_PARA_BREAK}|(?<=[.!?…。！？"”»)])\\s*{_PARA_BREAK}')


def _norm_ws(text: str) -> str:
    if _INVISIBLE_RE.search(text):
        text = _INVISIBLE_RE.sub("", text)
    return _WS_RE.sub(" ", text).strip()


def _count_words(text: str) -> int:
    """Words in `text` (tokens with a letter or digit; "…" or "|" are no words); CJK scripts,
    written without spaces, count about 2 characters a word."""
    spaced = len(_TOKEN_RE.findall(text))
    if not _CJK_RE.search(text):
        return spaced
    cjk = len(_CJK_RE.findall(text))
    return spaced + cjk // 2 if cjk > len(text) // 4 else spaced


def _tokens(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _overlap(a: str, b: str) -> float:
    """Bag-of-words F1 between two strings: 1.0 when they say the same words."""
    ta, tb = Counter(_tokens(a)), Counter(_tokens(b))
    common = sum((ta & tb).values())
    if not common:
        return 0.0
    precision, recall = common / sum(tb.values()), common / sum(ta.values())
    return 2 * precision * recall / (precision + recall)


# --------------------------------------------------------------------------------------------
# What a lead is, as text

_TERMINAL_RE = re.compile(r"[.!?…。！？:~][\"'”’»)\]]*(\[\d+\])?$")
"""A finished sentence at the end of a block (checked on its last characters only)."""
_TRAILING_SYMBOLS_RE = re.compile(r"[\s\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200d]+$")
"""Emoji and the like after the last sentence: they do not unfinish it."""
_BYLINE_RE = re.compile(r"^(by|von|par|por|di|door|av|af|от|por:|by:)\s+\S+", re.IGNORECASE)
_DATELINE_ONLY_RE = re.compile(
    r"^(published|updated|posted|last updated|veröffentlicht|aktualisiert|publié|mis à jour|"
    r"publicado|actualizado)\b",
    re.IGNORECASE,
)
# Phrases that only chrome uses: banners, prompts, paywalls, feed footers. Matched (on the
# lower-cased text) in short blocks only, so an article about newsletters keeps its paragraphs.
_CHROME_RE = re.compile(
    r"\b(?:cookies? (?:policy|settings|preferences|consent)"
    r"|(?:use|uses|accept|allow) (?:all )?cookies"
    r"|sign up|subscribe|newsletter|log ?in|sign in|advertisement|sponsored|javascript"
    r"|your browser|ad ?blocker|appeared first on|continue reading|read more|click here|min read"
    r"|all rights reserved|copyright|free articles?|subscribers? only"
    r"|for your personal,? non-commercial use|skip to (?:main )?content"
    r"|(?:top|bottom) of (?:the )?page|share (?:this|on)|follow us|jetzt abonnieren|abonnez-vous"
    r"|suscríbete|image (?:credit|source)|getty images|ap photo"
    r"|affiliate (?:links?|partnerships?|commissions?)|may earn (?:a )?commission)\b"
    r"|\b(?:photo(?:graph)?|foto|credit):|\breuters/|©"
)
_CHROME_MAX_WORDS = 45
"""A block this short that uses a chrome phrase is chrome; a longer one is prose about it."""

_GREETING_RE = re.compile(
    r"^(hi|hello|hey|dear|good (morning|afternoon|evening)|welcome( back)?|hallo|liebe|bonjour|"
    r"hola)\b[^.!?]{0,40}[,!:]",
    re.IGNORECASE,
)


_CAPTION_RE = re.compile(
    r"^(in )?(this|these|an?|the) (.{0,60}? )?(file )?(photos?|images?|pictures?|photographs?"
    r"|handout|screenshot|screengrab|video still)\b[^.]{0,80}(,|shows?|taken|made available)",
    re.IGNORECASE,
)
_CREDIT_RE = re.compile(
    r"\(([\w ]{1,40} via )?(AP|AFP|EPA|Reuters|Getty Images|dpa)\b[^)]{0,60}\)$"
    r"|\b(photo|image|picture|illustration) (by|courtesy( of)?|credit):?\s",
    re.IGNORECASE,
)
"""Picture captions and credits, as agencies and newsrooms write them."""


def _ends_sentence(text: str) -> bool:
    return bool(_TERMINAL_RE.search(_TRAILING_SYMBOLS_RE.sub("", text[-12:])))


def is_prose(text: str, *, min_words: int = _LEAD_MIN_WORDS) -> bool:
    """True when `text` reads like a paragraph of an article, not like site chrome.

    Enough words, ends like a sentence (or is long enough not to need to), is no byline,
    timestamp, greeting or prompt. Shared by HTML, text and feed extraction so a lead means the
    same thing everywhere.
    """
    if len(text) < min_words * 2:
        return False
    words = _count_words(text)
    if words < min_words:
        return False
    if words < 40 and not _ends_sentence(text):
        return False
    if _BYLINE_RE.match(text) and words < 25:
        return False
    if _DATELINE_ONLY_RE.match(text) and words < 25:
        return False
    if _GREETING_RE.match(text) and words < 25:
        return False
    if words <= _CHROME_MAX_WORDS and _CHROME_RE.search(text.lower()):
        return False
    if _CAPTION_RE.match(text) or _CREDIT_RE.search(text[-80:]):
        return False
    if words > 80:
        return True  # that much text with sentence ends is prose, whatever its digits
    letters = len(_NON_LETTER_RE.sub("", text))
    return letters >= 0.6 * (len(text) - text.count(" "))


# --------------------------------------------------------------------------------------------
# Decoding

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_META_CHARSET_RE = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE
)
_CT_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def _charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CT_CHARSET_RE.search(content_type)
    return match.group(1) if match else None


def _normalize_codec(name: str | None) -> str | None:
    """A Python codec for a declared charset, with the WHATWG aliases browsers apply."""
    if not name:
        return None
    import codecs

    try:
        codec = codecs.lookup(name.strip().lower()).name
    except LookupError:
        return None
    # Browsers read "latin-1"/"ascii" as windows-1252; pages rely on it (curly quotes, €).
    if codec in {"latin_1", "iso8859-1", "ascii"}:
        return "cp1252"
    return codec


def decode_html(data: bytes, content_type: str | None = None) -> str:
    """Decode a page the way a careful browser would, surviving wrong labels.

    Order: byte-order mark, the Content-Type charset, `<meta charset>`, then charset-normalizer.
    A page that is valid UTF-8 is read as UTF-8 whatever its label says (valid multi-byte UTF-8
    almost never happens by accident), and a page labelled UTF-8 that is not valid UTF-8 (Latin-1
    served as UTF-8) falls through to detection instead of turning into replacement characters.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")
    declared = _normalize_codec(_charset_from_content_type(content_type))
    if declared is None:
        meta = _META_CHARSET_RE.search(data[:8192])
        declared = _normalize_codec(meta.group(1).decode("ascii", "ignore")) if meta else None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and (declared in {None, "utf-8"} or not text.isascii()):
        return text
    if declared and declared not in {"utf-8", "utf-16", "utf-16-le", "utf-16-be"}:
        try:
            return data.decode(declared)
        except UnicodeDecodeError:
            pass
    return _detect_and_decode(data)


def _western_share(text: str) -> float:
    """Share of non-ASCII letters that touch an ASCII letter: high for Western text ("café",
    "München"), low for another script read as cp1252 ("Ïðèâåò", all high letters)."""
    high = near = 0
    for index, match in enumerate(_HIGH_LETTER_RE.finditer(text)):
        if index >= 5000:
            break
        high += 1
        start, end = match.span()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        near += (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())
    return near / high if high else 1.0


_HIGH_LETTER_RE = re.compile(r"[^\x00-\x7f\W\d_]")


def _detect_and_decode(data: bytes) -> str:
    """Bytes that are not UTF-8: most often Windows-1252/Latin-1 (whatever the label says),
    which we keep when the result reads like Western text; otherwise charset-normalizer
    guesses from a sample; cp1252 with replacements when all else fails (never raises)."""
    western = data.decode("cp1252", errors="replace")
    if "\ufffd" not in western[:200_000] and _western_share(western) >= 0.7:
        return western
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding:
        try:
            return data.decode(best.encoding)
        except (UnicodeDecodeError, LookupError):
            pass
    return western


# --------------------------------------------------------------------------------------------
# Parsing

_PARSER = lxml_html.HTMLParser(
    collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
)


_BULKY_RE = re.compile(
    r"<script(?![^>]*application/ld\+json)[^>]*>.*?</script\s*>|<style[^>]*>.*?</style\s*>"
    r"|<svg[^>]*>.*?</svg\s*>|<!--.*?-->",
    re.IGNORECASE | re.DOTALL,
)
"""What a huge page is usually made of and what no article needs (JSON-LD is kept)."""


def _parse_html(text: str) -> lxml_html.HtmlElement:
    """Parse once; trafilatura, the metadata and the lead rules all read this tree."""
    text = _XML_DECL_RE.sub("", text)
    if len(text) > _MAX_HTML_CHARS:
        text = _BULKY_RE.sub("", text)
        if len(text) > _MAX_HTML_CHARS:
            cut = text.rfind("<", _MAX_HTML_CHARS - 10_000, _MAX_HTML_CHARS)  # not mid-tag
            text = text[: cut if cut > 0 else _MAX_HTML_CHARS]
    if not text.strip():
        raise ExtractionError("empty page")
    try:
        tree = lxml_html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"not parseable as HTML: {exc}") from exc
    if tree is None or len(tree) == 0:
        raise ExtractionError("empty page")
    return tree


# --------------------------------------------------------------------------------------------
# Metadata


@dataclass
class _Meta:
    """What the page says about itself in <head>, JSON-LD and microdata."""

    tags: dict[str, list[str]]
    jsonld: list[dict[str, Any]]

    def first(self, *keys: str) -> str | None:
        for key in keys:
            for value in self.tags.get(key, ()):
                value = _norm_ws(html_lib.unescape(value))
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


def _read_meta(tree: lxml_html.HtmlElement) -> _Meta:
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
    return _Meta(tags, objects)


_TITLE_SEPARATORS = re.compile(r"\s+[|–—·•»:\-/]\s+|\s+[|–—·•»]|\s*\|\s*")


def _compact(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text.lower()) if ch.isalnum())


def _site_names(meta: _Meta, url: str | None) -> set[str]:
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
    title = _norm_ws(title)
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


def _element_text(el: lxml_html.HtmlElement) -> str:
    return _norm_ws(el.text_content())


def _pick_title(
    tree: lxml_html.HtmlElement, meta: _Meta, url: str | None
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
    document_title = _norm_ws(tree.findtext(".//title") or "")
    claimed = [*declared, document_title] if document_title else declared
    h1s = [(el, _element_text(el)) for el in tree.iter("h1")]
    h1s = [(el, t) for el, t in h1s if t and not _is_site_segment(t, sites)]
    best: tuple[float, lxml_html.HtmlElement | None, str | None] = (0.0, None, None)
    for el, text in h1s[:10]:
        for claim in claimed:
            score = _overlap(claim, text)
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
        if _overlap(title, text) >= 0.6:
            return el
    return None


def _str_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return _norm_ws(html_lib.unescape(value)) or None
    if isinstance(value, list) and value:
        return _str_or_none(value[0])
    return None


def _parse_date(value: str | None) -> datetime | None:
    """An aware UTC datetime from the usual date spellings in page metadata."""
    if not value:
        return None
    value = value.strip()
    when: datetime | None = None
    candidate = value.replace("Z", "+00:00").replace(" ", "T", 1) if "T" not in value else value
    candidate = candidate.replace("Z", "+00:00")
    candidate = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", candidate)
    try:
        when = datetime.fromisoformat(candidate)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            match = re.match(r"(\d{4})-(\d{2})-(\d{2})", value)
            if match:
                try:
                    year, month, day = (int(g) for g in match.groups())
                    when = datetime(year, month, day)
                except ValueError:
                    return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    if not 1990 <= when.year <= 2100:
        return None
    return when


def _pick_published(tree: lxml_html.HtmlElement, meta: _Meta) -> datetime | None:
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
        when = _parse_date(value)
        if when is not None:
            return when
    for el in tree.iter("time"):
        when = _parse_date(el.get("datetime"))
        if when is not None:
            return when
    return None


def _ld_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        name = value.get("name")
        return [name] if isinstance(name, str) else []
    if isinstance(value, list):
        return [n for item in value for n in _ld_names(item)]
    return []


def _pick_author(tree: lxml_html.HtmlElement, meta: _Meta) -> str | None:
    names = [n for n in _ld_names(meta.ld("author")) if n and not n.startswith("http")]
    if not names:
        value = meta.first(
            "author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "byl"
        )
        if value and not value.startswith("http"):
            names = [value]
    if not names:
        for el in tree.xpath('//*[@rel="author" or @itemprop="author"]')[:3]:
            text = _element_text(el)
            if text and len(text.split()) <= 6:
                names = [text]
                break
    cleaned: list[str] = []
    for name in names:
        name = re.sub(r"^(by|von|par|por)\s+", "", _norm_ws(html_lib.unescape(name)), flags=re.I)
        if name and name not in cleaned and len(name) <= 100:
            cleaned.append(name)
    return ", ".join(cleaned[:4]) or None


def _pick_image(meta: _Meta, base: str | None) -> str | None:
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
    return _absolute(image, base)


def _absolute(link: str | None, base: str | None) -> str | None:
    if not link:
        return None
    link = link.strip()
    if base:
        link = urljoin(base, link)
    return link if link.startswith(("http://", "https://")) or not base else None


def _pick_language(tree: lxml_html.HtmlElement, meta: _Meta, text: str | None) -> str | None:
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
    words = _tokens(text[:4000])
    if len(words) < 8:
        return None
    if sum(1 for w in words if re.search(r"[а-яё]", w)) > len(words) / 2:
        return "ru"
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPWORDS.items()}
    lang, best = max(scores.items(), key=lambda kv: kv[1])
    return lang if best >= max(3, len(words) // 20) else None


# --------------------------------------------------------------------------------------------
# Main text (trafilatura)


_PRUNED_BEFORE_EXTRACTION = (
    "head",
    "style",
    "noscript",
    "svg",
    "iframe",
    "object",
    "embed",
    "canvas",
    "link",
    "nav",
    "button",
    "select",
    "input",
    "textarea",
    "audio",
    "video",
    "map",
    "menu",
    "dialog",
)
"""Elements trafilatura deletes, content and all, whatever the page: removing them first (in C,
once) spares its copy and its cleaning passes. <form> is not among them: some sites wrap the
whole page in one, and trafilatura treats forms with care."""


def _prune_for_extraction(tree: lxml_html.HtmlElement) -> None:
    """Drop what no extraction needs, once metadata has been read from <head> and JSON-LD.

    Scripts go too, except JSON-LD ones: trafilatura's fallback reads an articleBody there.
    """
    for script in list(tree.iter("script")):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            script.drop_tree()
    etree.strip_elements(tree, *_PRUNED_BEFORE_EXTRACTION, with_tail=False)


def _main_text(tree: lxml_html.HtmlElement, url: str | None) -> list[str]:
    """The article's paragraphs as trafilatura sees them, favouring precision.

    `fast=True` skips trafilatura's second opinion (readability/justext): it doubles the time
    and our lead rules, not the body, decide what a subscriber reads.
    """
    import trafilatura

    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            fast=True,
            favor_precision=True,
            include_comments=False,
            include_tables=True,
            with_metadata=False,
        )
    except Exception as exc:  # a third-party bug must not cost us the page: our rules go on
        LOGGER.warning("trafilatura failed on %s: %s: %s", url, type(exc).__name__, exc)
        return []
    text = document.get("text") if isinstance(document, dict) else getattr(document, "text", None)
    if not text:
        return []
    return [_norm_ws(p) for p in text.split("\n") if p.strip()]


# --------------------------------------------------------------------------------------------
# The lead, from the page's blocks

_SKIP_TAGS = _words(
    """
        script style noscript template svg nav footer aside button select option iframe
        figure figcaption header label dialog menu object video audio canvas map
        """
)
_NEVER_PROSE = tuple(sorted(_SKIP_TAGS - {"header", "label"}))
"""Removed from our tree before looking for the lead (trafilatura has had its own copy)."""
_HINT_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL_RE = re.compile(r"([a-z])([A-Z])")
# Class/id words that mark a block as something other than the article's prose.
_NEGATIVE_HINTS = _words(
    """
        ad ads adv advert advertisement advertising adslot adunit sponsor sponsored promo
        promoted promotion byline byl author authors dateline timestamp date time caption
        credit credits figcaption newsletter subscribe subscription signup paywall regwall
        meter cookie cookies consent gdpr banner modal popup overlay breadcrumb breadcrumbs
        tags tag share sharing social comment comments disqus related recommended
        recommendations trending popular mostread outbrain taboola sidebar widget footer nav
        navigation menu toolbar skip dek standfirst subtitle subhead subheadline deck kicker
        excerpt tagline strapline eyebrow rollover tooltip popover hovercard hidden visually
        sronly print noprint alert notice disclaimer correction teaser
        """
)
_NEGATIVE_SUBSTRINGS = (
    "newsletter",
    "subscribe",
    "byline",
    "caption",
    "comment",
    "sponsor",
    "advert",
    "promo",
    "cookie",
    "consent",
    "paywall",
    "related",
    "recommend",
    "social",
    "share",
    "breadcrumb",
    "sidebar",
    "rollover",
    "tooltip",
    "popover",
    "outbrain",
    "taboola",
    "standfirst",
    "subhead",
    "signup",
    "banner",
)
_INNER_BLOCKS = ("p", "div", "table", "ul", "ol", "blockquote", "section", "article", "pre")
"""Blocks that an inline wrapper may hold (a <span> around <p>s): those are blocks of their own."""
_BLOCK_TAGS = _words(
    """
        p div td th li section article main blockquote dd dt pre table ul ol dl h1 h2 h3 h4
        h5 h6 center body html
        """
)


def _hint_words(el: lxml_html.HtmlElement) -> set[str]:
    raw = f"{el.get('class') or ''} {el.get('id') or ''} {el.get('role') or ''}"
    raw = _CAMEL_RE.sub(r"\1 \2", raw).lower()
    return set(_HINT_SPLIT.split(raw)) - {""}


def _is_negative(el: lxml_html.HtmlElement) -> bool:
    """Marked, by tag, attributes or class/id words, as not the article's prose."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _SKIP_TAGS:
        return True
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    if style and re.search(r"display\s*:\s*none|visibility\s*:\s*hidden", style):
        return True
    words = _hint_words(el)
    if not words:
        return False
    if words & _NEGATIVE_HINTS:
        return True
    joined = " ".join(words)
    return any(s in joined for s in _NEGATIVE_SUBSTRINGS)


def _block_text(el: lxml_html.HtmlElement) -> list[str]:
    """The paragraphs inside one block: its own text and inline children, split at <br><br>
    and wherever a child block with text (a heading, a list) stands between two texts."""
    parts: list[str] = [el.text or ""]
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _BLOCK_TAGS or (tag and next(child.iter(*_INNER_BLOCKS), None) is not None):
            if child.text_content().strip():  # an empty ad slot joins, a heading separates
                parts.append(_PARA_BREAK * 2)
        elif tag and not _is_negative(child):
            parts.append(child.text_content())
        parts.append(child.tail or "")
    return _split_breaks("".join(parts))


def _link_chars(el: lxml_html.HtmlElement) -> int:
    return sum(len(a.text_content()) for a in el.iter("a"))


_BODY_SHARE = 0.8
"""Share of the page's prose words the article's container must hold."""

_MAX_LINK_RATIO = 0.6
"""Above this share of linked characters a block is a list of links, not prose (deal and
link-roundup posts put a link in most sentences, hence the high bar)."""
"""Share of the page's prose words the article's container must hold."""

_AD_LABEL_RE = re.compile(
    r"^\W*(advertisement|advertising|ad|anzeige|werbung|publicité|publicidad|sponsored"
    r"( content)?|paid (content|post)|partner content|promoted|promotion)\W*$",
    re.IGNORECASE,
)
"""The label a page must put on an ad, whatever it is styled like."""

_LEAD_HINTS = frozenset(["intro", "lead", "lede", "summary", "leadin", "introduction"])
"""Class/id words with which pages mark the article's first paragraph."""

_COMMENTS_HEADING_RE = re.compile(
    r"^\W*(\d+\s+)?(comments?|responses?|replies|reactions|discussion|reader comments"
    r"|leave a (comment|reply)|join the (conversation|discussion)|what do you think"
    r"|kommentare?|leserkommentare|commentaires?|réactions|comentarios?|commenti|reacties)"
    r"\b[^.]{0,30}$",
    re.IGNORECASE,
)
"""The heading over a comment thread (the thread itself may carry no class at all)."""

_STRONG_HINTS = frozenset(["comment", "comments", "disqus", "respond", "replies", "reply"])
"""Hints that count even on a big wrapper: a comment thread can be longer than the article."""

_CANDIDATES_XPATH = (
    "//h1 | //h2 | //h3 | //h4 | //p[not(ancestor::header)] | //div[text()[normalize-space()]]"
    " | //td[text()[normalize-space()]]"
    " | //blockquote[text()[normalize-space()]] | //section[text()[normalize-space()]]"
    " | //article[text()[normalize-space()]] | //pre"
    " | //div[not(div|p|table|ul|ol|dl|section|article|header|footer|aside|nav|form|figure"
    "|blockquote|h1|h2|h3|h4|h5|h6|pre|li|td)][not(text()[normalize-space()])]"
    "[string-length(normalize-space()) > 60]"
)


@dataclass
class _Block:
    """One paragraph of the page with what the lead rules need to know about it."""

    element: lxml_html.HtmlElement
    text: str
    link_ratio: float
    prose: bool  # is_prose(text, min_words=10) with few links
    words: int


def _prepare_for_blocks(tree: lxml_html.HtmlElement) -> None:
    """Mark <br> breaks and drop inline widgets, so paragraph text is what a reader sees.

    Inline widgets (hover cards, inline promos) sit inside a paragraph and hold a picture or a
    run of links; left in, they splice a list of headlines into the middle of a sentence.
    """
    for br in tree.iter("br"):
        br.tail = _PARA_BREAK + (br.tail or "")
    # Innermost first: a styling <span> around the whole paragraph must not go with its widget.
    for widget in reversed(
        tree.xpath("//p//*[self::span or self::div or self::aside][.//img or count(.//a) >= 3]")
    ):
        if widget.getparent() is None:
            continue
        # judged as it is now: an inner widget may already be gone, leaving a plain link
        if widget.find(".//img") is None and len(widget.findall(".//a")) < 3:
            continue
        if _link_chars(widget) >= 0.6 * len(widget.text_content().strip()):
            widget.drop_tree()


def _split_breaks(raw: str) -> list[str]:
    """Paragraphs of a block: <br><br> always breaks; one <br> breaks after a finished
    sentence and is a soft line break anywhere else (poems, addresses, hard-wrapped text)."""
    if _PARA_BREAK not in raw:
        text = _norm_ws(raw)
        return [text] if text else []
    chunks = _BREAK_RE.split(raw)
    return [t for t in (_norm_ws(c.replace(_PARA_BREAK, " ")) for c in chunks) if t]


def _collect_blocks(
    tree: lxml_html.HtmlElement, heading: lxml_html.HtmlElement | None
) -> tuple[list[_Block], int]:
    """Text blocks in document order (outside tags that are never prose), and the index of the
    first block after the headline (0 when there is no headline).

    Collection stops at a "Comments" / "Leave a reply" heading after the headline: what follows
    is the readers' thread, however much it is styled like the article.
    """
    blocks: list[_Block] = []
    first_after = 0
    past_heading = heading is None
    for el in tree.xpath(_CANDIDATES_XPATH)[:_MAX_BLOCKS]:
        if el is heading:
            first_after, past_heading = len(blocks), True
            continue
        if el.tag in ("h2", "h3", "h4"):
            if past_heading and _COMMENTS_HEADING_RE.match(_element_text(el)):
                break
            continue
        if el.tag == "h1":
            continue
        texts = _split_breaks(el.text_content()) if el.tag in ("p", "pre") else _block_text(el)
        total = sum(len(t) for t in texts)
        if total < _MIN_BLOCK_CHARS:
            # Too short to be prose; kept only when it labels an ad (the next block is the ad).
            blocks.extend(_Block(el, t, 0.0, False, 0) for t in texts if _AD_LABEL_RE.match(t))
            continue
        ratio = min(1.0, _link_chars(el) / total)
        for text in texts:
            words = _count_words(text)
            prose = ratio <= _MAX_LINK_RATIO and words >= 10 and is_prose(text, min_words=10)
            blocks.append(_Block(el, text, ratio, prose, words))
    return blocks, first_after


def _body_container(blocks: list[_Block]) -> lxml_html.HtmlElement | None:
    """The element that holds the article's paragraphs: the deepest one that still holds most
    of the page's prose (comment threads left out). Bodies cut into chunks by ads or figures
    share that ancestor; a dek, a sidebar or a promo above the body usually falls outside it."""
    totals: dict[lxml_html.HtmlElement, int] = {}
    depth: dict[lxml_html.HtmlElement, int] = {}
    grand_total = 0
    cache: dict[lxml_html.HtmlElement, bool] = {}
    for block in blocks:
        if not block.prose or _in_comments(block.element, cache):
            continue
        words = block.words
        grand_total += words
        ancestors = [block.element, *block.element.iterancestors()]
        for level, node in enumerate(reversed(ancestors)):
            totals[node] = totals.get(node, 0) + words
            depth[node] = level
    if not grand_total:
        return None
    needed = _BODY_SHARE * grand_total
    holding = [node for node, words in totals.items() if words >= needed]
    return max(holding, key=depth.__getitem__) if holding else None


def _in_comments(el: lxml_html.HtmlElement, cache: dict[lxml_html.HtmlElement, bool]) -> bool:
    """Inside a comment thread? (Cached per element: blocks share their ancestors.)"""
    parent = el.getparent()
    if parent is None or parent.tag in ("body", "html"):
        return False
    known = cache.get(parent)
    if known is None:
        known = bool(_hint_words(parent) & _STRONG_HINTS) or _in_comments(parent, cache)
        cache[parent] = known
    return known


def _blocked_below(
    el: lxml_html.HtmlElement,
    scope: lxml_html.HtmlElement | None,
    verdicts: dict[lxml_html.HtmlElement, bool],
) -> bool:
    """Is `el`, or an ancestor below `scope` (all ancestors when scope is None), marked as not
    prose? Wrappers above the article's container are layout, whatever their class says."""
    chain: list[lxml_html.HtmlElement] = []
    node: lxml_html.HtmlElement | None = el
    result = False
    while node is not None and node is not scope and node.tag not in ("body", "html"):
        known = verdicts.get(node)
        if known is not None:
            result = known
            break
        chain.append(node)
        if _is_negative(node):
            result = True
            break
        node = node.getparent()
    for item in chain:
        verdicts[item] = result
    return result


def _is_lead(block: _Block, title: str | None) -> bool:
    # is_prose(text) is is_prose(text, min_words=10) plus the lead's word count
    if not block.prose or block.words < _LEAD_MIN_WORDS:
        return False
    return not (title and _overlap(title, block.text) >= 0.8)


def _is_unpunctuated_opening(block: _Block, title: str | None) -> bool:
    """The body's very first block may lack its final stop (hand-written blog posts) and still
    be the lead when it is long enough to be no label or heading."""
    text = block.text
    if block.link_ratio > _MAX_LINK_RATIO or block.words < 20 or _ends_sentence(text):
        return False  # a finished sentence that is_prose refused stays refused
    if _CAPTION_RE.match(text) or _CREDIT_RE.search(text[-80:]):
        return False
    return is_prose(text + ".") and not (title and _overlap(title, text) >= 0.8)


def _is_inside(el: lxml_html.HtmlElement, scope: lxml_html.HtmlElement) -> bool:
    return el is scope or any(a is scope for a in el.iterancestors())


def _find_lead(
    tree: lxml_html.HtmlElement,
    heading: lxml_html.HtmlElement | None,
    title: str | None,
    body: list[str],
) -> tuple[str | None, list[str]]:
    """The lead, and our own reading of the body (prose blocks of the article's container)
    for when trafilatura has none.

    The lead is the first block of real prose inside the article's body container.

    Deks, bylines, captions and promos between the headline and the body sit outside that
    container; captions, ads and sign-up boxes inside it are known by their class/id hints.
    Fallbacks, in order: the first prose block after the headline anywhere on the page, then
    trafilatura's first prose paragraph.
    """
    _prepare_for_blocks(tree)
    etree.strip_elements(tree, *_NEVER_PROSE, with_tail=False)
    blocks, first_after = _collect_blocks(tree, heading)
    container = _body_container(blocks)
    own_body = [
        b.text
        for b in blocks
        if b.prose and (container is None or _is_inside(b.element, container))
    ]
    return _pick_lead(blocks, first_after, container, heading, title, body), own_body


def _pick_lead(
    blocks: list[_Block],
    first_after: int,
    container: lxml_html.HtmlElement | None,
    heading: lxml_html.HtmlElement | None,
    title: str | None,
    body: list[str],
) -> str | None:
    verdicts: dict[lxml_html.HtmlElement, bool] = {}
    if container is not None:
        heading_inside = heading is not None and _is_inside(heading, container)
        ad_box: lxml_html.HtmlElement | None = None
        after_label = False
        first_text = True
        for index, block in enumerate(blocks):
            if heading_inside and index < first_after:
                continue
            if not _is_inside(block.element, container):
                # A block the page marks as its lead paragraph ("intro", "lede", "summary")
                # may sit just before the body's container; a dek carries no such mark.
                if (
                    index >= first_after
                    and _hint_words(block.element) & _LEAD_HINTS
                    and not _is_negative(block.element)
                    and _is_lead(block, title)
                ):
                    return block.text
                continue
            if _blocked_below(block.element, container, verdicts):
                continue
            if _AD_LABEL_RE.match(block.text):
                # An ad styled like the body still carries its label: skip the box the label
                # sits in, or, when the label stands alone in the body, the block after it.
                parent = block.element.getparent()
                ad_box = parent if parent is not None and parent is not container else None
                after_label = ad_box is None
                continue
            if ad_box is not None and _is_inside(block.element, ad_box):
                continue
            if after_label:
                after_label = False
                continue
            if _is_lead(block, title):
                return block.text
            if first_text and _is_unpunctuated_opening(block, title):
                return block.text
            first_text = False
    verdicts = {}
    for block in blocks[first_after:]:
        if not _blocked_below(block.element, None, verdicts) and _is_lead(block, title):
            return block.text
    for paragraph in body:
        if is_prose(paragraph) and not (title and _overlap(title, paragraph) >= 0.8):
            return paragraph
    return None


def _clean_body(paragraphs: list[str], title: str | None) -> list[str]:
    """Drop from the main text what trafilatura may keep: the headline repeated on top, ads
    (their label and the block after it) and short chrome prompts."""
    while paragraphs and title and _overlap(title, paragraphs[0]) >= 0.9:
        paragraphs = paragraphs[1:]
    kept: list[str] = []
    skip_next = False
    for para in paragraphs:
        if _AD_LABEL_RE.match(para):
            skip_next = True
            continue
        if skip_next:
            skip_next = False
            continue
        if _count_words(para) <= 25 and _CHROME_RE.search(para.lower()):
            continue
        kept.append(para)
    return kept


# --------------------------------------------------------------------------------------------
# HTML


def extract_html(
    html: str | bytes, url: str | None = None, *, content_type: str | None = None
) -> ExtractedArticle:
    """Title, lead, metadata and main text of one HTML page.

    Raises ExtractionError when the page is empty or holds no article text at all.
    """
    text = decode_html(html, content_type) if isinstance(html, bytes) else html
    if "\x00" in text[:4096]:
        raise ExtractionError("binary content, not an HTML page")
    tree = _parse_html(text)
    meta = _read_meta(tree)
    canonical = _absolute(meta.first("link:canonical", "og:url"), url) or url
    title, heading = _pick_title(tree, meta, canonical)
    # trafilatura's tree cleaning grows faster than linearly with the element count; pages far
    # beyond any real article's size get our own (linear) reading of the body instead.
    author, published = _pick_author(tree, meta), _pick_published(tree, meta)
    _prune_for_extraction(tree)
    elements = int(tree.xpath("count(//*)"))
    body = _main_text(tree, canonical) if elements <= _MAX_TRAFILATURA_ELEMENTS else []
    lead, own_body = _find_lead(tree, heading, title, body)  # changes the tree: keep it last
    body = body or own_body
    body = _clean_body(body, title)
    if not body and not lead:
        raise ExtractionError("no article text found on the page")
    main = "\n\n".join(body) if body else lead
    return ExtractedArticle(
        url=canonical,
        title=title,
        lead=lead,
        author=author,
        published=published,
        image=_pick_image(meta, canonical),
        language=_pick_language(tree, meta, main),
        words=_count_words(main or ""),
        text=main,
    )


# --------------------------------------------------------------------------------------------
# Plain text and Markdown

_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n(---|\.\.\.)[ \t]*(\n|\Z)", re.DOTALL)
_MD_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_MD_SETEXT_RE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_EMPH_RE = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_MD_RULE_RE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """`key: value` pairs of a YAML-style front matter block, and the text after it."""
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    fields: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t", "-")):
            fields[key.strip().lower()] = value.strip().strip("\"'")
    return fields, text[match.end() :]


def _md_inline(line: str) -> str:
    line = _MD_IMAGE_RE.sub("", line)
    line = _MD_LINK_RE.sub(r"\1", line)
    line = _MD_EMPH_RE.sub(r"\2", line)
    return line.replace("\\", "")


def _paragraphs(text: str, *, markdown: bool) -> list[tuple[str, bool]]:
    """(paragraph, is_heading) pairs; Markdown syntax is reduced to plain text."""
    out: list[tuple[str, bool]] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            out.append((_norm_ws(" ".join(current)), False))
            current.clear()

    lines = text.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if markdown:
            heading = _MD_HEADING_RE.match(line)
            if heading:
                flush()
                out.append((_norm_ws(_md_inline(heading.group(1))), True))
                continue
            if _MD_RULE_RE.match(line):
                flush()
                continue
            if _MD_SETEXT_RE.match(line) and current:
                setext = current.pop()
                flush()
                out.append((_norm_ws(_md_inline(setext)), True))
                continue
            stripped = re.sub(r"^(>\s*)+|^[-*+]\s+|^\d+[.)]\s+", "", stripped)
            stripped = _md_inline(stripped)
            if i + 1 < len(lines) and _MD_SETEXT_RE.match(lines[i + 1]) and not current:
                current.append(stripped)
                continue
        current.append(stripped)
    flush()
    return [(p, h) for p, h in out if p]


_CHROME_LINE_RE = re.compile(
    r"^(\W*(top|bottom) of (the )?page\W*|skip to (main )?content|jump to (navigation|search)"
    r"|back to top|menu|navigation|search|home|share|print|advertisement|anzeige|publicité"
    r"|\d+ min(ute)?s? read|menü|suche|startseite)$",
    re.IGNORECASE,
)


def _is_chrome_line(text: str) -> bool:
    return bool(_CHROME_LINE_RE.match(text.strip())) or not any(ch.isalnum() for ch in text)


def extract_text(text: str, url: str | None = None, *, markdown: bool = False) -> ExtractedArticle:
    """Title and lead of a plain-text or Markdown article (a saved page, a note, a post).

    Title is the first real line (site chrome such as "top of page" is skipped), or the front
    matter's `title:`; the lead is the first real paragraph after it, by the same rules as HTML.
    """
    if len(text) > _MAX_HTML_CHARS:  # same bound as for pages, cut at a paragraph
        cut = text.rfind("\n\n", 0, _MAX_HTML_CHARS)
        text = text[: cut if cut > 0 else _MAX_HTML_CHARS]
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    fields: dict[str, str] = {}
    if markdown or text.startswith("---"):
        fields, text = _front_matter(text)
    # Site chrome in a saved page ("top of page", "Menu") sits on lines of its own.
    text = "\n".join(
        "" if _CHROME_LINE_RE.match(line.strip()) else line for line in text.split("\n")
    )
    blocks = _paragraphs(text, markdown=markdown)
    blocks = [(p, h) for p, h in blocks if not _is_chrome_line(p)]
    if not blocks and not fields.get("title"):
        raise ExtractionError("no text in the document")
    title = fields.get("title") or None
    start = 0
    if title is None:
        for index, (para, _) in enumerate(blocks):
            title = _norm_ws(para)
            start = index + 1
            break
        if title and _count_words(title) > 30:
            # a long first line is prose, not a headline: shorten it and keep it as lead too
            start -= 1
            title = " ".join(title.split()[:12]) + "…"
    body = [p for p, h in blocks[start:] if not h]
    lead = next((p for p in body if is_prose(p) and p != title), None)
    if lead is None:
        lead = next((p for p in body if is_prose(p, min_words=5)), None)
    main = "\n\n".join(body)
    return ExtractedArticle(
        url=fields.get("url") or fields.get("link") or url,
        title=title,
        lead=lead,
        author=fields.get("author") or None,
        published=_parse_date(fields.get("date") or fields.get("published")),
        image=fields.get("image") or None,
        language=(fields.get("lang") or fields.get("language") or guess_language(main) or None),
        words=_count_words(main),
        text=main or None,
    )


# --------------------------------------------------------------------------------------------
# Feed items

_FEED_FOOTER_RE = re.compile(
    r"(the post .{1,300} appeared first on .{1,200}$|continue reading.{0,80}$|read more.{0,40}$"
    r"|\[(…|\.\.\.|&#8230;)\]\s*$|(…|\.\.\.)\s*$)",
    re.IGNORECASE | re.DOTALL,
)


def extract_feed_item(
    content_html: str | None, *, url: str | None, title: str | None
) -> ExtractedArticle | None:
    """An article from a feed item's own body, or None when that body holds no real lead.

    A teaser ("… Continue reading"), a title alone or a WordPress "The post … appeared first
    on …" footer is not a lead: None tells the caller to fetch the page when the source allows.
    """
    if not content_html or not content_html.strip():
        return None
    try:
        tree = lxml_html.document_fromstring(
            f"<html><body><div>{content_html}</div></body></html>", parser=_PARSER
        )
    except (etree.ParserError, ValueError):
        return None
    for br in tree.iter("br"):
        br.tail = _PARA_BREAK + (br.tail or "")
    paragraphs: list[str] = []
    for block in _page_blocks_plain(tree):
        paragraphs.extend(block)
    # The last paragraph of a teaser is often the "read more" footer; drop such footers.
    kept: list[str] = []
    for para in paragraphs:
        if _FEED_FOOTER_RE.search(para) and len(para.split()) < 60:
            truncated = _FEED_FOOTER_RE.sub("", para).strip()
            if not kept and truncated and para.rstrip().endswith(("…", "...", "]")):
                return None  # the item is a cut teaser: the page has the real lead
            continue
        kept.append(para)
    lead = next(
        (p for p in kept if is_prose(p) and not (title and _overlap(title, p) >= 0.8)), None
    )
    if lead is None:
        return None
    main = "\n\n".join(kept)
    return ExtractedArticle(
        url=url,
        title=_norm_ws(title) if title else None,
        lead=lead,
        language=guess_language(main),
        words=_count_words(main),
        text=main,
    )


def _page_blocks_plain(tree: lxml_html.HtmlElement) -> Iterator[list[str]]:
    """Block texts of a feed item body (already sanitized: no class hints to rely on)."""
    for el in tree.xpath(
        "//p | //div[text()[normalize-space()]] | //li | //blockquote[text()[normalize-space()]]"
    ):
        if any(_is_negative(a) for a in el.iterancestors() if a.tag not in ("body", "html")):
            continue
        yield _split_breaks(el.text_content()) if el.tag == "p" else _block_text(el)


# --------------------------------------------------------------------------------------------
# Dispatch

_HTML_SUFFIXES = (".html", ".htm", ".xhtml")
_MD_SUFFIXES = (".md", ".markdown", ".mdown")
_TEXT_SUFFIXES = (".txt", ".text")


def _gunzip(data: bytes) -> bytes:
    """Decompress gzip with a cap, so a tiny .gz cannot expand into gigabytes."""
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decomp.decompress(data, MAX_DOCUMENT_BYTES + 1)
    except zlib.error as exc:
        raise ExtractionError(f"broken gzip data: {exc}") from exc
    if len(out) > MAX_DOCUMENT_BYTES or decomp.unconsumed_tail:
        raise ExtractionError(
            f"document larger than {MAX_DOCUMENT_BYTES // 1_000_000} MB once decompressed"
        )
    return out


_TEXT_BYTES = bytes([9, 10, 11, 12, 13, *range(32, 256)])


def _looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters in the first KBs: an image, a PDF, an archive."""
    sample = data[:4096]
    if not sample:
        return False
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text has NULs by design
        try:
            sample[: len(sample) // 2 * 2].decode("utf-16")
        except UnicodeDecodeError:
            return True
        return False
    if sample.startswith((b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04")):
        return True
    if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    controls = len(sample.translate(None, _TEXT_BYTES))
    return controls > len(sample) * 0.05


def _kind(content_type: str | None, filename: str | None, data: bytes) -> str:
    name = (filename or "").lower().removesuffix(".gz")
    if name.endswith(_HTML_SUFFIXES):
        return "html"
    if name.endswith(_MD_SUFFIXES):
        return "markdown"
    if name.endswith(_TEXT_SUFFIXES):
        return "text"
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in {"text/html", "application/xhtml+xml"}:
        return "html"
    if mime in {"text/markdown", "text/x-markdown"}:
        return "markdown"
    if mime == "text/plain":
        return "text"
    if mime and not mime.startswith("text/") and mime not in {"application/octet-stream", ""}:
        raise ExtractionError(f"unsupported content type {mime}")
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in data[:20000].lower():
        return "html"
    return "text"


def extract_document(
    data: bytes,
    *,
    url: str | None = None,
    content_type: str | None = None,
    filename: str | None = None,
) -> ExtractedArticle:
    """Extract from raw bytes, dispatching on content type or file suffix.

    Handles .html .htm .html.gz .md .markdown .txt; raises ExtractionError with a clear reason
    for binary, empty or article-less input.
    """
    if data[:2] == b"\x1f\x8b" or (filename or "").lower().endswith(".gz"):
        data = _gunzip(data)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ExtractionError(f"document larger than {MAX_DOCUMENT_BYTES // 1_000_000} MB")
    if not data.strip():
        raise ExtractionError("empty document")
    kind = _kind(content_type, filename, data)  # a declared PDF or image is named as such
    if _looks_binary(data):
        raise ExtractionError("binary content, not a text or HTML document")
    if kind == "html":
        return extract_html(data, url, content_type=content_type)
    text = decode_html(data, content_type)
    return extract_text(text, url, markdown=kind == "markdown")


def extract_file(path: Path) -> ExtractedArticle:
    """Extract from a local file (.html, .htm, .html.gz, .md, .markdown, .txt)."""
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES * 2:
            raise ExtractionError(
                f"{path.name}: file larger than {MAX_DOCUMENT_BYTES // 500_000} MB"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ExtractionError(f"cannot read {path}: {exc.strerror or exc}") from exc
    article = extract_document(data, filename=path.name)
    return article
