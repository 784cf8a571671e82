"""Extraction: the right title and lead from noisy pages, files and feed items, and clear
reasons for input that holds no article."""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import ExtractionError
from digest.extract import (
    decode_html,
    extract_document,
    extract_feed_item,
    extract_file,
    extract_html,
    extract_text,
    guess_language,
    is_prose,
)

DATA = Path(__file__).parent / "data" / "extract"
REPO = Path(__file__).resolve().parent.parent


def _corpus() -> Path | None:
    for shared in (REPO.parent / "shared", Path("/work/shared")):
        path = shared / "corpus" / "article-extraction-benchmark"
        if (path / "ground-truth.json").is_file():
            return path
    return None


CORPUS = _corpus()
needs_corpus = pytest.mark.skipif(
    CORPUS is None, reason="shared/corpus/article-extraction-benchmark not found beside the repo"
)

LEAD = (
    "The harbor bridge reopened to traffic on Tuesday morning, ending two years of detours for "
    "the 40,000 drivers who cross it every day. City officials cut a ribbon at 6 a.m. and the "
    "first cars rolled across minutes later."
)


def _page(body: str, head: str = "<title>Test page</title>") -> str:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>"


# --- the noisy article fixture -----------------------------------------------------------


def test_noisy_page_gives_the_real_lead_and_headline() -> None:
    article = extract_file(DATA / "noisy_article.html")
    assert article.title == "Harbor bridge reopens after two years of repairs"
    assert article.lead == LEAD


def test_noisy_page_metadata() -> None:
    article = extract_file(DATA / "noisy_article.html")
    assert article.url == "https://ledger.example/news/harbor-bridge-reopens"
    assert article.author == "Dana Whitfield"
    assert article.published == datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert article.image == "https://ledger.example/images/bridge.jpg"
    assert article.language == "en"


def test_noisy_page_main_text_leaves_chrome_out() -> None:
    article = extract_file(DATA / "noisy_article.html")
    assert article.text is not None
    assert article.text.startswith("The harbor bridge reopened")  # headline not repeated
    for chrome in ("cookies", "Sign up", "Advertisement", "mortgage", "Finally!", "Share this"):
        assert chrome not in article.text
    assert article.words == len(article.text.split())


def test_ad_styled_like_body_text_is_not_the_lead() -> None:
    page = _page(
        "<h1>Library extends opening hours</h1><div>"
        "<div><p>Advertisement</p><p>Refinance your home today and cut your monthly payments, "
        "with rates that our partners guarantee for ten years.</p></div>"
        "<p>The central library will stay open until 10 p.m. on weekdays from next month, the "
        "city said on Monday, after students asked for more quiet places to work.</p>"
        "<p>Weekend hours do not change. The extra evenings cost about $400,000 a year, paid "
        "from the education budget of the city.</p></div>"
    )
    lead = extract_html(page).lead
    assert lead is not None and lead.startswith("The central library will stay open")


def test_dek_and_byline_before_the_body_are_skipped() -> None:
    page = _page(
        "<article><div class='top'><h1>Rain returns to the valley</h1>"
        "<p>Farmers hope the storms will end a drought that has lasted for most of the past three "
        "years in the region</p><p>By Ana Ruiz, Staff Writer, updated 2 hours ago</p></div>"
        "<div class='text'><p>Heavy rain fell across the valley on Sunday for the first time in "
        "months, filling reservoirs that had dropped to a third of their capacity.</p>"
        "<p>Forecasters expect more storms this week, with up to 50 millimetres in the hills "
        "above the town, and warned drivers about flooding on low roads.</p>"
        "<p>The water board said restrictions on garden watering would stay until the end of "
        "the month while it measured how much the reservoirs recover.</p></div></article>"
    )
    article = extract_html(page)
    assert article.title == "Rain returns to the valley"
    assert article.lead is not None and article.lead.startswith("Heavy rain fell")


def test_inline_hover_card_does_not_splice_into_the_lead() -> None:
    card = (
        "<span class='person'><a href='/p/kim'>Kim Lee</a><span class='card'><img src='k.jpg'>"
        "<a href='/a/1'>Lee wins vote</a> <a href='/a/2'>Lee visits port</a>"
        " <a href='/a/3'>Lee on taxes</a></span></span>"
    )
    page = _page(
        f"<h1>Mayor signs budget</h1><div><p>Mayor {card} signed the city budget on Friday after "
        "a month of talks with the council over school funding and road repairs.</p>"
        "<p>The budget grows by four percent, most of it for teachers' pay, and keeps the "
        "property tax rate where it was last year.</p></div>"
    )
    lead = extract_html(page).lead
    assert lead == (
        "Mayor Kim Lee signed the city budget on Friday after a month of talks with the council "
        "over school funding and road repairs."
    )


def test_photo_caption_is_not_the_lead() -> None:
    page = _page(
        "<h1>Astronauts could sleep to Mars</h1><div>"
        "<p>In this Dec. 12, 2006, file photo, made available by NASA, two astronauts take part "
        "in a space walk during construction of the space station. (NASA via AP, File)</p>"
        "<p>The European Space Agency says putting astronauts into a state of suspended "
        "animation could make it easier to reach other planets.</p>"
        "<p>Researchers said hibernation would cut the food and water a crew needs on the way.</p>"
        "</div>"
    )
    lead = extract_html(page).lead
    assert lead is not None and lead.startswith("The European Space Agency says")


def test_title_strips_site_segment_when_h1_is_the_logo() -> None:
    page = _page(
        "<h1 class='logo'>Daily Planet</h1><div><p>The city council voted on Wednesday to "
        "build a new harbor park where the old ferry terminal stands, after years of debate.</p>"
        "<p>Construction starts next spring and should take two years, the mayor said.</p></div>",
        head=(
            "<title>Council approves harbor park – Daily Planet</title>"
            "<meta property='og:site_name' content='Daily Planet'>"
        ),
    )
    assert extract_html(page, "https://www.dailyplanet.example/a/1").title == (
        "Council approves harbor park"
    )


def test_title_prefers_the_visible_h1_over_a_longer_og_title() -> None:
    page = _page(
        "<h1>Bridge reopens</h1><p>The bridge reopened to traffic on Tuesday after two years of "
        "repairs that cost the city more than it had planned.</p>",
        head="<meta property='og:title' content='Bridge reopens | Metro | The Ledger'>",
    )
    assert extract_html(page).title == "Bridge reopens"


def test_greeting_timestamp_and_read_time_are_not_leads() -> None:
    page = _page(
        "<h1>Weekly notes</h1><div>"
        "<p>Good morning, readers! Here is what we have for you this week, all in one place.</p>"
        "<p>Updated November 19, 2019 at 10:42 a.m. ET, by the newsroom staff of our paper</p>"
        "<p>4 min read</p>"
        "<p>The school board approved a new calendar on Monday that moves the start of classes "
        "to the week after Labor Day, starting next year.</p>"
        "<p>Parents had asked for the change in a survey last spring, the board said.</p></div>"
    )
    lead = extract_html(page).lead
    assert lead is not None and lead.startswith("The school board approved")


# --- charsets and bad input ---------------------------------------------------------------

PARIS = (
    "<html><head>{meta}<title>Café crème</title></head><body><h1>Café crème</h1>"
    "<p>Le café est très apprécié à Paris, où les habitants boivent chaque matin une tasse de "
    "crème avant de partir travailler.</p></body></html>"
)
PARIS_LEAD = (
    "Le café est très apprécié à Paris, où les habitants boivent chaque matin une tasse de crème "
    "avant de partir travailler."
)


def test_latin1_served_as_utf8_is_read_as_latin1() -> None:
    data = PARIS.format(meta="").encode("latin-1")
    article = extract_html(data, content_type="text/html; charset=utf-8")
    assert article.lead == PARIS_LEAD
    assert article.title == "Café crème"


@pytest.mark.parametrize(
    "text",
    [
        "<p>Grüße aus München, schöne Straße</p>",
        "<p>Le café à côté de l'hôtel était fermé.</p>",
        "<p>El niño comió piñata en España, ¿verdad?</p>",
        "<h1>Ærø</h1><p>Smørrebrød på Ærø – “citat” 5 €</p>",
    ],
)
def test_short_western_text_mislabelled_as_utf8(text: str) -> None:
    assert decode_html(text.encode("cp1252"), "text/html; charset=utf-8") == text


def test_undeclared_cyrillic_is_detected() -> None:
    text = (
        "<html><body><p>Привет, как дела? Это тестовая страница на русском языке, "
        "написанная в кодировке windows-1251.</p></body></html>"
    )
    assert decode_html(text.encode("cp1251")) == text


def test_wrong_meta_charset_on_utf8_bytes() -> None:
    data = PARIS.format(meta="<meta charset='iso-8859-1'>").encode("utf-8")
    assert extract_html(data).lead == PARIS_LEAD


def test_meta_charset_used_when_header_has_none() -> None:
    data = PARIS.format(
        meta='<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    )
    encoded = data.replace("crème", "crème – “quoted”").encode("cp1252")
    assert "“quoted”" in decode_html(encoded)


def test_header_charset_beats_meta() -> None:
    text = PARIS.format(meta="<meta charset='utf-8'>").replace("Paris", "Москва")
    data = text.encode("koi8-r", errors="replace")
    assert "Москва" in decode_html(data, "text/html; charset=KOI8-R")


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


def test_five_megabyte_page_is_handled() -> None:
    lead = (
        "The council met on Tuesday to discuss next year's budget for the town's schools, "
        "roads and parks."
    )
    filler = "".join(
        f"<p>Item {i}: the committee reviewed spending line {i} and asked for a report.</p>"
        for i in range(60_000)
    )
    data = _page(f"<h1>Council meets</h1><p>{lead}</p>{filler}").encode()
    assert len(data) > 5_000_000
    article = extract_document(data, filename="big.html")
    assert article.lead == lead
    assert article.words > 1000


# --- text and Markdown --------------------------------------------------------------------


def test_saved_text_page_with_top_and_bottom_of_page_lines() -> None:
    article = extract_file(DATA / "saved_page.txt")
    assert article.title == "Town votes to keep its last bookshop open"
    assert article.lead is not None
    assert article.lead.startswith("Residents of Millbrook voted on Saturday")
    assert "top of page" not in (article.text or "").lower()
    assert "bottom of page" not in (article.text or "").lower()


def test_markdown_front_matter_is_honoured() -> None:
    article = extract_file(DATA / "post.md")
    assert article.title == "Why we moved our servers to the basement"
    assert article.url == "https://blog.example/basement"
    assert article.published == datetime(2024, 2, 1, 8, 0, tzinfo=UTC)
    assert article.lead == (
        "Last winter our cloud bill doubled, so we bought three used servers and put them in "
        "the basement next to the boiler, where it is warm and dry."
    )


def test_markdown_without_front_matter_uses_first_heading() -> None:
    text = (
        "# Notes from the field\n\n![map](map.png)\n\nWe spent **two weeks** walking the "
        "[old railway line](https://x.example) from the coast to the hills, counting birds "
        "and talking to farmers along the way.\n\n## Day one\n\nRain."
    )
    article = extract_text(text, markdown=True)
    assert article.title == "Notes from the field"
    assert article.lead == (
        "We spent two weeks walking the old railway line from the coast to the hills, counting "
        "birds and talking to farmers along the way."
    )


def test_text_with_only_chrome_has_no_article() -> None:
    with pytest.raises(ExtractionError):
        extract_text("top of page\n\n---\n\nbottom of page\n")


# --- feed items ---------------------------------------------------------------------------

FULL_ITEM = (
    "<p>The ferry company added two evening crossings on Friday, answering complaints from "
    "commuters who were stranded when the last boat left at 7 p.m.</p>"
    "<p>The new boats leave at 8 and 9:30 p.m. from both ports.</p>"
)


def test_feed_item_with_real_content_is_used() -> None:
    article = extract_feed_item(FULL_ITEM, url="https://news.example/ferry", title="More ferries")
    assert article is not None
    assert article.lead is not None and article.lead.startswith("The ferry company added")
    assert article.title == "More ferries"
    assert article.url == "https://news.example/ferry"


@pytest.mark.parametrize(
    "content",
    [
        None,
        "",
        "More ferries",
        "<p>The ferry company added two evening crossings on Friday, answering [&#8230;]</p>",
        "<p>The ferry company added two evening crossings on Friday, answering…</p>"
        "<p><a href='https://news.example/ferry'>Continue reading</a></p>",
        "<p>Short teaser.</p><p>The post <a href='https://b.example/p'>More ferries</a> appeared "
        "first on <a href='https://b.example'>Ferry Blog</a>.</p>",
    ],
)
def test_feed_item_teasers_ask_for_the_page(content: str | None) -> None:
    assert (
        extract_feed_item(content, url="https://news.example/ferry", title="More ferries") is None
    )


def test_feed_item_drops_the_appeared_first_footer() -> None:
    content = FULL_ITEM + "<p>The post More ferries appeared first on Ferry Blog.</p>"
    article = extract_feed_item(content, url=None, title="More ferries")
    assert article is not None and "appeared first" not in (article.text or "")


# --- files and dispatch -------------------------------------------------------------------


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


# --- small rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The council voted on Tuesday to build a new bridge over the river, the mayor said.",
            True,
        ),
        (
            "By Jane Smith and John Doe, Staff Writers for the paper, with reporting by others",
            False,
        ),
        ("Sign up for our newsletter to get the best stories of the week delivered to you.", False),
        ("We use cookies to give you the best experience on our website and to show ads.", False),
        (
            "Commuters finally get their shortcut back though tolls are higher than before",
            False,
        ),
        ("Too short.", False),
    ],
)
def test_is_prose(text: str, expected: bool) -> None:
    assert is_prose(text) is expected


def test_guess_language() -> None:
    assert (
        guess_language(
            "Der Rat hat am Dienstag die neue Brücke für die Stadt und das Land beschlossen, "
            "sagte die Bürgermeisterin."
        )
        == "de"
    )
    assert (
        guess_language(
            "The council voted on Tuesday to build a new bridge for the city and the region."
        )
        == "en"
    )
    assert guess_language("ok") is None


# --- real pages from the benchmark corpus ------------------------------------------------


def _corpus_page(prefix: str) -> tuple[bytes, str, str, str]:
    assert CORPUS is not None
    truth = json.loads((CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    titles = json.loads((CORPUS / "titles.json").read_text(encoding="utf-8"))
    key = next(k for k in truth if k.startswith(prefix))
    gold = next(p for p in truth[key]["articleBody"].split("\n") if len(p.split()) >= 15)
    raw = gzip.decompress((CORPUS / "html" / f"{key}.html.gz").read_bytes())
    return raw, truth[key]["url"], gold.strip(), titles[key]["headline"]


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
    raw, url, gold, headline = _corpus_page(prefix)
    article = extract_document(raw, url=url, content_type="text/html")
    assert article.title == headline
    assert article.lead is not None
    assert _bag_f1(gold, article.lead) >= 0.8  # the benchmark's definition of a matching lead


def _bag_f1(gold: str, ours: str) -> float:
    a = Counter(re.findall(r"\w+", gold.lower()))
    b = Counter(re.findall(r"\w+", ours.lower()))
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(b.values()), common / sum(a.values())
    return 2 * precision * recall / (precision + recall)


def test_comments_styled_like_the_body_never_lead() -> None:
    comment = (
        "<div><p>I have lived next to this bridge for thirty years and I have never seen the city "
        "spend money so badly, the council should resign over this whole affair.</p></div>"
    )
    page = _page(
        "<h1>Bridge repairs finished</h1><div>"
        "<p>Repairs on the old bridge finished on Monday, a month late and over budget, the city "
        "said in a statement.</p></div>"
        "<div><h3>17 Comments</h3>" + comment * 12 + "</div>"
    )
    article = extract_html(page)
    assert article.lead is not None and article.lead.startswith("Repairs on the old bridge")


def test_utf16_page_with_bom_is_text_not_binary() -> None:
    page = _page(
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
