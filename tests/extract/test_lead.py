"""The lead rules: the first block of real prose, never a byline, caption, ad or comment."""

from __future__ import annotations

from digest.extract import (
    extract_html,
)
from tests.extract.helpers import (
    html_page,
)


def test_ad_styled_like_body_text_is_not_the_lead() -> None:
    page = html_page(
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
    page = html_page(
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
    page = html_page(
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
    page = html_page(
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


def test_greeting_timestamp_and_read_time_are_not_leads() -> None:
    page = html_page(
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


def test_comments_styled_like_the_body_never_lead() -> None:
    comment = (
        "<div><p>I have lived next to this bridge for thirty years and I have never seen the city "
        "spend money so badly, the council should resign over this whole affair.</p></div>"
    )
    page = html_page(
        "<h1>Bridge repairs finished</h1><div>"
        "<p>Repairs on the old bridge finished on Monday, a month late and over budget, the city "
        "said in a statement.</p></div>"
        "<div><h3>17 Comments</h3>" + comment * 12 + "</div>"
    )
    article = extract_html(page)
    assert article.lead is not None and article.lead.startswith("Repairs on the old bridge")


def test_paywall_prompt_is_not_the_lead() -> None:
    page = html_page(
        "<h1>Rates rise again</h1><div>"
        "<p>You have 2 free articles left this month. Subscribe now for unlimited access to "
        "all our reporting.</p>"
        "<p>The central bank raised its main rate by a quarter point on Wednesday, the third "
        "increase this year, and signalled that more may follow.</p>"
        "<p>Markets had expected the move, and shares barely changed after the announcement.</p>"
        "</div>"
    )
    lead = extract_html(page).lead
    assert lead is not None and lead.startswith("The central bank raised")
