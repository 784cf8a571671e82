"""Any document to an article: sniff what it is (HTML, Markdown, text, gzip, binary), decode
it and hand it to the right extractor."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

from digest.charset import decode_text
from digest.errors import ExtractionError
from digest.extract.html import extract_html
from digest.extract.plaintext import extract_text
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
    text = decode_text(data, content_type)
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
