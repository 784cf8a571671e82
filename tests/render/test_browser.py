"""The inlined email in a real browser: phone and desktop widths, light and dark mode.

Debian's Chromium (/usr/bin/chromium) driven by Playwright; the HTML is loaded with
`set_content`, every network request is refused (remote images show their alt text in the
box their width and height attributes reserve). Contrast is computed in the page from the
computed colours, compositing backgrounds up the ancestor chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from render_samples import sample_content, sample_recipient, sample_settings

from digest.render import lint_email_html, render_issue, render_preview

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]

# Every visible piece of text: its font size, colour, effective background and their contrast.
TEXT_REPORT = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(parseFloat);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const luminance = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
    }
    const dark = matchMedia('(prefers-color-scheme: dark)').matches;
    let base = dark ? {r: 18, g: 18, b: 18} : {r: 255, g: 255, b: 255};
    for (const c of layers.reverse()) {
      base = {r: c.r * c.a + base.r * (1 - c.a), g: c.g * c.a + base.g * (1 - c.a),
              b: c.b * c.a + base.b * (1 - c.a)};
    }
    return base;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  const out = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    if (el.closest('.preheader, .sr-only, style, title')) continue;
    const box = el.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    const style = getComputedStyle(el);
    const fg = parse(style.color), bg = background(el);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    out.push({text: node.textContent.trim().slice(0, 40), tag: el.tagName,
              cls: el.className, size: parseFloat(style.fontSize),
              ratio: (hi + 0.05) / (lo + 0.05)});
  }
  return out;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(
    scope="module",
    params=[(6, 100_000, "lead"), (30, 100_000, "lead"), (30, 40_000, "lead"),
            (6, 100_000, "thumbnail")],
    ids=["example", "30-articles", "fitted-to-40KB", "thumbnails"],
)  # fmt: skip
def html(request: pytest.FixtureRequest) -> str:
    count, budget, images = request.param
    rendered = render_issue(
        sample_content(count), sample_settings(size_budget=budget, images=images)
    )
    assert rendered.html_size <= budget and lint_email_html(rendered.html) == []
    assert bool(rendered.more) == (budget < 100_000)
    personalized, _ = render_preview(rendered, sample_recipient(1, name="O'Neil & Sons"))
    return personalized


def open_page(browser: Any, html: str, width: int, scheme: str = "light") -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    context.route("**/*", lambda route: route.abort())
    page = context.new_page()
    page.set_content(html, wait_until="load")
    return page


@pytest.mark.parametrize("width", [375, 800])
def test_no_horizontal_scrolling(browser: Any, html: str, width: int) -> None:
    page = open_page(browser, html, width)
    scroll_width, inner_width = page.evaluate(
        "[document.scrollingElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width
    container = page.evaluate(
        "document.querySelector('table.container').getBoundingClientRect().width"
    )
    assert container == (600 if width == 800 else width)
    page.context.close()


def test_text_is_readable_on_a_phone(browser: Any, html: str) -> None:
    page = open_page(browser, html, 375)
    report = page.evaluate(TEXT_REPORT)
    summaries = [t for t in report if "summary" in t["cls"]]
    assert summaries and all(t["size"] >= 16 for t in summaries)
    small = [t for t in report if t["size"] < 14]
    assert small == []
    # the mobile media query applied (it only wins if premailer kept its !important)
    padding = page.evaluate("getComputedStyle(document.querySelector('td.article')).paddingLeft")
    assert padding == "16px"
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast(browser: Any, html: str, scheme: str) -> None:
    page = open_page(browser, html, 375, scheme)
    report = page.evaluate(TEXT_REPORT)
    assert len(report) > 20
    low = [t for t in report if t["ratio"] < 4.5]
    assert low == []
    body_bg = page.evaluate(
        "getComputedStyle(document.querySelector('table.container')).backgroundColor"
    )
    assert body_bg == ("rgb(22, 27, 34)" if scheme == "dark" else "rgb(255, 255, 255)")
    page.context.close()


def test_read_more_links_name_their_article(browser: Any, html: str) -> None:
    page = open_page(browser, html, 800)
    name = "Read more about Council approves the new riverside cycle path after a two-year wait"
    assert page.get_by_role("link", name=name, exact=True).count() == 1
    # the extra words are for screen readers only
    visible = page.evaluate(
        "document.querySelector('.read-more a').getBoundingClientRect().width"
        " - document.querySelector('.read-more a .sr-only').getBoundingClientRect().width"
    )
    assert visible < 120
    page.context.close()


@pytest.mark.parametrize("images", ["lead", "thumbnail"])
@pytest.mark.parametrize("width", [375, 800])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_pictures_keep_their_box_inside_the_column(
    browser: Any, images: str, width: int, scheme: str
) -> None:
    """Blocked images (every request is refused here) keep the box their width and height
    reserve, never wider than the article's column, and their alt text stays readable."""
    rendered = render_issue(sample_content(6), sample_settings(images=images))
    page = open_page(browser, render_preview(rendered, sample_recipient(1))[0], width, scheme)
    boxes = page.evaluate(
        """() => [...document.querySelectorAll('img')].map((img) => {
             const box = img.getBoundingClientRect();
             const cell = img.closest('td.article').getBoundingClientRect();
             const style = getComputedStyle(img);
             return {w: box.width, h: box.height, left: box.left - cell.left,
                     right: cell.right - box.right, alt: img.alt,
                     attrs: [img.getAttribute('width'), img.getAttribute('height')],
                     fg: style.color, bg: style.backgroundColor};
           })"""
    )
    assert len(boxes) == 1  # one story has a picture of known size; one of unknown size is left out
    for box in boxes:
        assert box["attrs"][0] and box["attrs"][1] and box["alt"]
        assert box["h"] > 10 and box["w"] > 10
        assert box["left"] >= 0 and box["right"] >= 0
        if images == "thumbnail":
            assert box["w"] <= 120
        ratio = int(box["attrs"][0]) / int(box["attrs"][1])
        assert abs(box["w"] / box["h"] - ratio) < 0.05  # scaled, never distorted
        assert box["fg"] != box["bg"]
    page.context.close()
