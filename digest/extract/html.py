"""HTML pages: parsed once with lxml, the main text found by trafilatura, and `extract_html`,
which joins the metadata, the main text and the lead rules."""

from __future__ import annotations

import functools
import logging
import re
import threading
from typing import Any

from lxml import etree
from lxml import html as lxml_html

from digest.charset import decode_text
from digest.errors import ExtractionError
from digest.extract.lead import clean_body, pick_lead, read_blocks
from digest.extract.metadata import (
    absolute_url,
    guess_published,
    pick_author,
    pick_image,
    pick_language,
    pick_published,
    pick_title,
    read_meta,
)
from digest.extract.prose import count_words, norm_ws
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
# Parsing

XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)

_LOCAL = threading.local()


def html_parser() -> lxml_html.HTMLParser:
    """This thread's HTML parser: lxml parser objects must not be shared between threads."""
    parser = getattr(_LOCAL, "parser", None)
    if parser is None:
        parser = lxml_html.HTMLParser(
            collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
        )
        _LOCAL.parser = parser
    return parser


_BULKY_RE = re.compile(
    r"<script(?![^>]*application/ld\+json)[^>]*>.*?</script\s*>|<style[^>]*>.*?</style\s*>"
    r"|<svg[^>]*>.*?</svg\s*>|<!--.*?-->",
    re.IGNORECASE | re.DOTALL,
)
"""What a huge page is usually made of and what no article needs (JSON-LD is kept)."""


def _parse_html(text: str) -> lxml_html.HtmlElement:
    """Parse once; trafilatura, the metadata and the lead rules all read this tree."""
    text = XML_DECL_RE.sub("", text)
    if len(text) > _MAX_HTML_CHARS:
        text = _BULKY_RE.sub("", text)
        if len(text) > _MAX_HTML_CHARS:
            cut = text.rfind("<", _MAX_HTML_CHARS - 10_000, _MAX_HTML_CHARS)  # not mid-tag
            text = text[: cut if cut > 0 else _MAX_HTML_CHARS]
    if not text.strip():
        raise ExtractionError("empty page")
    try:
        tree = lxml_html.document_fromstring(text, parser=html_parser())
    except (etree.ParserError, ValueError) as exc:
        raise ExtractionError(f"not parseable as HTML: {exc}") from exc
    if tree is None or len(tree) == 0:
        raise ExtractionError("empty page")
    return tree


# --------------------------------------------------------------------------------------------
# Main text (trafilatura)


_PRUNED_BEFORE_EXTRACTION = _words(
    """
    head style noscript svg iframe object embed canvas link nav button select input textarea
    audio video map menu dialog aside footer picture source track fieldset legend option
    optgroup datalist applet area frame frameset noindex marquee blink menuitem param progress
    """
)
"""Elements trafilatura deletes, content and all, whatever the page: removing them first (in C,
once) spares its copy and its cleaning passes. Not among them: <form> (some sites wrap the
whole page in one; trafilatura treats forms with care), <time> and <label> (inline in text,
which our lead must keep), <figure> (may hold a table)."""


def _prune_for_extraction(tree: lxml_html.HtmlElement) -> None:
    """Drop what no extraction needs, once metadata has been read from <head> and JSON-LD.

    Scripts go too, except JSON-LD ones: trafilatura's fallback reads an articleBody there.
    """
    for script in list(tree.iter("script")):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            script.drop_tree()
    etree.strip_elements(tree, *_PRUNED_BEFORE_EXTRACTION, with_tail=False)


@functools.cache
def _trafilatura_options() -> Any:
    """One set of trafilatura options for every page (trafilatura copies it before changing
    anything); building it per page costs more than a millisecond."""
    from trafilatura.settings import Extractor  # lazy: trafilatura takes 0.3 s to import

    return Extractor(
        output_format="python",
        fast=True,
        precision=True,
        comments=False,
        tables=True,
        with_metadata=False,
    )


def _main_text(tree: lxml_html.HtmlElement, url: str | None) -> list[str]:
    """The article's paragraphs as trafilatura sees them, favouring precision.

    `fast=True` skips trafilatura's second opinion (readability/justext): it doubles the time
    and our lead rules, not the body, decide what a subscriber reads.
    """
    import trafilatura  # lazy: 0.3 s of imports a run with nothing to extract skips

    try:
        document = trafilatura.bare_extraction(tree, options=_trafilatura_options())
    except Exception as exc:  # a third-party bug must not cost us the page: our rules go on
        LOGGER.warning("trafilatura failed on %s: %s: %s", url, type(exc).__name__, exc)
        return []
    text = document.get("text") if isinstance(document, dict) else getattr(document, "text", None)
    if not text:
        return []
    return [norm_ws(p) for p in text.split("\n") if p.strip()]


# --------------------------------------------------------------------------------------------
# HTML


def extract_html(
    html: str | bytes, url: str | None = None, *, content_type: str | None = None
) -> ExtractedArticle:
    """Title, lead, metadata and main text of one HTML page.

    Raises ExtractionError when the page is empty or holds no article text at all.
    """
    text = decode_text(html, content_type) if isinstance(html, bytes) else html
    if "\x00" in text[:4096]:
        raise ExtractionError("binary content, not an HTML page")
    tree = _parse_html(text)
    meta = read_meta(tree)
    canonical = absolute_url(meta.first("link:canonical", "og:url"), url) or url
    title, heading = pick_title(tree, meta, canonical)
    # trafilatura's tree cleaning grows faster than linearly with the element count; pages far
    # beyond any real article's size get our own (linear) reading of the body instead.
    author = pick_author(tree, meta)
    published = pick_published(tree, meta) or guess_published(tree, canonical)
    _prune_for_extraction(tree)
    reading = read_blocks(tree, heading)
    elements = int(tree.xpath("count(//*)"))
    body = _main_text(tree, canonical) if elements <= _MAX_TRAFILATURA_ELEMENTS else []
    lead = pick_lead(reading, heading, title, body)
    body = clean_body(body or reading.body, title)
    if not body and not lead:
        raise ExtractionError("no article text found on the page")
    main = "\n\n".join(body) if body else lead
    return ExtractedArticle(
        url=canonical,
        title=title,
        lead=lead,
        author=author,
        published=published,
        image=pick_image(meta, canonical),
        language=pick_language(tree, meta, main),
        words=count_words(main or ""),
        text=main,
    )
