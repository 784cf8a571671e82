"""The lead, from the page's blocks: the first block of real prose inside the article's body.

A newcomer asked to change how a lead paragraph is chosen opens this file (and prose.py for
what counts as prose).

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

import logging
import re
from dataclasses import dataclass

from lxml import etree
from lxml import html as lxml_html

from digest.extract.metadata import element_text
from digest.extract.prose import (
    BREAK_RE,
    CAPTION_RE,
    CHROME_RE,
    CREDIT_RE,
    PARA_BREAK,
    count_words,
    ends_sentence,
    is_prose,
    norm_ws,
    overlap,
)

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


def is_negative(el: lxml_html.HtmlElement) -> bool:
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


def block_text(el: lxml_html.HtmlElement) -> list[str]:
    """The paragraphs inside one block: its own text and inline children, split at <br><br>
    and wherever a child block with text (a heading, a list) stands between two texts."""
    parts: list[str] = [el.text or ""]
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _BLOCK_TAGS or (tag and next(child.iter(*_INNER_BLOCKS), None) is not None):
            if child.text_content().strip():  # an empty ad slot joins, a heading separates
                parts.append(PARA_BREAK * 2)
        elif tag and not is_negative(child):
            parts.append(child.text_content())
        parts.append(child.tail or "")
    return split_breaks("".join(parts))


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
class Block:
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
        br.tail = PARA_BREAK + (br.tail or "")
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


def split_breaks(raw: str) -> list[str]:
    """Paragraphs of a block: <br><br> always breaks; one <br> breaks after a finished
    sentence and is a soft line break anywhere else (poems, addresses, hard-wrapped text)."""
    if PARA_BREAK not in raw:
        text = norm_ws(raw)
        return [text] if text else []
    chunks = BREAK_RE.split(raw)
    return [t for t in (norm_ws(c.replace(PARA_BREAK, " ")) for c in chunks) if t]


def _collect_blocks(
    tree: lxml_html.HtmlElement, heading: lxml_html.HtmlElement | None
) -> tuple[list[Block], int]:
    """Text blocks in document order (outside tags that are never prose), and the index of the
    first block after the headline (0 when there is no headline).

    Collection stops at a "Comments" / "Leave a reply" heading after the headline: what follows
    is the readers' thread, however much it is styled like the article.
    """
    blocks: list[Block] = []
    first_after = 0
    past_heading = heading is None
    for el in tree.xpath(_CANDIDATES_XPATH)[:_MAX_BLOCKS]:
        if el is heading:
            first_after, past_heading = len(blocks), True
            continue
        if el.tag in ("h2", "h3", "h4"):
            if past_heading and _COMMENTS_HEADING_RE.match(element_text(el)):
                break
            continue
        if el.tag == "h1":
            continue
        texts = split_breaks(el.text_content()) if el.tag in ("p", "pre") else block_text(el)
        total = sum(len(t) for t in texts)
        if total < _MIN_BLOCK_CHARS:
            # Too short to be prose; kept only when it labels an ad (the next block is the ad).
            blocks.extend(Block(el, t, 0.0, False, 0) for t in texts if _AD_LABEL_RE.match(t))
            continue
        ratio = min(1.0, _link_chars(el) / total)
        for text in texts:
            words = count_words(text)
            prose = ratio <= _MAX_LINK_RATIO and words >= 10 and is_prose(text, min_words=10)
            blocks.append(Block(el, text, ratio, prose, words))
    return blocks, first_after


def _body_container(blocks: list[Block]) -> lxml_html.HtmlElement | None:
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
        if is_negative(node):
            result = True
            break
        node = node.getparent()
    for item in chain:
        verdicts[item] = result
    return result


def _is_lead(block: Block, title: str | None) -> bool:
    # is_prose(text) is is_prose(text, min_words=10) plus the lead's word count
    if not block.prose or block.words < _LEAD_MIN_WORDS:
        return False
    return not (title and overlap(title, block.text) >= 0.8)


def _is_unpunctuated_opening(block: Block, title: str | None) -> bool:
    """The body's very first block may lack its final stop (hand-written blog posts) and still
    be the lead when it is long enough to be no label or heading."""
    text = block.text
    if block.link_ratio > _MAX_LINK_RATIO or block.words < 20 or ends_sentence(text):
        return False  # a finished sentence that is_prose refused stays refused
    if CAPTION_RE.match(text) or CREDIT_RE.search(text[-80:]):
        return False
    return is_prose(text + ".") and not (title and overlap(title, text) >= 0.8)


def _is_inside(el: lxml_html.HtmlElement, scope: lxml_html.HtmlElement) -> bool:
    return el is scope or any(a is scope for a in el.iterancestors())


@dataclass
class Reading:
    """What our rules read off a page: its blocks, where the headline is, the body container."""

    blocks: list[Block]
    first_after: int  # index of the first block after the headline
    container: lxml_html.HtmlElement | None

    @property
    def body(self) -> list[str]:
        """Our own reading of the body (prose of the container), for when trafilatura has none."""
        return [
            b.text
            for b in self.blocks
            if b.prose and (self.container is None or _is_inside(b.element, self.container))
        ]


def read_blocks(tree: lxml_html.HtmlElement, heading: lxml_html.HtmlElement | None) -> Reading:
    """Prepare the tree (breaks marked, inline widgets and never-prose elements gone) and read
    its blocks. trafilatura reads the same prepared tree afterwards: it deletes those elements
    too, and a smaller tree is a faster copy for it."""
    _prepare_for_blocks(tree)
    etree.strip_elements(tree, *_NEVER_PROSE, with_tail=False)
    blocks, first_after = _collect_blocks(tree, heading)
    return Reading(blocks, first_after, _body_container(blocks))


def pick_lead(
    reading: Reading,
    heading: lxml_html.HtmlElement | None,
    title: str | None,
    body: list[str],
) -> str | None:
    """The lead: the first block of real prose inside the article's body container.

    Deks, bylines, captions and promos between the headline and the body sit outside that
    container; captions, ads and sign-up boxes inside it are known by their class/id hints.
    Fallbacks, in order: the first prose block after the headline anywhere on the page, then
    trafilatura's first prose paragraph (`body`).
    """
    blocks, first_after, container = reading.blocks, reading.first_after, reading.container
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
                    and not is_negative(block.element)
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
        if is_prose(paragraph) and not (title and overlap(title, paragraph) >= 0.8):
            return paragraph
    return None


def clean_body(paragraphs: list[str], title: str | None) -> list[str]:
    """Drop from the main text what trafilatura may keep: the headline repeated on top, ads
    (their label and the block after it) and short chrome prompts."""
    while paragraphs and title and overlap(title, paragraphs[0]) >= 0.9:
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
        if count_words(para) <= 25 and CHROME_RE.search(para.lower()):
            continue
        kept.append(para)
    return kept
