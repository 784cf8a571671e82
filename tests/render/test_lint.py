"""lint_email_html and render_report: what the check and preview commands report."""

from __future__ import annotations

import pytest
from render_samples import sample_content, sample_settings

from digest.render import RenderedIssue, lint_email_html, render_issue, render_report

CLEAN = (
    '<!DOCTYPE html><html lang="en" dir="ltr"><head>'
    '<meta name="viewport" content="width=device-width"></head><body>'
    '<table role="presentation"><tr><td><img src="https://x.org/a.png" alt="">'
    '<a href="https://x.org">Read</a></td></tr></table></body></html>'
)


def test_clean_html_passes() -> None:
    assert lint_email_html(CLEAN) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('lang="en" ', ""), "no lang attribute"),
        (('dir="ltr"', ""), "no dir attribute"),
        (('<meta name="viewport" content="width=device-width">', ""), "no viewport meta"),
        ((' alt=""', ""), "has no alt attribute"),
        (('<table role="presentation">', "<table>"), 'no role="presentation"'),
        (("<body>", "<body><script>alert(1)</script>"), "contains <script>"),
        (("</head>", '<link rel="stylesheet" href="https://x.org/a.css"></head>'), "external"),
        (("</head>", "<style>@import url(a.css);</style></head>"), "imports"),
        ((">Read</a>", "></a>"), "has no text"),
    ],
)
def test_each_problem_is_reported(change: tuple[str, str], problem: str) -> None:
    html = CLEAN.replace(*change)
    assert html != CLEAN
    problems = lint_email_html(html)
    assert len(problems) == 1 and problem in problems[0]


def test_an_image_link_with_alt_text_has_a_name() -> None:
    html = CLEAN.replace('alt=""', 'alt="Logo"').replace(">Read</a>", "></a>")
    html = html.replace(
        '<img src="https://x.org/a.png" alt="Logo"><a href="https://x.org"></a>',
        '<a href="https://x.org"><img src="https://x.org/a.png" alt="Logo"></a>',
    )
    assert lint_email_html(html) == []


@pytest.fixture(scope="module")
def rendered() -> RenderedIssue:
    return render_issue(sample_content(6), sample_settings())


def test_report_of_a_clean_issue(rendered: RenderedIssue) -> None:
    assert render_report(rendered, sample_settings()) == [
        f"HTML {rendered.html_size:,} bytes of a 100,000-byte budget (within budget); "
        "6 articles in full, 0 in more stories"
    ]
