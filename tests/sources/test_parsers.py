"""Every feed format, the normalization every item gets, and what bad documents are told."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from digest.config import SourceConfig
from digest.dates import parse_date
from digest.sources.feed import FeedError, parse_document, parse_feed
from digest.sources.normalize import plain_text
from tests.sources.hostile import rss, story_items

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def source(**settings: object) -> SourceConfig:
    return SourceConfig.model_validate({"kind": "feed", "url": "https://e.org/feed", **settings})


def items_of(body: bytes, url: str = "https://e.org/feed.xml", **settings: object) -> list:  # type: ignore[type-arg]
    return parse_feed("s", source(**settings), body, url, now=NOW)


ATOM10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example.org/posts/">
  <title type="html">The &lt;b&gt;Blog&lt;/b&gt;</title>
  <link rel="alternate" href="/"/>
  <entry>
    <title type="html">&lt;em&gt;Tides&lt;/em&gt; &amp;amp; currents</title>
    <link rel="alternate" type="text/html" href="tides"/>
    <link rel="enclosure" href="tides.mp3"/>
    <id>tag:blog.example.org,2026:tides</id>
    <updated>2026-11-20T10:00:00+02:00</updated>
    <author><name>Ada</name></author>
    <category term="sea" label="Sea"/>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">
      <p>Read <a href="../about">this</a>.</p><script>x()</script></div></content>
  </entry>
  <entry xml:base="https://other.example.org/">
    <title>Plain &lt;title&gt;</title>
    <link href="second"/>
    <id>tag:2</id>
    <published>2027-01-01T00:00:00Z</published>
    <summary type="text">Just text &amp; more.</summary>
  </entry>
</feed>"""

ATOM03 = b"""<?xml version="1.0"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
  <title>Old Atom</title>
  <entry>
    <title>Old entry</title>
    <link rel="alternate" type="text/html" href="https://old.example.org/1"/>
    <id>urn:old:1</id>
    <issued>2026-11-19T08:00:00Z</issued>
    <modified>2026-11-19T09:00:00Z</modified>
    <content type="text/html" mode="escaped">&lt;p&gt;Escaped body&lt;/p&gt;</content>
  </entry>
</feed>"""

RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
  xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.org/"><title>RDF</title>
    <link>https://rdf.example.org/</link></channel>
  <item rdf:about="https://rdf.example.org/a">
    <title>RDF item</title><link>https://rdf.example.org/a</link>
    <dc:date>2026-11-18T07:30:00-05:00</dc:date><dc:creator>Bo</dc:creator>
    <dc:subject>Maps</dc:subject>
    <description>RDF body</description>
  </item>
</rdf:RDF>"""

RSS091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="0.91"><channel><title>Old RSS</title><link>https://old.example.org/</link>
<item><title>Caf\xe9 news</title><link>/cafe</link><description>Caf\xe9 body</description></item>
</channel></rss>"""


def test_rss20_items_are_normalized() -> None:
    body = rss(
        [
            {
                "title": "&lt;b&gt;Bold&lt;/b&gt; &amp;amp; brave",
                "link": "/a/1?utm_source=feed",
                "guid": "g1",
                "pubDate": "Tue, 24 Nov 2026 10:00:00 +0100",
                "category": "Harbour",
                "description": "<![CDATA[<p onclick='x()'>Hi <a href=\"/more\">more</a>"
                "<script>bad()</script></p>]]>",
                "dc:creator": "Mara",
            }
        ],
        link="https://news.example.org/",
        extra=' xmlns:dc="http://purl.org/dc/elements/1.1/"',
    )
    [item] = items_of(body)
    assert item.title == "Bold & brave"
    assert item.url == "https://news.example.org/a/1?utm_source=feed"
    assert item.key == "g1" and item.categories == ("Harbour",) and item.author == "Mara"
    assert item.published == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert item.content_html is not None
    assert "script" not in item.content_html and "onclick" not in item.content_html
    assert 'href="https://news.example.org/more"' in item.content_html


def test_atom10_xml_base_xhtml_and_future_dates() -> None:
    first, second = sorted(items_of(ATOM10), key=lambda i: i.key)
    assert second.key == "tag:blog.example.org,2026:tides"
    assert second.title == "Tides & currents"
    assert second.url == "https://blog.example.org/posts/tides"
    assert second.published == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert second.author == "Ada" and second.categories == ("Sea",)
    assert second.content_html is not None and "script" not in second.content_html
    assert 'href="https://blog.example.org/about"' in second.content_html
    assert first.url == "https://other.example.org/second"
    assert first.title == "Plain <title>"
    assert first.published == NOW  # 2027 is in the future: clamped
    assert first.content_html == "Just text &amp; more."


def test_atom03_rss10_and_rss091() -> None:
    [old] = items_of(ATOM03)
    assert (old.title, old.url, old.key) == ("Old entry", "https://old.example.org/1", "urn:old:1")
    assert old.published == datetime(2026, 11, 19, 8, 0, tzinfo=UTC)
    assert old.content_html == "<p>Escaped body</p>"
    [rdf] = items_of(RSS10)
    assert (rdf.title, rdf.url, rdf.author) == ("RDF item", "https://rdf.example.org/a", "Bo")
    assert rdf.published == datetime(2026, 11, 18, 12, 30, tzinfo=UTC)
    assert rdf.categories == ("Maps",)
    [classic] = items_of(RSS091)
    assert classic.title == "Café news" and classic.url == "https://old.example.org/cafe"
    assert classic.published is None
    assert parse_document(RSS10, None).format == "rss10"
    assert parse_document(ATOM03, None).format == "atom03"


def test_json_feed_10_and_11() -> None:
    feed11 = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "J",
        "home_page_url": "https://j.example.org/",
        "authors": [{"name": "Feed author"}],
        "items": [
            {
                "id": 7,
                "url": "/posts/7",
                "title": "Seven &amp; more",
                "content_html": "<p>Seven <img src='/i.png'></p>",
                "date_published": "2026-11-21T10:00:00+01:00",
                "tags": ["x", 3],
            },
            {"id": "t", "content_text": "First para.\n\nSecond para.", "authors": [{"name": "Al"}]},
            "junk",
        ],
    }
    items = items_of(orjson.dumps(feed11), "https://j.example.org/feed.json")
    assert [i.key for i in items] == ["7", "t"]
    seven, text_only = items
    assert seven.url == "https://j.example.org/posts/7" and seven.title == "Seven & more"
    assert seven.published == datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    assert seven.author == "Feed author" and seven.categories == ("x",)
    assert (
        seven.content_html is not None and 'src="https://j.example.org/i.png"' in seven.content_html
    )
    assert text_only.content_html == "<p>First para.</p><p>Second para.</p>"
    assert text_only.author == "Al"
    feed10 = {"version": "https://jsonfeed.org/version/1", "items": [
        {"id": "a", "title": "A", "summary": "S", "author": {"name": "Old"}}
    ]}  # fmt: skip
    [item] = items_of(orjson.dumps(feed10))
    assert item.author == "Old" and item.content_html == "<p>S</p>"
    assert parse_document(orjson.dumps(feed10), None).format == "json10"


def test_identity_guid_then_link_then_hash_and_duplicates_once() -> None:
    body = rss(
        [
            {"title": "One", "guid": "same", "pubDate": "Tue, 24 Nov 2026 10:00:00 GMT"},
            {"title": "One again", "guid": "same", "pubDate": "Mon, 23 Nov 2026 10:00:00 GMT"},
            {"title": "Linked", "link": "https://www.e.org/x/?utm_medium=rss#top"},
            {"title": "Bare", "pubDate": "Sun, 22 Nov 2026 10:00:00 GMT"},
        ]
    )
    items = items_of(body)
    assert [i.title for i in items] == ["One", "Bare", "Linked"]  # newest first, undated last
    assert items[0].key == "same"
    assert items[2].key == "e.org/x"
    assert items[1].key.startswith("sha256:")
    assert items_of(body)[1].key == items[1].key  # stable across runs


def test_max_items_and_filters() -> None:
    body = rss(story_items(30))
    assert len(items_of(body, max_items=5)) == 5
    newest = items_of(body, max_items=1)[0]
    assert newest.title is not None and newest.title.startswith("Story s23")  # 23:23 is latest
    kept = items_of(body, filters={"include": ["/s1[0-9]:/"], "exclude": ["s13"]})
    assert sorted(i.key for i in kept) == sorted(f"s-{n}" for n in range(10, 20) if n != 13)


def test_malformed_xml_keeps_what_parses(caplog: pytest.LogCaptureFixture) -> None:
    body = rss(story_items(5))
    truncated = body[: body.index(b"<item><title>Story s3")] + b"<item><title>Broken <b"
    items = items_of(truncated)
    assert {i.key for i in items} >= {"s-0", "s-1", "s-2"}
    assert "not well-formed XML" in caplog.text and "read by feedparser" in caplog.text


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", None, "empty response"),
        (b"   \n", None, "empty response"),
        (b"<!DOCTYPE html><html><body>Hi</body></html>", "text/html", "HTML page, not a feed"),
        (b"<html><head></head></html>", None, "HTML page, not a feed"),
        (b'{"no": "items"}', "application/json", "not a JSON Feed"),
        (b"{broken json", None, "not valid JSON"),
        (b"just some text, nothing else", "text/plain", "not a feed"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', None, "not a feed"),
    ],
)
def test_what_is_not_a_feed_says_so(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        parse_document(body, "https://e.org/feed", content_type)


def test_feed_served_as_text_html_is_still_read() -> None:
    feed = parse_document(rss(story_items(2)), "https://e.org/f", "text/html; charset=utf-8")
    assert len(feed.entries) == 2


def test_invalid_utf8_and_wrong_charset_keep_the_items() -> None:
    body = rss(story_items(2)).replace(b"Story s1", b"Story \xff\xfe s1")
    items = items_of(body)
    assert len(items) == 2 and all(i.title for i in items)
    latin = RSS091  # declared ISO-8859-1 in the document, no header
    assert items_of(latin)[0].title == "Café news"


@pytest.mark.slow
def test_ten_thousand_items_keep_the_newest() -> None:
    body = rss(story_items(10_000))
    items = items_of(body, max_items=50)
    assert len(items) == 50
    assert all(i.published is not None for i in items)
    dates = [i.published for i in items]
    assert dates == sorted(dates, reverse=True)  # type: ignore[type-var]


def test_entities_are_never_resolved() -> None:
    evil = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">
    <!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
    <rss version="2.0"><channel><title>t</title><item><title>x &xxe; &b;</title>
    <link>https://e.org/1</link></item></channel></rss>"""
    [item] = items_of(evil)
    assert item.title is not None and "root:" not in item.title and "aaaa" not in item.title


def test_dates_in_many_shapes() -> None:
    utc = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert parse_date("Tue, 24 Nov 2026 10:00:00 GMT") == utc
    assert parse_date("Tue, 24 Nov 2026 11:00:00 +0100") == utc
    assert parse_date("2026-11-24T10:00:00Z") == utc
    assert parse_date("2026-11-24T05:00:00-05:00") == utc
    assert parse_date("2026-11-24 10:00:00") == utc  # naive: taken as UTC
    assert parse_date("24 November 2026 10:00 UTC") == utc  # feedparser's fallback
    assert parse_date("not a date") is None and parse_date("") is None


def test_titles_lose_markup_and_entities() -> None:
    assert plain_text("<b>Bold</b> &amp; <i>brave</i>\n  title") == "Bold & brave title"
    assert plain_text("AT&amp;amp;T &lt;3") == "AT&T <3"
    assert plain_text("Caf&eacute; &#8212; open") == "Café — open"
