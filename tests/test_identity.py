from __future__ import annotations

from datetime import UTC, datetime

from digest.identity import dedupe_key, item_key, url_key


def test_url_key_drops_tracking_fragments_and_noise() -> None:
    assert url_key("https://WWW.Example.org/a/b/?utm_source=x&id=3&fbclid=y#top") == (
        "example.org/a/b?id=3"
    )
    assert url_key("http://example.org/a/b?id=3") == "example.org/a/b?id=3"
    assert url_key(None) is None


def test_item_key_prefers_guid_then_link_then_hash() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert item_key(" guid-1 ", "https://e.org/x", "T", when) == "guid-1"
    assert item_key(None, "https://e.org/x?utm_medium=rss", "T", when) == "e.org/x"
    hashed = item_key(None, None, "Title", when)
    assert hashed.startswith("sha256:") and hashed == item_key("", None, "Title", when)
    assert hashed != item_key(None, None, "Title", None)


def test_dedupe_key_falls_back_to_source_and_key() -> None:
    assert dedupe_key("folder", "file:a.md", None) == "folder:file:a.md"
    assert dedupe_key("feed", "g", "https://e.org/x") == "e.org/x"


def test_fast_and_general_url_keys_agree() -> None:
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    def general(url: str) -> str:
        parts = urlsplit(url.strip())
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not k.lower().startswith("utm_") and k.lower() not in {"fbclid", "ref"}
        ]
        host = parts.netloc.lower().removeprefix("www.")
        path = parts.path.rstrip("/") or "/"
        return urlunsplit(("", host, path, urlencode(sorted(query)), "")).removeprefix("//")

    for url in [
        "https://WWW.Example.org/a/b/?utm_source=x&id=3&fbclid=y#top",
        "http://127.0.0.1:8080/feed-1/story-0?utm_medium=feed",
        "https://e.org", "https://e.org?b=2&a=1", "https://e.org/x?a", "https://e.org/x?a=&b",
        "https://e.org/x?a=1&a=0", "https://e.org/p%20q/?x=1", "https://e.org/x?next=/a/b",
        "https://e.org/x?a=b=c", "https://e.org/x?q=a+b", "https://e.org/x;p?q=1",
        "https://e.org/x?ref=abc&z=1", "HTTPS://E.ORG/X", "https://e.org/é?x=ü",
    ]:  # fmt: skip
        assert url_key(url) == general(url), url
