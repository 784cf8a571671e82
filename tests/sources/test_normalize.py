"""Item HTML is sanitized in bounded time: deep nesting is flattened, long bodies are cut, and
building a source's items stops at its timeout."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from digest.errors import FeedError
from digest.sources.normalize import (
    MAX_BODY_CHARS,
    MAX_DEPTH,
    Entry,
    bounded_markup,
    build_items,
    plain_text,
    sanitize_html,
)


@pytest.mark.slow
def test_200000_nested_divs_are_sanitized_in_under_a_second() -> None:
    body = "<div>" * 200_000 + "x" + "</div>" * 200_000  # two minutes before the fix
    started = time.process_time()  # CPU time: a busy machine does not make it fail
    assert sanitize_html(body) == ""  # past MAX_BODY_CHARS: cut, the x with it
    assert plain_text(body) == ""
    assert time.process_time() - started < 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "opening", ["<blockquote>", "<b>", "<ul>", "<table>", "<DIV class='a'>", "<div/>", "<i><u>"]
)
def test_every_deep_nesting_is_flattened_quickly(opening: str) -> None:
    body = opening * (MAX_BODY_CHARS // len(opening) - 10) + "the text"
    started = time.process_time()
    clean = sanitize_html(body)
    assert time.process_time() - started < 1
    assert "the text" in clean
    assert _depth(clean) <= MAX_DEPTH


def test_text_inside_deep_nesting_is_kept() -> None:
    body = "<blockquote>" * 400 + "deep text" + "</blockquote>" * 400 + "<p>after</p>"
    flattened = bounded_markup(body)
    assert flattened.count("<blockquote>") == MAX_DEPTH == flattened.count("</blockquote>")
    clean = sanitize_html(body)
    assert "deep text" in clean and clean.endswith("<p>after</p>")


def test_ordinary_bodies_are_left_as_they_are() -> None:
    paragraph = "<p>The <a href='https://x.example/'>council</a> met on <b>Tuesday</b>.</p>"
    body = "<div>" + paragraph * 500 + "</div>"  # 2,000 tags, never more than 3 deep
    assert bounded_markup(body) is body
    unclosed = "<p>one<p>two<li>three" * 200  # parsers close these: no depth
    assert bounded_markup(unclosed) is unclosed


def test_a_long_body_is_cut_at_a_tag_boundary() -> None:
    body = "<p>" + "word " * (MAX_BODY_CHARS // 5) + '</p><a href="https://x.example/long">'
    cut = bounded_markup(body)
    assert len(cut) <= MAX_BODY_CHARS and cut.endswith("word ")


def test_building_items_stops_at_the_deadline() -> None:
    entries = [Entry(guid=str(n), title=f"Story {n}", content_html="<p>x</p>") for n in range(3)]
    common = {"max_items": 10, "fetch_full": False, "base_url": None, "now": datetime.now(UTC)}
    assert len(build_items("s", entries, **common, deadline=time.monotonic() + 60)) == 3  # type: ignore[arg-type]
    with pytest.raises(FeedError, match=r"took longer than the source's timeout \(0 done\)"):
        build_items("s", entries, **common, deadline=time.monotonic() - 1)  # type: ignore[arg-type]


def _depth(markup: str) -> int:
    depth = deepest = 0
    for closing, name in re.findall(r"<(/?)([a-z]+)", markup):
        if name in ("br", "img", "hr", "p", "li", "td", "tr", "th"):
            continue
        depth += -1 if closing else 1
        deepest = max(deepest, depth)
    return deepest
