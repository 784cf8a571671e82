from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.identity import dedupe_key, dedupe_keys, item_key, url_key, url_key_v1


@pytest.mark.parametrize(
    ("links", "key"),
    [
        # scheme, www., trailing slash, fragment
        (
            ["https://WWW.Example.org/a/b/?id=3#top", "http://example.org/a/b?id=3"],
            "u2:example.org/a/b?id=3",
        ),
        # default ports
        (["https://e.org:443/x", "http://e.org:80/x", "https://e.org/x"], "u2:e.org/x"),
        # percent-encoding of unreserved characters, and its case
        (
            ["https://e.org/%7Euser/caf%c3%a9", "https://e.org/~user/caf%C3%A9",
             "https://e.org/~user/café"],
            "u2:e.org/~user/caf%C3%A9",
        ),
        # dot segments
        (["https://e.org/a/./b/../c", "https://e.org/a/c"], "u2:e.org/a/c"),
        # IDNA hosts
        (["https://bücher.example/x", "https://xn--bcher-kva.example/x"],
         "u2:xn--bcher-kva.example/x"),
        # tracking parameters
        (
            ["https://e.org/s?id=1&utm_source=rss&utm_medium=feed", "https://e.org/s?_hsenc=p2&id=1",
             "https://e.org/s?mkt_tok=abc&id=1&fbclid=z", "https://e.org/s?gclid=1&id=1&mc_eid=9",
             "https://e.org/s?id=1&mc_cid=2&_hsmi=3&msclkid=4"],
            "u2:e.org/s?id=1",
        ),
        # the other parameters sorted, their values kept
        (["https://e.org/s?b=2&a=1", "https://e.org/s?a=1&b=2"], "u2:e.org/s?a=1&b=2"),
        # a non-default port stays
        (["http://127.0.0.1:8080/feed-1/story-0?utm_medium=feed"],
         "u2:127.0.0.1:8080/feed-1/story-0"),
    ],
)  # fmt: skip
def test_links_of_one_story_share_one_key(links: list[str], key: str) -> None:
    assert {url_key(link) for link in links} == {key}


def test_different_stories_keep_different_keys() -> None:
    keys = [
        url_key(link)
        for link in (
            "https://e.org/s?id=1", "https://e.org/s?id=2", "https://e.org/S?id=1",
            "https://e.org/s?ID=1", "https://e.org:8443/s?id=1", "https://f.org/s?id=1",
            "https://e.org/s?q=a+b", "https://e.org/s?q=a%2Bb",
        )
    ]  # fmt: skip
    assert len(set(keys)) == len(keys)
    assert url_key(None) is None and url_key("  ") is None


def test_fast_and_general_url_keys_agree() -> None:
    """The common shape takes a fast path; url-normalize must agree with it wherever both go."""
    from digest.identity import _general_key

    for url in [
        "https://www.example.org/a/b/?utm_source=x&id=3&fbclid=y#top",
        "http://127.0.0.1:8080/feed-1/story-0?utm_medium=feed", "https://e.org:443/x",
        "https://e.org", "https://e.org?b=2&a=1", "https://e.org/x?a", "https://e.org/x?a=&b",
        "https://e.org/x?a=1&a=0", "https://e.org/x?next=/a/b", "https://e.org/x;p?q=1",
        "https://e.org/x?ref=abc&z=1", "https://e.org/a.b/c.html", "https://e.org/x?a=b=c",
    ]:  # fmt: skip
        assert url_key(url) == _general_key(url), url


def test_item_keys_stay_as_version_1_wrote_them() -> None:
    """Stored articles are keyed by item keys: an upgrade must not make them all new."""
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert item_key(" guid-1 ", "https://e.org/x", "T", when) == "guid-1"
    assert item_key(None, "https://e.org/x?utm_medium=rss", "T", when) == "e.org/x"
    hashed = item_key(None, None, "Title", when)
    assert hashed.startswith("sha256:") and hashed == item_key("", None, "Title", when)
    assert hashed != item_key(None, None, "Title", None)


def test_dedupe_keys_name_the_story_now_and_as_version_1_stored_it() -> None:
    assert dedupe_key("folder", "file:a.md", None) == "folder:file:a.md"
    assert dedupe_keys("folder", "file:a.md", None) == ("folder:file:a.md",)
    link = "https://www.e.org/%7Ex/?utm_source=a&id=1"
    assert dedupe_keys("feed", "g", link) == ("u2:e.org/~x?id=1", "e.org/%7Ex?id=1")
    assert url_key_v1(link) == "e.org/%7Ex?id=1"
