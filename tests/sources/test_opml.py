"""OPML lists: outlines read (folders flattened, duplicates merged, bad ones reported), written."""

from __future__ import annotations

import pytest

from digest.errors import FeedError
from digest.sources.opml import Outline, read_opml, sub_source_name, write_opml

READER_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Subscriptions &amp; more</title></head><body>
  <outline text="News" title="News">
    <outline type="rss" text="Harbour Gazette" title="Harbour Gazette"
      xmlUrl="https://gazette.example.org/feed.xml" htmlUrl="https://gazette.example.org/"/>
    <outline text="Local"><outline type="rss" text="Quay &amp; Town"
      xmlUrl="https://quay.example.org/rss"/></outline>
  </outline>
  <outline type="rss" text="Gazette, again" xmlUrl="https://www.gazette.example.org/feed.xml/"/>
  <outline type="rss" text="Gopher" xmlUrl="gopher://old.example.org/feed"/>
  <outline text="A bookmark"/>
  <outline type="rss" xmlUrl="https://untitled.example.org/atom"/>
</body></opml>"""


def test_a_readers_export_is_flattened_merged_and_its_bad_outlines_reported() -> None:
    listed = read_opml(READER_EXPORT)
    assert listed.title == "Subscriptions & more"
    assert listed.feeds == [
        Outline(
            "https://gazette.example.org/feed.xml",
            "Harbour Gazette",
            "https://gazette.example.org/",
        ),
        Outline("https://quay.example.org/rss", "Quay & Town"),
        Outline("https://untitled.example.org/atom"),
    ]
    assert listed.problems == [
        "outline 'Gopher': feed URL 'gopher://old.example.org/feed' is not http(s)",
        "outline 'A bookmark' has no feed URL (xmlUrl)",
    ]


def test_blemished_opml_is_repaired_and_what_is_not_opml_says_so() -> None:
    listed = read_opml(
        b'\n<opml><body><outline text="R&D" xmlUrl="https://e.org/?a=1&b=2"/></body></opml>'
    )
    assert listed.feeds == [Outline("https://e.org/?a=1&b=2", "R&D")]
    with pytest.raises(FeedError, match="not an OPML document"):
        read_opml(b"<rss><channel/></rss>")
    with pytest.raises(FeedError, match="not an OPML document"):
        read_opml(b"no xml at all <")


def test_written_lists_read_back_the_same() -> None:
    feeds = [
        Outline("https://e.org/feed?a=1&b=2", 'Fish "&" chips', "https://e.org/"),
        Outline("https://f.org/rss"),
    ]
    document = write_opml("Mine <3", feeds)
    listed = read_opml(document.encode())
    assert listed.title == "Mine <3"
    assert listed.feeds == [feeds[0], Outline("https://f.org/rss", "https://f.org/rss")]
    assert listed.problems == []


def test_sub_source_names_are_stable_and_distinct() -> None:
    a = sub_source_name("reader", Outline("https://a.example.org/feed", "Harbour Gazette"))
    assert a == sub_source_name("reader", Outline("https://a.example.org/feed", "Harbour Gazette"))
    assert a.startswith("reader/harbour-gazette-")
    assert a != sub_source_name("reader", Outline("https://b.example.org/feed", "Harbour Gazette"))
