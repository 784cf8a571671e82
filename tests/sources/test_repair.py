"""Recovery that keeps text: real feeds with one blemish added read exactly as without it."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from digest.sources.feed import parse_document, parse_feed
from digest.sources.repair import repair
from tests.sources.fidelity import Reading, compare, readings
from tests.sources.test_parsers import source

FEEDS = sorted((Path(__file__).resolve().parents[1] / "data" / "feeds").glob("*-feed*.*"))
URL = "https://feeds.example.org/feed.xml"
_TEXT_START = re.compile(rb"<(?:title|generator|name|subtitle)\b[^>]*>(?=[^<\s])")

# (blemish as written, the same text as well-formed XML writes it)
TEXT_BLEMISHES = {
    "html entity": (b"Tides&nbsp;&amp;&nbsp;caf&eacute;s ", b"Tides&#160;&amp;&#160;caf&#233;s "),
    "bare ampersand": (b"AT&T and R&D: ", b"AT&amp;T and R&amp;D: "),
    "control character": (b"Form\x0cfeed ", b"Formfeed "),
}


def read(data: bytes) -> list[Reading]:
    return readings(parse_document(data, URL, "application/xml"), URL)


def with_text(data: bytes, text: bytes) -> bytes:
    """`text` put at the start of the document's first title (or generator, author name...)
    written as text rather than as a CDATA section."""
    match = _TEXT_START.search(data)
    assert match is not None
    return data[: match.end()] + text + data[match.end() :]


@pytest.mark.parametrize("feed", FEEDS, ids=lambda p: p.name)
@pytest.mark.parametrize("kind", TEXT_BLEMISHES)
def test_a_blemish_in_a_real_feed_changes_nothing_else(feed: Path, kind: str) -> None:
    blemish, clean = TEXT_BLEMISHES[kind]
    data = feed.read_bytes()
    expected = read(with_text(data, clean))
    document = parse_document(with_text(data, blemish), URL, "application/xml")
    assert document.path.startswith("lxml after repair"), document.path
    assert readings(document, URL) == expected


@pytest.mark.parametrize("feed", FEEDS, ids=lambda p: p.name)
def test_a_blank_line_before_the_declaration_changes_nothing(feed: Path) -> None:
    data = feed.read_bytes()
    blemished = b"\n\n  " + data
    document = parse_document(blemished, URL, "application/xml")
    assert readings(document, URL) == read(data)
    if data.lstrip().startswith(b"<?xml"):
        assert document.path == "lxml after repair (leading whitespace)"


def test_entities_survive_after_a_blemish() -> None:
    """What libxml2's recover mode lost once it met one blemish: later &amp;, &lt; and &gt;."""
    later = (
        b"<item><title>Fish &amp; chips</title><link>https://e.org/s?a=1&amp;b=2</link>"
        b"<description>&lt;p&gt;Hello &amp;amp; welcome&lt;/p&gt;</description></item>"
    )
    body = b'<rss version="2.0"><channel><title>A&nbsp;B</title>' + later + b"</channel></rss>"
    (item,) = parse_feed("s", source(), body, URL)
    assert item.title == "Fish & chips"
    assert item.url == "https://e.org/s?a=1&b=2"
    assert item.content_html == "<p>Hello &amp; welcome</p>"


def test_what_cannot_be_repaired_goes_to_feedparser_and_the_log_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = (
        b'<rss version="2.0"><channel><title>T</title><item><title>One</title>'
        b"<link>https://e.org/1</link><description>unclosed <b>bold</description></item>"
        b"</channel></rss>"
    )
    caplog.set_level(logging.INFO, "digest.sources")
    (item,) = parse_feed("s", source(), body, URL)
    assert item.title == "One" and item.url == "https://e.org/1"
    assert "source s: rss20 read by feedparser" not in caplog.text  # feedparser names its own
    assert re.search(r"source s: feedparser:\S+ read by feedparser", caplog.text)


def test_the_log_names_a_repaired_reading(caplog: pytest.LogCaptureFixture) -> None:
    body = b'\n<?xml version="1.0"?><rss version="2.0"><channel><item><title>A&nbsp;&</title>'
    body += b"</item></channel></rss>"
    caplog.set_level(logging.INFO, "digest.sources")
    (item,) = parse_feed("s", source(), body, URL)
    assert item.title == "A &"  # the no-break space folded, as titles' whitespace is
    assert (
        "source s: rss20 read by lxml after repair "
        "(leading whitespace, HTML entities, bare ampersands)" in caplog.text
    )


def test_repair_leaves_cdata_alone_and_names_what_it_fixed() -> None:
    data = b" <a>x&nbsp;y &amp; &#38; &bogus; & <![CDATA[&nbsp; & \x0c]]>\x1b</a>"
    repaired, fixes = repair(data)
    assert repaired == b"<a>x&#160;y &amp; &#38; &amp;bogus; &amp; <![CDATA[&nbsp; & ]]></a>"
    assert fixes == ["leading whitespace", "HTML entities", "bare ampersands", "control characters"]
    assert repair(b"<a>clean &amp; &lt;</a>") == (b"<a>clean &amp; &lt;</a>", [])


@pytest.mark.parametrize("feed", FEEDS, ids=lambda p: p.name)
def test_real_feeds_read_as_feedparser_reads_them(feed: Path) -> None:
    count, differences, route = compare(feed)
    assert count > 0 and route == "lxml"
    assert not differences, differences[:3]
