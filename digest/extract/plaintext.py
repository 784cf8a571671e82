"""Plain text and Markdown documents: the title is the first heading or line, the lead the
first paragraph of prose, front matter gives the title, date and author."""

from __future__ import annotations

import logging
import re

from digest.errors import ExtractionError
from digest.extract.metadata import guess_language, plausible_date
from digest.extract.prose import count_words, is_prose, norm_ws
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
            out.append((norm_ws(" ".join(current)), False))
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
                out.append((norm_ws(_md_inline(heading.group(1))), True))
                continue
            if _MD_RULE_RE.match(line):
                flush()
                continue
            if _MD_SETEXT_RE.match(line) and current:
                setext = current.pop()
                flush()
                out.append((norm_ws(_md_inline(setext)), True))
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
