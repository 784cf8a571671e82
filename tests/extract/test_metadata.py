"""What a page declares: title, date, author, image, language."""

from __future__ import annotations

from datetime import UTC, datetime

from digest.extract import (
    extract_file,
    extract_html,
    guess_language,
)
from tests.extract.helpers import (
    DATA,
    html_page,
)


def test_noisy_page_metadata() -> None:
    article = extract_file(DATA / "noisy_article.html")
    assert article.url == "https://ledger.example/news/harbor-bridge-reopens"
    assert article.author == "Dana Whitfield"
    assert article.published == datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert article.image == "https://ledger.example/images/bridge.jpg"
    assert article.language == "en"


def test_title_strips_site_segment_when_h1_is_the_logo() -> None:
    page = html_page(
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
    page = html_page(
        "<h1>Bridge reopens</h1><p>The bridge reopened to traffic on Tuesday after two years of "
        "repairs that cost the city more than it had planned.</p>",
        head="<meta property='og:title' content='Bridge reopens | Metro | The Ledger'>",
    )
    assert extract_html(page).title == "Bridge reopens"


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


def test_published_date_from_the_url_when_metadata_has_none() -> None:
    page = html_page(
        "<h1>Snow closes the pass</h1><p>Heavy snow closed the mountain pass on Sunday night and "
        "the road will stay shut until the ploughs have cleared it, the police said.</p>"
    )
    article = extract_html(page, "https://news.example/2023/01/15/snow-closes-the-pass")
    assert article.published == datetime(2023, 1, 15, tzinfo=UTC)
