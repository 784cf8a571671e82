"""After Jinja: premailer's configuration, long lines folded, the text part tidied."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from render_samples import parse_html, sample_content, sample_settings

from digest.render import RenderedIssue, inline_css, render_issue
from digest.render.inline import HTML_LINE_LIMIT, fold_long_lines, tidy_text


@pytest.fixture(scope="module")
def rendered() -> RenderedIssue:
    return render_issue(sample_content(6), sample_settings())


def test_media_queries_keep_important_and_inline_styles_do_not(rendered: RenderedIssue) -> None:
    root = parse_html(rendered.html)
    css = "".join(root.xpath("//style/text()"))
    dark = css[css.index("prefers-color-scheme: dark") :]
    assert re.search(r"\.summary\s*\{\s*color:\s*#e6edf3 !important", dark)
    mobile = css[css.index("max-width: 620px") : css.index("prefers-color-scheme")]
    assert re.search(r"\.article\s*\{\s*padding:\s*16px 16px !important", mobile)
    summary = root.xpath("//p[@class='summary']")[0]
    assert "color:#1f2937" in summary.get("style") and "important" not in summary.get("style")


def test_premailer_keeps_image_pixel_widths(rendered: RenderedIssue) -> None:
    images = parse_html(rendered.html).xpath("//img[@class='article-img']")
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


def test_long_lines_fold_between_attributes_only() -> None:
    tag = "<a " + " ".join(f'data-k{i}="v {i} {"x" * 20}"' for i in range(40)) + ">link</a>"
    html = f"<p>{tag}</p>\n<p>short</p>"
    assert len(html.split("\n")[0]) > HTML_LINE_LIMIT
    folded = fold_long_lines(html, re.compile("NEVER"))
    lines = folded.split("\n")
    assert len(lines) == 3 and all(len(line.encode()) <= HTML_LINE_LIMIT for line in lines)
    assert folded.replace("\n", " ") == html.replace("\n", " ")  # only spaces became newlines
    assert all(line.count('"') % 2 == 0 for line in lines)  # never inside a quoted value


def test_lines_holding_a_placeholder_are_never_folded() -> None:
    tag = "<a " + " ".join(f'data-k{i}="{"x" * 20}"' for i in range(80)) + ' title="TOKEN">x</a>'
    assert fold_long_lines(tag, re.compile("TOKEN")) == tag
    # the guide (the placeholder render) decides, so a direct render folds the same way
    direct = tag.replace("TOKEN", "Ada")
    assert fold_long_lines(direct, re.compile("TOKEN"), guide=tag) == direct


def test_text_part_is_tidied() -> None:
    assert tidy_text("\n\nHello  \n\n\n\nworld\t\n\n") == "Hello\n\nworld\n"


def test_importing_the_render_stage_does_not_import_premailer() -> None:
    """premailer costs ~70 ms to import; only a run that renders pays it."""
    code = "import sys, digest.render; print('premailer' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
