"""Any document: what it is, and a clear reason when it holds no article."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from digest.errors import ExtractionError
from digest.extract import (
    extract_document,
    extract_file,
)
from tests.extract.helpers import (
    DATA,
    LEAD,
    html_page,
)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "binary"),
        (bytes(range(256)) * 20, "binary"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary"),
        (
            b"<html><body><nav><a href='/'>Home</a> <a href='/b'>Blog</a></nav></body></html>",
            "no article",
        ),
    ],
)
def test_bad_input_gives_a_clear_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ExtractionError, match=reason):
        extract_document(data, filename="page.html")


def test_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"<p>" + b"a" * 12_000_000 + b"</p>")
    with pytest.raises(ExtractionError, match="larger than"):
        extract_document(bomb, filename="page.html.gz")


def test_unsupported_content_type() -> None:
    with pytest.raises(ExtractionError, match="unsupported content type"):
        extract_document(b"{}", content_type="application/json")


def test_extract_file_reads_gzipped_html(tmp_path: Path) -> None:
    path = tmp_path / "page.html.gz"
    path.write_bytes(gzip.compress((DATA / "noisy_article.html").read_bytes()))
    assert extract_file(path).lead == LEAD


def test_extract_file_missing(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="cannot read"):
        extract_file(tmp_path / "nope.html")


def test_html_without_suffix_is_sniffed() -> None:
    data = (DATA / "noisy_article.html").read_bytes()
    assert extract_document(data).lead == LEAD


def test_utf16_page_with_bom_is_text_not_binary() -> None:
    page = html_page(
        "<h1>Ferry times change</h1><p>The ferry will leave ten minutes earlier from Monday, the "
        "operator said, to make room for an extra crossing at noon.</p>"
    )
    article = extract_document(page.encode("utf-16"), filename="page.html")
    assert article.lead is not None and article.lead.startswith("The ferry will leave")


def test_huge_text_file_is_cut_not_refused() -> None:
    para = "The council met on Tuesday to discuss the new budget for the schools and the roads.\n\n"
    article = extract_document(("Council notes\n\n" + para * 60_000).encode(), filename="n.txt")
    assert article.title == "Council notes"
    assert article.lead == para.strip()
    assert 100_000 < article.words < 16 * 60_000
