"""The fast parser, on what it used to lose: namespaces, media, xml:base, content types, dates,
wide charsets without a byte-order mark, authors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.sources.feed import parse_document
from digest.sources.normalize import Enclosure, Entry

URL = "https://feeds.example.org/feed.xml"
MEDIA = 'xmlns:media="http://search.yahoo.com/mrss/"'
ITUNES = 'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'


def entries(body: str | bytes, content_type: str | None = None) -> list[Entry]:
    data = body.encode() if isinstance(body, str) else body
    feed = parse_document(data, URL, content_type)
    assert feed.path == "lxml", feed.path
    return feed.entries


def rss_item(inner: str, namespaces: str = "") -> str:
    return f'<rss version="2.0" {namespaces}><channel><item>{inner}</item></channel></rss>'


def atom_entry(inner: str, namespaces: str = "") -> str:
    return f'<feed xmlns="http://www.w3.org/2005/Atom" {namespaces}><entry>{inner}</entry></feed>'


def test_media_title_and_description_do_not_replace_the_real_ones() -> None:
    (entry,) = entries(
        rss_item(
            "<title>Real title</title><description>Real body</description>"
            "<media:title>Clip title</media:title><media:description>Clip text</media:description>",
            MEDIA,
        )
    )
    assert entry.title == "Real title" and entry.content_html == "Real body"


def test_a_direct_media_content_does_not_wipe_an_atom_body() -> None:
    (entry,) = entries(
        atom_entry(
            '<title>T</title><content type="html">&lt;p&gt;Body&lt;/p&gt;</content>'
            '<media:content url="https://cdn.example.org/v.mp4" type="video/mp4"/>',
            MEDIA,
        )
    )
    assert entry.content_html == "<p>Body</p>"
    assert entry.enclosures == [Enclosure("https://cdn.example.org/v.mp4", "video/mp4")]


def test_youtube_media_group_gives_the_body_and_the_thumbnail() -> None:
    (entry,) = entries(
        atom_entry(
            '<title>Video</title><link rel="alternate" href="https://www.youtube.com/watch?v=x"/>'
            "<media:group><media:title>Video</media:title>"
            '<media:content url="https://www.youtube.com/v/x" type="application/x-shockwave-flash"'
            ' width="640" height="390"/>'
            '<media:thumbnail url="https://i.ytimg.com/vi/x/hqdefault.jpg" width="480" '
            'height="360"/><media:description>First line.\n\nSecond &amp; last.'
            "</media:description></media:group>",
            MEDIA,
        )
    )
    assert entry.content_html == "<p>First line.</p><p>Second &amp; last.</p>"
    assert (entry.image, entry.image_width, entry.image_height) == (
        "https://i.ytimg.com/vi/x/hqdefault.jpg",
        480,
        360,
    )


def test_podcast_itunes_summary_and_enclosure() -> None:
    (entry,) = entries(
        rss_item(
            "<title>Episode 1</title><itunes:summary>We talk about tides.</itunes:summary>"
            '<enclosure url="https://cdn.example.org/e1.mp3" type="audio/mpeg" length="1234"/>',
            ITUNES,
        )
    )
    assert entry.content_html == "<p>We talk about tides.</p>"
    assert entry.enclosures == [Enclosure("https://cdn.example.org/e1.mp3", "audio/mpeg", 1234)]
    assert entry.link is None  # an enclosure is not the entry's page
    assert entry.image is None


def test_image_from_an_enclosure_then_media() -> None:
    (first, second) = entries(
        '<rss version="2.0" '
        + MEDIA
        + "><channel>"
        + '<item><title>A</title><enclosure url="/pics/a.jpg" type="image/jpeg" length="9"/>'
        + '<media:thumbnail url="https://e.org/thumb-a.jpg"/></item>'
        + '<item><title>B</title><media:content url="https://e.org/b.png" medium="image" '
        + 'width="800" height="600"/></item></channel></rss>'
    )
    assert first.image == "https://e.org/thumb-a.jpg"  # a relative enclosure is resolved later
    assert (second.image, second.image_width, second.image_height) == (
        "https://e.org/b.png",
        800,
        600,
    )


def test_xml_base_on_content_is_what_its_links_are_relative_to() -> None:
    feed = parse_document(
        atom_entry(
            '<title>T</title><link href="https://site.example.org/post"/>'
            '<content type="html" xml:base="https://cdn.example.org/posts/7/">'
            '&lt;a href="notes.html"&gt;notes&lt;/a&gt;</content>'
        ).encode(),
        URL,
    )
    (entry,) = feed.entries
    assert entry.base == "https://cdn.example.org/posts/7/"


@pytest.mark.parametrize(
    ("content", "text"),
    [
        # xhtml: escaped text inside the div is text, not tags
        (
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            "a &lt;b&gt; tag</div></content>",
            "a &lt;b&gt; tag",
        ),
        (
            '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            "<p>Real <b>tags</b></p></div></content>",
            '<p xmlns="http://www.w3.org/1999/xhtml">Real <b>tags</b></p>',
        ),
        # html holding elements (TypePad): read as the HTML source it was meant to be
        (
            '<content type="html"><div xmlns="http://www.w3.org/1999/xhtml">Example '
            "&lt;b&gt;Atom&lt;/b&gt;</div></content>",
            '<div xmlns="http://www.w3.org/1999/xhtml">Example <b>Atom</b></div>',
        ),
        ('<content type="html">&lt;p&gt;escaped&lt;/p&gt;</content>', "<p>escaped</p>"),
        ('<content type="text">1 &lt; 2</content>', "1 &lt; 2"),
        ('<content type="application/octet-stream">PGk+eDwvaT4=</content>', "&lt;i&gt;x&lt;/i&gt;"),
    ],
)
def test_atom_content_types(content: str, text: str) -> None:
    (entry,) = entries(atom_entry(content))
    assert entry.content_html == text


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Tue, 10 Jun 2003 04:00:00 EST", datetime(2003, 6, 10, 9, 0, tzinfo=UTC)),
        ("Tue, 10 Jun 2003 04:00:00 MET", datetime(2003, 6, 10, 3, 0, tzinfo=UTC)),
        ("Tue, 10 Jun 2003 04:00:00 PT", datetime(2003, 6, 10, 11, 0, tzinfo=UTC)),  # summer
        ("Tue, 10 Dec 2003 04:00:00 PT", datetime(2003, 12, 10, 12, 0, tzinfo=UTC)),  # winter
        ("Tue, 10 Jun 2003 04:00:00 +05:30", datetime(2003, 6, 9, 22, 30, tzinfo=UTC)),
        ("Tue, 10 Jun 2003 04:00:00 -0800", datetime(2003, 6, 10, 12, 0, tzinfo=UTC)),
    ],
)
def test_dates_with_offsets_and_zone_names_in_feeds(written: str, expected: datetime) -> None:
    (item,) = entries(rss_item(f"<title>T</title><pubDate>{written}</pubDate>"))
    (atom,) = entries(atom_entry(f"<title>T</title><updated>{written}</updated>"))
    assert item.published == expected and atom.published == expected


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_a_byte_order_mark(codec: str) -> None:
    body = '<?xml version="1.0"?>' + rss_item("<title>Café ☕</title>")
    (entry,) = entries(body.encode(codec))
    assert entry.title == "Café ☕"


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("Ada Lovelace (ada@example.org)", "Ada Lovelace"),
        ("ada@example.org (Ada Lovelace)", "Ada Lovelace"),
        ("ada@example.org", "ada@example.org"),
        ("Ada (the first)", "Ada (the first)"),
    ],
)
def test_authors_keep_the_name(written: str, name: str) -> None:
    (entry,) = entries(rss_item(f"<title>T</title><author>{written}</author>"))
    assert entry.author == name


def test_feedburner_origlink_and_urn_ids_are_kept() -> None:
    (rss,) = entries(
        rss_item(
            "<title>T</title><link>https://feedproxy.example.org/~r/x</link>"
            '<guid isPermaLink="false">urn:uuid:1</guid>'
            "<feedburner:origLink>https://blog.example.org/real</feedburner:origLink>",
            'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"',
        )
    )
    assert rss.link == "https://blog.example.org/real"
    (atom,) = entries(atom_entry("<title>T</title><id>urn:uuid:2</id>"))
    assert atom.link is None and atom.guid == "urn:uuid:2"
    (http_id,) = entries(atom_entry("<title>T</title><id>https://blog.example.org/3</id>"))
    assert http_id.link == "https://blog.example.org/3"


def test_windows_1252_references_read_as_browsers_read_them() -> None:
    (entry,) = entries(
        rss_item("<title>don&#146;t</title><description>&#147;q&#148;</description>")
    )
    assert entry.title == "don’t" and entry.content_html == "“q”"


def test_a_documents_own_entities_are_read_but_never_a_billion_laughs() -> None:
    own = '<!DOCTYPE rss [<!ENTITY site "tag:example.org,">]>' + rss_item(
        '<title>T</title><guid isPermaLink="false">&site;2026:1</guid>'
    )
    (entry,) = entries(own)
    assert entry.guid == "tag:example.org,2026:1"
    laughs = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    document = f"<!DOCTYPE rss [{laughs}]>" + rss_item("<title>&l9;</title>")
    feed = parse_document(document.encode(), URL)
    assert feed.path.startswith("lxml after repair") and feed.entries[0].title == "&l9;"
