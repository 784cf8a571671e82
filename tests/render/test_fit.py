"""Fitting an issue to its size budget: images dropped, summaries shortened, articles moved."""

from __future__ import annotations

from dataclasses import replace

import pytest
from render_samples import parse_html, sample_articles, sample_content, sample_settings

from digest.errors import RenderError
from digest.render import IssueContent, lint_email_html, render_issue, render_report
from digest.render.environment import Plan, article_view
from digest.summarize import LeadSummarizer
from digest.text import cut_to_words


def test_size_budget_drops_images_then_shortens_then_moves_articles() -> None:
    content = sample_content(30)
    full = render_issue(content, sample_settings())
    assert full.warnings == [] and full.more == []

    no_images = render_issue(content, sample_settings(size_budget=full.html_size - 1))
    assert no_images.html_size <= full.html_size - 1
    assert "<img" not in no_images.html and len(no_images.articles) == 30
    assert any(w.startswith("dropped images") for w in no_images.warnings)

    tight = render_issue(content, sample_settings(size_budget=45_000))
    assert tight.subject == full.subject  # the first headline, even when moved to "more"
    assert tight.html_size <= 45_000
    assert len(tight.html.encode()) == tight.html_size
    assert tight.more and tight.articles + tight.more == content.articles
    joined = "\n".join(tight.warnings)
    assert "dropped images" in joined and "shortened summaries to 20 words" in joined
    assert f"moved the last {len(tight.more)} articles" in joined
    root = parse_html(tight.html)
    more_links = root.xpath("//ol[@class='more-list']/li/a/@href")
    assert more_links == [a.url for a in tight.more]
    assert root.xpath("//ol/@start") == [str(len(tight.articles) + 1)]
    assert "MORE STORIES" in tight.text and lint_email_html(tight.html) == []


def test_size_budget_reports_when_it_cannot_fit() -> None:
    settings = sample_settings(size_budget=2_000)
    out = render_issue(sample_content(4), settings)
    assert out.html_size > 2_000 and out.articles == []
    assert out.warnings[-1].startswith("still over budget")
    report = render_report(out, settings)
    assert report[0].startswith(
        f"HTML {out.html_size:,} bytes of a 2,000-byte budget (OVER BUDGET)"
    )
    assert report[1:] == [f"warning: {w}" for w in out.warnings]


def fitted(summary: str, words: int, language: str | None = "en") -> str:
    """An article's summary as the size budget shortens it to `words` words."""
    article = replace(sample_articles(1, images=False)[0], summary=summary, language=language)
    content = IssueContent(1, sample_content().issue_date, [article])
    return article_view(article, content, Plan(summary_words=words))["summary"]


def test_shortening_cuts_at_a_sentence_when_it_can() -> None:
    text = "One two three four five. Six seven eight nine ten eleven."
    assert fitted(text, 8) == "One two three four five."
    assert fitted("a b c d e f g h", 4) == "a b c d…"
    assert fitted(text, 50) == text


@pytest.mark.parametrize(
    ("text", "words", "language", "cut", "before"),
    [
        pytest.param(
            "Rain fell. The council voted on Tuesday to fund a cycle path along the river.",
            10,
            "en",
            "Rain fell.",
            "Rain fell. The council voted on Tuesday to fund a…",
            id="a sentence that fits is kept whole, however short",
        ),
        pytest.param(
            "Lawmakers met for hours with officials of the U.S. Treasury on Tuesday.",
            10,
            "en",
            "Lawmakers met for hours with officials of the U.S. Treasury…",
            "Lawmakers met for hours with officials of the U.S.",
            id="an abbreviation ends no sentence",
        ),
        pytest.param(
            "The mayor said (after a long pause) that the bridge would open in spring.",
            5,
            "en",
            "The mayor said (after a…)",
            "The mayor said (after a…",
            id="a bracket the cut leaves open is closed",
        ),
        pytest.param(
            "Die Stadt zahlt am 3. Oktober die erste Rate für die neue Brücke aus.",
            6,
            "de",
            "Die Stadt zahlt am 3. Oktober…",
            "Die Stadt zahlt am 3.",
            id="the article's language: a German ordinal ends no sentence",
        ),
    ],
)
def test_shortening_cuts_as_the_summarizer_does(
    text: str, words: int, language: str, cut: str, before: str
) -> None:
    """The budget's cut is the lead summarizer's (digest.text.cut_to_words). `before` is what
    the render stage's own cut (`shorten`, now gone) made of the same text: the change."""
    assert fitted(text, words, language) == cut != before
    assert cut == LeadSummarizer().summarize(text, words=words, language=language)


def test_an_issue_over_budget_gets_the_summarizers_cut() -> None:
    content = sample_content(30, images=False)
    tight = render_issue(content, sample_settings(size_budget=45_000))
    assert any("shortened summaries to 20 words" in w for w in tight.warnings)
    shown = ["".join(p.itertext()) for p in parse_html(tight.html).xpath("//p[@class='summary']")]
    assert shown and len(shown) == len(tight.articles)
    for article, summary in zip(tight.articles, shown, strict=True):
        assert " ".join(summary.split()) == cut_to_words(article.summary, 20, article.language)


def test_an_issue_needs_articles() -> None:
    with pytest.raises(RenderError, match="at least one article"):
        render_issue(IssueContent(1, sample_content().issue_date, []), sample_settings())


def test_thumbnails_count_in_the_budget_and_are_the_first_to_go() -> None:
    content = sample_content(30)
    full = render_issue(content, sample_settings(images="thumbnail"))
    assert 'class="thumb-img"' in full.html
    fitted = render_issue(
        content, sample_settings(images="thumbnail", size_budget=full.html_size - 1)
    )
    assert "<img" not in fitted.html and fitted.warnings[1].startswith("dropped images")
    none = render_issue(content, sample_settings(images="none", size_budget=full.html_size - 1))
    assert not any("dropped images" in w for w in none.warnings)  # nothing to drop
