"""Articles seen in sources, what each digest has sent, fetch validators and source health.

Everything here works in bulk: a digest over 200 feeds touches 4,000 articles per run, so each
method is one statement per few hundred rows (executemany, INSERT ... ON CONFLICT, tuple IN),
never a query per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, and_, insert, select, tuple_, update

from digest.dates import utcnow
from digest.models import Article
from digest.store.db import as_utc, dialect_insert, insert_new_rows
from digest.store.schema import articles, fetch_cache, sent_articles, source_cache, source_health

_CHUNK = 400  # rows per IN (...) list: well under SQLite's 32,766 parameters


class StoredArticle(NamedTuple):
    """An article as stored, with the hash of the source item it was extracted from.

    A named tuple: thousands are read per run, and tuples are the cheapest to build."""

    source: str
    key: str
    content_hash: str
    url: str | None
    title: str
    lead: str
    author: str | None
    image: str | None
    language: str | None
    words: int
    published: datetime | None
    first_seen: datetime


@dataclass(frozen=True)
class CachedSource:
    """What a source yielded last time (see schema.source_cache); `items` is opaque bytes."""

    source: str
    url: str
    fingerprint: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None
    items: bytes
    item_count: int
    fetched_at: datetime | None = None


@dataclass(frozen=True)
class SourceResult:
    """One source's outcome in one run, for its health record."""

    source: str
    error: str | None
    items: int = 0
    new_items: int = 0


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class ArticleQueries:
    engine: Engine

    # articles --------------------------------------------------------------------------------

    def remember_articles(
        self,
        items: Iterable[tuple[Article, str | None]],
        *,
        known: Mapping[tuple[str, str], StoredArticle] | None = None,
    ) -> dict[str, datetime]:
        """Store articles (with their url_key) not seen before; return each one's first-seen time.

        The first-seen time stands in for the publication date of items that have none. `known`
        (from `stored_articles`, read earlier in the same run) spares looking those up again.
        """
        now = utcnow()
        first_seen: dict[str, datetime] = {}
        rows: dict[tuple[str, str], tuple[Article, str | None]] = {}
        for article, url_key in items:
            pair = (article.source, article.key)
            if known is not None and pair in known:
                first_seen[article.key] = known[pair].first_seen
            else:
                rows.setdefault(pair, (article, url_key))
        if not rows:
            return first_seen
        known_now: set[tuple[str, str]] = set()
        with self.engine.begin() as conn:
            # Look first, then insert only what is new: a warm run writes nothing.
            for chunk in _chunks(list(rows)):
                found = conn.execute(
                    select(articles.c.source, articles.c.key, articles.c.first_seen).where(
                        tuple_(articles.c.source, articles.c.key).in_(chunk)
                    )
                )
                for source, key, seen in found:
                    known_now.add((source, key))
                    first_seen[key] = as_utc(seen) or now
            missing = [
                _article_row(article, url_key, content_hash="", first_seen=now)
                for pair, (article, url_key) in rows.items()
                if pair not in known_now
            ]
            if missing:  # a concurrent insert of the same row wins
                insert_new_rows(conn, "articles", missing, key="source, key")
                for row in missing:
                    first_seen[row["key"]] = now
        return first_seen

    def stored_articles(
        self, pairs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredArticle]:
        """The stored articles among (source, key) pairs, to reuse what is unchanged."""
        wanted = list(dict.fromkeys(pairs))
        found: dict[tuple[str, str], StoredArticle] = {}
        now = utcnow()
        columns = [
            articles.c.source, articles.c.key, articles.c.content_hash, articles.c.url,
            articles.c.title, articles.c.lead, articles.c.author, articles.c.image,
            articles.c.language, articles.c.words, articles.c.published, articles.c.first_seen,
        ]  # fmt: skip
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                rows = conn.execute(
                    select(*columns).where(tuple_(articles.c.source, articles.c.key).in_(chunk))
                )
                for row in rows:  # columns in StoredArticle's order: built positionally
                    *head, published, first_seen = row
                    found[(head[0], head[1])] = StoredArticle._make(
                        (*head, as_utc(published), as_utc(first_seen) or now)
                    )
        return found

    def save_articles(self, items: Iterable[tuple[Article, str | None, str]]) -> None:
        """Insert or update extracted articles with (url_key, content hash); first_seen is kept."""
        now = utcnow()
        rows = {
            (article.source, article.key): _article_row(article, url_key, content_hash, now)
            for article, url_key, content_hash in items
        }
        if not rows:
            return
        statement = dialect_insert(self.engine.dialect.name, articles)
        changing = ("url", "url_key", "title", "lead", "author", "image", "language", "words",
                    "published", "content_hash")  # fmt: skip
        statement = statement.on_conflict_do_update(
            index_elements=["source", "key"],
            set_={name: statement.excluded[name] for name in changing},
        )
        with self.engine.begin() as conn:
            conn.execute(statement, list(rows.values()))

    def sent_article_keys(self, digest: str, keys: Iterable[str]) -> set[str]:
        """Which of `keys` this digest has already sent (in a frozen issue)."""
        wanted = list(set(keys))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted, 500):
                found.update(
                    conn.execute(
                        select(sent_articles.c.article_key).where(
                            and_(
                                sent_articles.c.digest == digest,
                                sent_articles.c.article_key.in_(chunk),
                            )
                        )
                    ).scalars()
                )
        return found

    # conditional GET -------------------------------------------------------------------------

    def fetch_validators(self, url: str) -> tuple[str | None, str | None]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(fetch_cache.c.etag, fetch_cache.c.last_modified).where(
                    fetch_cache.c.url == url
                )
            ).first()
        return (row.etag, row.last_modified) if row else (None, None)

    def save_fetch_validators(
        self, url: str, etag: str | None, last_modified: str | None, content_hash: str | None
    ) -> None:
        values = {
            "etag": etag,
            "last_modified": last_modified,
            "content_hash": content_hash,
            "fetched_at": utcnow(),
        }
        with self.engine.begin() as conn:
            done = conn.execute(update(fetch_cache).where(fetch_cache.c.url == url).values(values))
            if not done.rowcount:
                conn.execute(insert(fetch_cache).values(url=url, **values))

    # source cache ----------------------------------------------------------------------------

    def load_source_cache(self, sources: Iterable[str]) -> dict[str, CachedSource]:
        """The cached last results of these sources (one query per few hundred sources)."""
        wanted = list(dict.fromkeys(sources))
        found: dict[str, CachedSource] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted):
                for row in conn.execute(
                    select(source_cache).where(source_cache.c.source.in_(chunk))
                ).mappings():
                    found[row["source"]] = CachedSource(
                        **{**row, "fetched_at": as_utc(row["fetched_at"])}
                    )
        return found

    def save_source_cache(self, entries: Iterable[CachedSource]) -> None:
        """Insert or replace cached source results in one statement."""
        now = utcnow()
        rows = [
            {
                "source": e.source,
                "url": e.url,
                "fingerprint": e.fingerprint,
                "etag": (e.etag or "")[:500] or None,
                "last_modified": (e.last_modified or "")[:100] or None,
                "content_hash": e.content_hash,
                "items": e.items,
                "item_count": e.item_count,
                "fetched_at": e.fetched_at or now,
            }
            for e in entries
        ]
        if not rows:
            return
        statement = dialect_insert(self.engine.dialect.name, source_cache)
        statement = statement.on_conflict_do_update(
            index_elements=["source"],
            set_={name: statement.excluded[name] for name in rows[0] if name != "source"},
        )
        with self.engine.begin() as conn:
            conn.execute(statement, rows)

    # source health ---------------------------------------------------------------------------

    def record_source_result(
        self, source: str, *, error: str | None, items: int = 0, new_items: int = 0
    ) -> None:
        self.record_source_results([SourceResult(source, error, items, new_items)])

    def record_source_results(self, results: Iterable[SourceResult]) -> None:
        """Update the health of many sources at once: one read, one upsert."""
        outcomes = {result.source: result for result in results}
        if not outcomes:
            return
        now = utcnow()
        with self.engine.begin() as conn:
            existing: dict[str, dict[str, Any]] = {}
            for chunk in _chunks(list(outcomes)):
                for found in conn.execute(
                    select(source_health).where(source_health.c.source.in_(chunk))
                ).mappings():
                    existing[found["source"]] = dict(found)
            rows: list[dict[str, Any]] = []
            for name, result in outcomes.items():
                row: dict[str, Any] = existing.get(name) or {
                    "source": name,
                    "last_success": None,
                    "last_error": None,
                    "last_error_at": None,
                    "consecutive_failures": 0,
                    "items_seen": 0,
                    "last_new_item": None,
                    "last_items": None,
                }
                row["last_attempt"] = now
                if result.error is None:
                    row["last_success"] = now
                    row["consecutive_failures"] = 0
                    row["items_seen"] = (row["items_seen"] or 0) + result.items
                    row["last_items"] = result.items
                    if result.new_items:
                        row["last_new_item"] = now
                else:
                    row["last_error"] = result.error
                    row["last_error_at"] = now
                    row["consecutive_failures"] = (row["consecutive_failures"] or 0) + 1
                rows.append(row)
            statement = dialect_insert(self.engine.dialect.name, source_health)
            statement = statement.on_conflict_do_update(
                index_elements=["source"],
                set_={
                    c.name: statement.excluded[c.name]
                    for c in source_health.c
                    if c.name != "source"
                },
            )
            conn.execute(statement, rows)

    def source_health(self, sources: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Health records by source name: all of them, or those of `sources`."""
        query = select(source_health)
        if sources is not None:
            query = query.where(source_health.c.source.in_(list(sources)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        health = {}
        for row in rows:
            record = dict(row)
            for name in ("last_success", "last_attempt", "last_error_at", "last_new_item"):
                record[name] = as_utc(record[name])
            health[row["source"]] = record
        return health


def _article_row(
    article: Article, url_key: str | None, content_hash: str, first_seen: datetime
) -> dict[str, Any]:
    return {
        "source": article.source,
        "key": article.key,
        "url": article.url,
        "url_key": url_key,
        "title": article.title,
        "lead": article.lead or "",
        "author": article.author,
        "image": article.image,
        "language": article.language,
        "words": article.words,
        "published": article.published,
        "first_seen": first_seen,
        "content_hash": content_hash,
    }
