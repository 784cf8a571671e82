from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.compose import select_articles
from digest.identity import url_key
from digest.models import Article

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


def _article(key: str, hours_ago: float, url: str | None = None, source: str = "s") -> Article:
    return Article(
        source=source,
        key=key,
        url=url or f"https://example.org/{key}",
        title=key.title(),
        lead="",
        published=NOW - timedelta(hours=hours_ago),
    )


def test_newest_first_within_window_and_limit() -> None:
    articles = [_article("a", 1), _article("b", 30), _article("c", 5), _article("old", 24 * 8)]
    selection = select_articles(
        articles, now=NOW, window=timedelta(days=7), max_articles=2, already_sent=set()
    )
    assert [a.key for a in selection.chosen] == ["a", "c"]
    reasons = {a.key: reason for a, reason in selection.left_out}
    assert reasons == {
        "b": "over the limit of 2 articles",
        "old": "older than the digest's window",
    }


def test_sent_before_and_same_story_from_two_feeds_are_left_out() -> None:
    articles = [
        _article("x", 1, "https://example.org/story?utm_source=feed"),
        _article("y", 2, "https://www.example.org/story/", source="other"),
        _article("z", 3),
    ]
    selection = select_articles(
        articles,
        now=NOW,
        window=timedelta(days=7),
        max_articles=10,
        already_sent={url_key("https://example.org/z")},
    )
    assert [a.key for a in selection.chosen] == ["x"]
    reasons = {a.key: reason for a, reason in selection.left_out}
    assert reasons == {"y": "same story as 's'", "z": "sent in an earlier issue"}
    assert selection.keys() == [url_key("https://example.org/story")]


def test_future_dates_are_clamped() -> None:
    future = _article("f", -48)
    selection = select_articles(
        [future], now=NOW, window=timedelta(days=1), max_articles=5, already_sent=set()
    )
    assert selection.chosen == [future] and future.published == NOW
