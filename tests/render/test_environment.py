"""What templates see and how they render: layout, outside text, subject, template errors."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from render_samples import (
    parse_html,
    sample_articles,
    sample_content,
    sample_recipient,
    sample_settings,
)

from digest.errors import RenderError
from digest.render import (
    IssueContent,
    RenderedIssue,
    lint_email_html,
    render_issue,
    render_preview,
)


@pytest.fixture(scope="module")
def rendered() -> RenderedIssue:
    return render_issue(sample_content(6), sample_settings())


def test_base_layout_has_what_clients_need(rendered: RenderedIssue) -> None:
    root = parse_html(rendered.html)
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
    root = parse_html(out.html)
    assert (root.get("lang"), root.get("dir")) == ("he", "rtl")
    out = render_issue(sample_content(1), sample_settings(direction="sideways"))
    assert parse_html(out.html).get("dir") == "ltr"


def test_article_partial(rendered: RenderedIssue) -> None:
    root = parse_html(rendered.html)
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
    root = parse_html(out.html)
    assert not list(root.iter("script")) and not root.xpath("//img[@onerror]")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in out.html
    assert "javascript:" not in out.html and "data:image" not in out.html
    assert "<script>alert(1)</script> & co" in out.text  # plain text is not HTML-escaped


def test_footer_has_why_unsubscribe_and_postal_address(rendered: RenderedIssue) -> None:
    html, text = render_preview(rendered, sample_recipient(3))
    root = parse_html(html)
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
    root = parse_html(out.html)
    assert "".join(root.xpath("//div[@class='preheader']/text()")).startswith(
        "Bikes, lakes & bread"
    )
    assert "A short week: two stories &lt;only&gt;." in out.html
    assert "A short week: two stories <only>." in out.text


def _pictures(images: str, sizes: dict[str, tuple[int, int]]) -> list[dict[str, str]]:
    articles = sample_articles(6)
    content = replace(sample_content(6), articles=articles, image_sizes=sizes)
    root = parse_html(render_issue(content, sample_settings(images=images)).html)
    return [dict(img.attrib) for img in root.xpath("//img")]


@pytest.mark.parametrize("images", ["lead", "thumbnail"])
def test_pictures_are_sized_never_wider_than_their_column_and_described(images: str) -> None:
    big, small = (
        "https://img.example.org/city-desk/0.jpg",
        "https://img.example.org/tech-notes/3.jpg",
    )
    found = _pictures(images, {big: (2400, 1600), small: (90, 30)})
    limit = 120 if images == "thumbnail" else 552
    assert [(p["src"], p["width"], p["height"]) for p in found] == [
        (big, str(limit), str(limit * 2 // 3)),  # scaled down, proportions kept
        (small, "90", "30"),  # never enlarged
    ]
    assert all(p["alt"] and f"max-width:{p['width']}px" in p["style"] for p in found)
    assert {p["class"] for p in found} == {"thumb-img" if images == "thumbnail" else "article-img"}


def test_no_pictures_when_the_digest_says_none_or_the_size_is_unknown() -> None:
    sizes = {"https://img.example.org/city-desk/0.jpg": (800, 600)}
    assert _pictures("none", sizes) == []
    assert [p["src"] for p in _pictures("lead", sizes)] == list(sizes)  # 3.jpg: size unknown
