"""A feed item's own body: its lead when the body holds one, None for a teaser (the page has
the real lead, and the pipeline fetches it when the source allows)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from lxml import etree
from lxml import html as lxml_html

from digest.extract.html import html_parser
from digest.extract.lead import block_text, is_negative, split_breaks
from digest.extract.metadata import guess_language
from digest.extract.prose import PARA_BREAK, count_words, is_prose, norm_ws, overlap
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
            f"<html><body><div>{content_html}</div></body></html>", parser=html_parser()
        )
    except (etree.ParserError, ValueError):
        return None
    for br in tree.iter("br"):
        br.tail = PARA_BREAK + (br.tail or "")
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
    lead = next((p for p in kept if is_prose(p) and not (title and overlap(title, p) >= 0.8)), None)
    if lead is None:
        return None
    main = "\n\n".join(kept)
    return ExtractedArticle(
        url=url,
        title=norm_ws(title) if title else None,
        lead=lead,
        language=guess_language(main),
        words=count_words(main),
        text=main,
    )


def _page_blocks_plain(tree: lxml_html.HtmlElement) -> Iterator[list[str]]:
    """Block texts of a feed item body (already sanitized: no class hints to rely on)."""
    for el in tree.xpath(
        "//p | //div[text()[normalize-space()]] | //li | //blockquote[text()[normalize-space()]]"
    ):
        if any(is_negative(a) for a in el.iterancestors() if a.tag not in ("body", "html")):
            continue
        yield split_breaks(el.text_content()) if el.tag == "p" else block_text(el)
