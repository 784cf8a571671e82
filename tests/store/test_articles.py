"""Article, source-cache and health queries on SQLite and PostgreSQL, in bulk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from digest.models import Article
from digest.store import CachedSource, SourceResult, Store


@contextmanager
def counted(store: Store) -> Iterator[list[str]]:
    """The SQL statements run inside the block (executemany counts once)."""
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", before)


def article(n: int, source: str = "feed", lead: str = "") -> Article:
    return Article(
        source=source,
        key=f"k{n}",
        url=f"https://e.org/{n}",
        title=f"Title {n}",
        lead=lead,
        published=datetime(2026, 11, 20, tzinfo=UTC),
    )


def test_remembering_4000_articles_takes_a_few_statements(store: Store) -> None:
    rows = [(article(n, source=f"s{n % 200}"), f"e.org/{n}") for n in range(4000)]
    with counted(store) as statements:
        first = store.remember_articles(rows)
    assert len(first) == 4000
    assert len(statements) <= 20, len(statements)
    again = store.remember_articles([*rows[:10], (article(9999), None)])
    assert all(again[f"k{n}"] == first[f"k{n}"] for n in range(10))
    assert set(again) == {f"k{n}" for n in range(10)} | {"k9999"}


def test_saved_articles_are_found_with_their_hash_and_keep_first_seen(store: Store) -> None:
    store.remember_articles([(article(1), "e.org/1")])
    seen = store.stored_articles([("feed", "k1")])[("feed", "k1")]
    assert seen.content_hash == "" and seen.lead == ""
    store.save_articles([(article(1, lead="The lead."), "e.org/1", "h1"),
                         (article(2, lead="Other."), "e.org/2", "h2")])  # fmt: skip
    found = store.stored_articles([("feed", "k1"), ("feed", "k2"), ("feed", "nope")])
    assert set(found) == {("feed", "k1"), ("feed", "k2")}
    assert found[("feed", "k1")].lead == "The lead." and found[("feed", "k1")].content_hash == "h1"
    assert found[("feed", "k1")].first_seen == seen.first_seen
    assert found[("feed", "k1")].published == datetime(2026, 11, 20, tzinfo=UTC)


def test_source_cache_round_trip_and_replace(store: Store) -> None:
    entry = CachedSource(
        source="feed",
        url="https://e.org/feed",
        fingerprint="f1",
        etag='"abc"',
        last_modified="Tue, 24 Nov 2026 10:00:00 GMT",
        content_hash="c1",
        items=b"\x00\x01binary",
        item_count=3,
    )
    store.save_source_cache([entry])
    store.save_source_cache([CachedSource(**{**entry.__dict__, "etag": '"def"', "items": b"x"})])
    loaded = store.load_source_cache(["feed", "other"])
    assert list(loaded) == ["feed"]
    assert loaded["feed"].etag == '"def"' and loaded["feed"].items == b"x"
    assert loaded["feed"].fetched_at is not None and loaded["feed"].fetched_at.tzinfo is not None


def test_health_of_many_sources_in_one_go(store: Store) -> None:
    with counted(store) as statements:
        store.record_source_results(
            [SourceResult(f"s{n}", None, items=20, new_items=20) for n in range(300)]
            + [SourceResult("bad", "HTTP 500")]
        )
    assert len(statements) <= 6
    store.record_source_results([SourceResult("bad", "timed out"), SourceResult("s1", None, 20)])
    health = store.source_health()
    assert health["bad"]["consecutive_failures"] == 2 and health["bad"]["last_error"] == "timed out"
    assert health["s1"]["items_seen"] == 40 and health["s1"]["last_new_item"] is not None
    assert health["s1"]["last_items"] == 20  # the last fetch's, not the running total
    assert health["bad"]["last_items"] is None  # never fetched well
    assert health["s1"]["last_new_item"] < health["s1"]["last_success"]
    store.record_source_results([SourceResult("bad", None, items=1, new_items=1)])
    assert store.source_health(["bad"])["bad"]["consecutive_failures"] == 0
    assert list(store.source_health(["s2", "missing"])) == ["s2"]


def test_source_health_counts_failures(store: Store) -> None:
    store.record_source_result("feed", error="HTTP 500", items=0)
    store.record_source_result("feed", error="timed out", items=0)
    health = store.source_health()["feed"]
    assert health["consecutive_failures"] == 2 and health["last_error"] == "timed out"
    store.record_source_result("feed", error=None, items=20, new_items=3)
    health = store.source_health()["feed"]
    assert health["consecutive_failures"] == 0 and health["items_seen"] == 20
    store.record_source_result("feed", error=None, items=7)
    store.record_source_result("feed", error="HTTP 503", items=0)
    health = store.source_health()["feed"]
    assert health["items_seen"] == 27 and health["last_items"] == 7  # a failure keeps it
    assert health["last_new_item"] is not None
