"""What every item gets on its way out of the sources stage: its picture and enclosures."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from digest.models import Enclosure
from digest.sources.cache import decode_items, encode_items
from digest.sources.jsonfeed import parse_json_feed
from digest.sources.normalize import Entry, build_items

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
