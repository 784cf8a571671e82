"""Plain text and Markdown documents: the title is the first heading or line, the lead the
first paragraph of prose, front matter gives the title, date and author.

Markdown is read by markdown-it-py (CommonMark: reference links, emphasis, code spans and
blocks, lists and quotes as its parser sees them) with its front matter plugin; the front
matter itself is YAML."""

from __future__ import annotations

import functools
import logging
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from digest.errors import ExtractionError
from digest.extract.metadata import guess_language, plausible_date
from digest.extract.prose import count_words, is_prose, norm_ws
from digest.models import ExtractedArticle

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

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
# Plain text and Markdown

# A YAML front matter block at the very start of a text file (Markdown's is found by the parser).
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?)\n(---|\.\.\.)[ \t]*(\n|\Z)", re.DOTALL)
_FIELDS = ("title", "date", "published", "author", "url", "link", "image", "lang", "language")


@functools.cache
def _markdown() -> MarkdownIt:
    """CommonMark with front matter; tables and strikethrough as GitHub writes them."""
    # lazy: 90 ms to import, for folder sources with Markdown files only
    from markdown_it import MarkdownIt
    from mdit_py_plugins.front_matter import front_matter_plugin

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).use(front_matter_plugin)


def _fields(block: str) -> dict[str, str]:
    """The front matter's title, date, author... as text (YAML; a block that is not YAML, or
    not a mapping, gives nothing)."""
    import yaml  # lazy: 40 ms to import, for files with front matter only

    try:
        loaded: Any = yaml.safe_load(block)
    except yaml.YAMLError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    fields: dict[str, str] = {}
    for key, value in loaded.items():
        name = str(key).strip().lower()
        if name not in _FIELDS or value is None:
            continue
        if isinstance(value, list):  # authors: [Ada, Bo] -> the first
            value = value[0] if value else None
        if isinstance(value, dict):  # author: {name: Ada, email: ...}
            value = value.get("name")
        if isinstance(value, datetime | date):
            value = value.isoformat()
        if isinstance(value, str | int | float) and str(value).strip():
            fields[name] = str(value).strip()
    return fields


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """A text file's front matter fields, and the text after the block."""
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    return _fields(match.group(1)), text[match.end() :]


def _inline_text(token: Token) -> str:
    """An inline token as plain text: emphasis and code kept as words, links as their text,
    images and raw HTML left out."""
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return norm_ws("".join(parts))


def _markdown_blocks(text: str) -> tuple[dict[str, str], list[tuple[str, bool]]]:
    """Front matter fields, and (paragraph, is_heading) pairs: headings and paragraphs (list
    items and quotes included) as plain text; code blocks, HTML and rules left out."""
    fields: dict[str, str] = {}
    blocks: list[tuple[str, bool]] = []
    heading = False
    for token in _markdown().parse(text):
        if token.type == "front_matter":
            fields = _fields(token.content)
        elif token.type == "heading_open":
            heading = True
        elif token.type == "heading_close":
            heading = False
        elif token.type == "inline" and (content := _inline_text(token)):
            blocks.append((content, heading))
    return fields, blocks


def _paragraphs(text: str) -> list[tuple[str, bool]]:
    """(paragraph, is_heading) pairs of plain text: paragraphs are separated by blank lines."""
    out: list[tuple[str, bool]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.append(line.strip())
        elif current:
            out.append((norm_ws(" ".join(current)), False))
            current.clear()
    if current:
        out.append((norm_ws(" ".join(current)), False))
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
    if not markdown and text.startswith("---"):
        fields, text = _front_matter(text)
    # Site chrome in a saved page ("top of page", "Menu") sits on lines of its own.
    text = "\n".join(
        "" if _CHROME_LINE_RE.match(line.strip()) else line for line in text.split("\n")
    )
    if markdown:
        fields, blocks = _markdown_blocks(text)
    else:
        blocks = _paragraphs(text)
    blocks = [(p, h) for p, h in blocks if not _is_chrome_line(p)]
    if not blocks and not fields.get("title"):
        raise ExtractionError("no text in the document")
    title = fields.get("title") or None
    start = 0
    if title is None:
        for index, (para, _) in enumerate(blocks):
            title = norm_ws(para)
            start = index + 1
            break
        if title and count_words(title) > 30:
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
        published=plausible_date(fields.get("date") or fields.get("published")),
        image=fields.get("image") or None,
        language=(fields.get("lang") or fields.get("language") or guess_language(main) or None),
        words=count_words(main),
        text=main or None,
    )
