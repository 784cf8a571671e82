from __future__ import annotations

from datetime import UTC, datetime

from digest.sources.identity import dedupe_key, item_key, url_key


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
