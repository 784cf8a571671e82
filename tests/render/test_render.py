"""Rendering once: templates, premailer configuration, budget fitting, template errors."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from render_samples import sample_articles, sample_content, sample_recipient, sample_settings

from digest.errors import RenderError
from digest.render import (
    IssueContent,
    RenderedIssue,
    inline_css,
    lint_email_html,
    render_issue,
    render_preview,
    render_report,
    shorten,
)


def parse(html: str) -> etree._Element:
    return etree.fromstring(html.encode(), etree.HTMLParser(encoding="utf-8"))


@pytest.fixture(scope="module")
def rendered() -> RenderedIssue:
    return render_issue(sample_content(6), sample_settings())


def test_base_layout_has_what_clients_need(rendered: RenderedIssue) -> None:
    root = parse(rendered.html)
    assert root.get("lang") == "en" and root.get("dir") == "ltr"
    assert root.xpath("//meta[@name='viewport']/@content") == [
        "width=device-width, initial-scale=1"
    ]
    assert root.xpath("//meta[@name='color-scheme']/@content") == ["light dark"]
    container = root.xpath("//table[contains(@class, 'container')]")[0]
    assert container.get("width") == "600"  # Outlook's width
    assert "max-width:600px" in container.get("style").replace(" ", "")  # fluid elsewhere
    assert all(t.get("role") == "presentation" for t in root.iter("table"))
    preheader = root.xpath("//div[@class='preheader']")[0]
    assert "display:none" in preheader.get("style").replace(" ", "")
    assert "Council approves the new riverside cycle path" in "".join(preheader.itertext())
    assert "Segoe UI" in root.xpath("//body/@style")[0]
    assert lint_email_html(rendered.html) == []


def test_language_and_direction_come_from_settings() -> None:
    out = render_issue(sample_content(1), sample_settings(language="he", direction="rtl"))
    root = parse(out.html)
    assert (root.get("lang"), root.get("dir")) == ("he", "rtl")
    out = render_issue(sample_content(1), sample_settings(direction="sideways"))
    assert parse(out.html).get("dir") == "ltr"


def test_media_queries_keep_important_and_inline_styles_do_not(rendered: RenderedIssue) -> None:
    root = parse(rendered.html)
    css = "".join(root.xpath("//style/text()"))
    dark = css[css.index("prefers-color-scheme: dark") :]
    assert re.search(r"\.summary\s*\{\s*color:\s*#e6edf3 !important", dark)
    mobile = css[css.index("max-width: 620px") : css.index("prefers-color-scheme")]
    assert re.search(r"\.article\s*\{\s*padding:\s*16px 16px !important", mobile)
    summary = root.xpath("//p[@class='summary']")[0]
    assert "color:#1f2937" in summary.get("style") and "important" not in summary.get("style")


def test_premailer_keeps_image_pixel_widths(rendered: RenderedIssue) -> None:
    images = parse(rendered.html).xpath("//img[@class='article-img']")
    assert images, "the sample has illustrated articles"
    for img in images:
        assert img.get("width") == "552"  # not premailer's width="100%" from the style
        assert "width:100%" in img.get("style").replace(" ", "")
    sized = [img for img in images if img.get("height")]
    assert sized and all(img.get("height") == "310" for img in sized)  # 1200x675 scaled to 552


def test_premailer_alone_with_defaults_would_break_the_styles() -> None:
    """Documents the trap: our inline_css differs from premailer's defaults exactly there."""
    from premailer import transform

    html = (
        "<html><head><style>.a{color:#111}img{width:100%}"
        "@media (prefers-color-scheme: dark){.a{color:#eee !important}}</style></head>"
        '<body><p class="a">x</p><img src="https://x.org/a.png" width="552" alt=""></body></html>'
    )
    default = transform(html, allow_network=False)
    ours = inline_css(html)
    assert "!important" not in default and 'width="100%"' in default
    assert "#eee !important" in ours and 'width="552"' in ours and 'width="100%"' not in ours


def test_article_partial(rendered: RenderedIssue) -> None:
    root = parse(rendered.html)
    first = root.xpath("//td[contains(@class, 'article')]")[0]
    link = first.xpath(".//h2/a")[0]
    assert link.get("href").startswith("https://news.example.org/city-desk/2026/11/story-0?")
    assert "".join(first.xpath(".//p[@class='meta']//text()")) == "City Desk · 20 November 2026"
    read_more = first.xpath(".//p[@class='read-more']/a")[0]
    assert " ".join("".join(read_more.itertext()).split()) == (
        "Read more about Council approves the new riverside cycle path after a two-year wait"
    )
    assert first.xpath(".//img/@alt") == [" ".join("".join(link.itertext()).split())]


def test_outside_text_is_escaped_and_unsafe_links_dropped() -> None:
    articles = sample_articles(2, images=False)
    articles[0] = replace(
        articles[0],
        title="<script>alert(1)</script> & co",
        summary='<img src=x onerror="alert(2)"> hello',
        url="javascript:alert(3)",
    )
    articles[1] = replace(articles[1], image="data:image/png;base64,AAAA")
    out = render_issue(IssueContent(None, sample_content().issue_date, articles), sample_settings())
    root = parse(out.html)
    assert not list(root.iter("script")) and not root.xpath("//img[@onerror]")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in out.html
    assert "javascript:" not in out.html and "data:image" not in out.html
    assert "<script>alert(1)</script> & co" in out.text  # plain text is not HTML-escaped


def test_footer_has_why_unsubscribe_and_postal_address(rendered: RenderedIssue) -> None:
    html, text = render_preview(rendered, sample_recipient(3))
    root = parse(html)
    footer = root.xpath("//td[contains(@class, 'footer')]")[0]
    words = " ".join("".join(footer.itertext()).split())
    assert "You get this email because you subscribed to The Example Brief." in words
    assert "This copy went to reader3@example.com." in words
    assert "Example Media Ltd 12 Harbour Road Springfield 40512" in words
    assert footer.xpath(".//a[text()='Unsubscribe']/@href") == [
        "https://digest.example.org/u/3.sig-AbC_9"
    ]
    assert root.xpath("//p[@class='view-online']/a/@href") == [
        "https://digest.example.org/issues/42?d=3&s=xYz"
    ]
    assert "Unsubscribe: https://digest.example.org/u/3.sig-AbC_9" in text


def test_text_part_is_written_for_reading(rendered: RenderedIssue) -> None:
    _, text = render_preview(rendered, sample_recipient())
    assert text.startswith("The Example Brief\n26 November 2026\n")
    assert "Hi Ada Lovelace,\n" in text
    assert (
        "\n1.  Council approves the new riverside cycle path after a two-year wait\n    [1]\n"
        in text
    )
    assert "    City Desk · 20 November 2026\n" in text
    links = text[text.index("LINKS\n") :]
    for n in range(1, 7):
        assert re.search(rf"^\[{n}\] https://news\.example\.org/\S+$", links, re.M)
    assert all(len(line) <= 72 for line in text.splitlines() if "://" not in line)
    assert "<" not in text.replace("<details>", "")  # no HTML in the text part


def test_empty_name_falls_back_in_both_parts(rendered: RenderedIssue) -> None:
    html, text = render_preview(rendered, sample_recipient(name="  "))
    assert "Hi there," in html and "Hi there," in text


def test_subject_is_one_plain_line() -> None:
    articles = sample_articles(3)
    articles[0] = replace(articles[0], title="Breaking\r\nBcc: victim@example.com <b>&amp;</b>")
    content = IssueContent(1, sample_content().issue_date, articles)
    out = render_issue(content, sample_settings())
    assert out.subject == (
        "The Example Brief — 26 November 2026: Breaking Bcc: victim@example.com <b>&amp;</b>"
    )


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
    root = parse(tight.html)
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


def test_report_of_a_clean_issue(rendered: RenderedIssue) -> None:
    assert render_report(rendered, sample_settings()) == [
        f"HTML {rendered.html_size:,} bytes of a 100,000-byte budget (within budget); "
        "6 articles in full, 0 in more stories"
    ]


def test_shorten_cuts_at_a_sentence_when_it_can() -> None:
    text = "One two three four five. Six seven eight nine ten eleven."
    assert shorten(text, 8) == "One two three four five."
    assert shorten("a b c d e f g h", 4) == "a b c d…"
    assert shorten(text, 50) == text


def write(tmp_path: Path, name: str, body: str) -> Path:
    (tmp_path / name).write_text(body)
    return tmp_path


def test_operator_templates_extend_the_base(tmp_path: Path) -> None:
    write(
        tmp_path,
        "issue.html",
        '{% extends "base.html" %}{% block content %}<tr><td class="greeting">'
        "Hello from {{ recipient.attributes.city | default('your town') }}"
        "</td></tr>{% endblock %}",
    )
    out = render_issue(sample_content(2), sample_settings(template_dir=tmp_path))
    html, _ = render_preview(out, sample_recipient())
    assert "Hello from Springfield" in html and "View this issue in your browser" in html
    html, _ = render_preview(out, sample_recipient(attributes={}))
    assert "Hello from your town" in html


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{{ no_such_variable }}", "no_such_variable"),
        ("{% if recipient.name %}x{% endif %}", "default"),
        ("{{ (recipient.name ~ '')[:10] }}", "filter"),
        ("{{ recipient.name | replace('DgsT', '') }}", "filter"),
        ("<style>.x{color:red}</style>{{ recipient.email", "template"),
        ("<tr><td><!-- {{ recipient.email }} --></td></tr>", "comment"),
        ('<tr><td><a href="x" onclick="{{ recipient.name }}">x</a></td></tr>', "onclick"),
    ],
)
def test_template_mistakes_are_render_errors(tmp_path: Path, body: str, message: str) -> None:
    write(
        tmp_path,
        "issue.html",
        '{% extends "base.html" %}{% block content %}' + body + "{% endblock %}",
    )
    with pytest.raises(RenderError, match=message):
        render_issue(sample_content(1), sample_settings(template_dir=tmp_path))


def test_a_missing_template_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="does not exist"):
        render_issue(sample_content(1), sample_settings(template_dir=tmp_path / "nope"))


def test_articles_without_links_render_without_a_links_list() -> None:
    articles = [replace(a, url=None) for a in sample_articles(2, images=False)]
    out = render_issue(IssueContent(1, sample_content().issue_date, articles), sample_settings())
    assert "LINKS" not in out.text and "[1]" not in out.text
    assert "Read more" not in out.html and lint_email_html(out.html) == []


def test_an_issue_needs_articles() -> None:
    with pytest.raises(RenderError, match="at least one article"):
        render_issue(IssueContent(1, sample_content().issue_date, []), sample_settings())


def test_rendered_issue_round_trips_through_json(rendered: RenderedIssue) -> None:
    import json

    again = RenderedIssue.from_json(json.loads(json.dumps(rendered.to_json())))
    assert again == rendered


def test_subject_template_mistakes_are_render_errors() -> None:
    with pytest.raises(RenderError, match="subject template"):
        render_issue(sample_content(1), sample_settings(subject_template="{{ nope }}"))


def test_subject_template_variables() -> None:
    settings = sample_settings(
        subject_template="{{ count }} stories, {{ issue_date.isoformat() }}: "
        "{{ articles[1].title }}"
    )
    out = render_issue(sample_content(3), settings)
    assert (
        out.subject
        == "3 stories, 2026-11-26: Why the Zürich lake warmed faster than the models said"
    )


def test_an_editors_preheader_and_intro() -> None:
    content = sample_content(2)
    content.preheader = "Bikes, lakes & bread"
    content.intro = "A short week: two stories <only>."
    out = render_issue(content, sample_settings())
    root = parse(out.html)
    assert "".join(root.xpath("//div[@class='preheader']/text()")).startswith(
        "Bikes, lakes & bread"
    )
    assert "A short week: two stories &lt;only&gt;." in out.html
    assert "A short week: two stories <only>." in out.text
