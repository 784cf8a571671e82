"""Whole pages: the right title and lead from noisy pages, real ones from the benchmark corpus."""

from __future__ import annotations

import pytest

from digest.extract import (
    extract_document,
    extract_file,
    extract_html,
)
from tests.extract.helpers import (
    DATA,
    LEAD,
    PARIS,
    PARIS_LEAD,
    bag_f1,
    corpus_page,
    html_page,
    needs_corpus,
)


def test_noisy_page_gives_the_real_lead_and_headline() -> None:
    article = extract_file(DATA / "noisy_article.html")
    assert article.title == "Harbor bridge reopens after two years of repairs"
    assert article.lead == LEAD


def test_noisy_page_main_text_leaves_chrome_out() -> None:
    article = extract_file(DATA / "noisy_article.html")
    assert article.text is not None
    assert article.text.startswith("The harbor bridge reopened")  # headline not repeated
    for chrome in ("cookies", "Sign up", "Advertisement", "mortgage", "Finally!", "Share this"):
        assert chrome not in article.text
    assert article.words == len(article.text.split())


def test_latin1_served_as_utf8_is_read_as_latin1() -> None:
    data = PARIS.format(meta="").encode("latin-1")
    article = extract_html(data, content_type="text/html; charset=utf-8")
    assert article.lead == PARIS_LEAD
    assert article.title == "Café crème"


def test_wrong_meta_charset_on_utf8_bytes() -> None:
    data = PARIS.format(meta="<meta charset='iso-8859-1'>").encode("utf-8")
    assert extract_html(data).lead == PARIS_LEAD


@needs_corpus
@pytest.mark.parametrize(
    "prefix",
    [
        "156770d676ce",  # hover cards inside the first paragraph
        "702d1da63b8e",  # HTML comments inside words of the first paragraph
        "d605bdef2cde",  # a messenger promo between the byline and the body
        "bdb56ac83513",  # a dek right under the headline
        "34a7328535ad",  # text in <span>s of a <div>, no <p> at all
        "ad826691a8a2",  # a deals post: links in most sentences
    ],
)
def test_corpus_pages(prefix: str) -> None:
    raw, url, gold, headline = corpus_page(prefix)
    article = extract_document(raw, url=url, content_type="text/html")
    assert article.title == headline
    assert article.lead is not None
    assert bag_f1(gold, article.lead) >= 0.8  # the benchmark's definition of a matching lead


def test_extraction_in_threads_gives_the_same_result() -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = (DATA / "noisy_article.html").read_bytes()
    with ThreadPoolExecutor(max_workers=4) as pool:
        leads = list(pool.map(lambda _: extract_document(data).lead, range(8)))
    assert leads == [LEAD] * 8


@pytest.mark.slow
def test_five_megabyte_page_is_handled() -> None:
    lead = (
        "The council met on Tuesday to discuss next year's budget for the town's schools, "
        "roads and parks."
    )
    filler = "".join(
        f"<p>Item {i}: the committee reviewed spending line {i} and asked for a report.</p>"
        for i in range(60_000)
    )
    data = html_page(f"<h1>Council meets</h1><p>{lead}</p>{filler}").encode()
    assert len(data) > 5_000_000
    article = extract_document(data, filename="big.html")
    assert article.lead == lead
    assert article.words > 1000
