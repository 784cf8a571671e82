"""What every item gets on its way out of the sources stage: its picture and enclosures, and
HTML sanitized in bounded time (deep nesting flattened, long bodies cut, building a source's
items stopped at its timeout)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import orjson
import pytest

from digest.errors import FeedError
from digest.models import Enclosure
from digest.sources.cache import decode_items, encode_items
from digest.sources.jsonfeed import parse_json_feed
from digest.sources.normalize import (
    MAX_BODY_CHARS,
    MAX_DEPTH,
    Entry,
    bounded_markup,
    build_items,
    plain_text,
    sanitize_html,
)

NOW = datetime(2026, 11, 26, tzinfo=UTC)
BASE = "https://blog.example.org/posts/"


def build(*entries: Entry) -> list:  # type: ignore[type-arg]
    return build_items("s", list(entries), max_items=10, fetch_full=False, base_url=BASE, now=NOW)


def test_the_picture_is_the_feeds_own_else_the_bodys_first_image() -> None:
    own, relative, body, none = build(
        Entry(guid="1", title="Own", image="https://cdn.example.org/1.jpg", image_width=640,
              image_height=480, content_html='<p><img src="https://x.org/other.png"></p>'),
        Entry(guid="2", title="Relative", enclosures=[Enclosure("pics/2.jpg", "image/jpeg")]),
        Entry(guid="3", title="Body", content_html=(
            '<p>Text <img src="javascript:alert(1)"> <img src="/img/3.png" width="300" '
            'height="200" alt="a"> <img src="https://x.org/second.png"></p>')),
        Entry(guid="4", title="None", content_html="<p>Only words.</p>"),
    )  # fmt: skip
    assert (own.image, own.image_size) == ("https://cdn.example.org/1.jpg", (640, 480))
    assert (relative.image, relative.image_size) == (
        "https://blog.example.org/posts/pics/2.jpg",
        None,
    )
    assert relative.enclosures == (
        Enclosure("https://blog.example.org/posts/pics/2.jpg", "image/jpeg"),
    )
    assert (body.image, body.image_size) == ("https://blog.example.org/img/3.png", (300, 200))
    assert none.image is None and none.enclosures == ()


def test_pictures_and_enclosures_survive_the_source_cache() -> None:
    episode = Enclosure("https://cdn.example.org/e.mp3", "audio/mpeg", 9)
    (item,) = build(
        Entry(guid="1", title="Episode", image="https://cdn.example.org/e.jpg", image_width=1,
              image_height=2, enclosures=[episode])
    )  # fmt: skip
    assert decode_items(encode_items([item])) == [item]


def test_json_feed_items_carry_their_image_and_attachments() -> None:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "home_page_url": "https://pod.example.org/",
        "items": [
            {
                "id": "1",
                "url": "https://pod.example.org/1",
                "title": "Episode 1",
                "image": "/art/1.png",
                "attachments": [
                    {"url": "/1.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 1234},
                    {"mime_type": "audio/mpeg"},
                ],
            }
        ],
    }
    (entry,) = parse_json_feed(orjson.dumps(document), "https://pod.example.org/feed.json").entries
    assert entry.image == "https://pod.example.org/art/1.png"
    assert entry.enclosures == [Enclosure("https://pod.example.org/1.mp3", "audio/mpeg", 1234)]


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
