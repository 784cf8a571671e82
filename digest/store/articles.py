"""Articles seen in sources, what each digest has sent, fetch validators and source health."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, insert, select, update

from digest.models import Article
from digest.store.db import as_utc, utcnow
from digest.store.schema import articles, fetch_cache, sent_articles, source_health


class ArticleQueries:
    engine: Engine

    def remember_articles(self, items: Iterable[tuple[Article, str | None]]) -> dict[str, datetime]:
        """Store articles (with their url_key) not seen before; return each one's first-seen time.

        The first-seen time stands in for the publication date of items that have none.
        """
        now = utcnow()
        first_seen: dict[str, datetime] = {}
        with self.engine.begin() as conn:
            for article, url_key in items:
                row = conn.execute(
                    select(articles.c.id, articles.c.first_seen).where(
                        and_(articles.c.source == article.source, articles.c.key == article.key)
                    )
                ).first()
                if row is None:
                    conn.execute(
                        insert(articles).values(
                            source=article.source,
                            key=article.key,
                            url=article.url,
                            url_key=url_key,
                            title=article.title,
                            lead=article.lead,
                            author=article.author,
                            image=article.image,
                            language=article.language,
                            words=article.words,
                            published=article.published,
                            first_seen=now,
                        )
                    )
                    first_seen[article.key] = now
                else:
                    first_seen[article.key] = as_utc(row.first_seen) or now
        return first_seen

    def sent_article_keys(self, digest: str, keys: Iterable[str]) -> set[str]:
        """Which of `keys` this digest has already sent (in a frozen issue)."""
        wanted = list(set(keys))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
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

    # conditional GET -----------------------------------------------------------------------

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

    # source health ---------------------------------------------------------------------------

    def record_source_result(
        self, source: str, *, error: str | None, items: int = 0, new_items: int = 0
    ) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(source_health).where(source_health.c.source == source)
            ).first()
            if row is None:
                conn.execute(insert(source_health).values(source=source, consecutive_failures=0))
                failures, seen = 0, 0
            else:
                failures, seen = row.consecutive_failures, row.items_seen
            values: dict[str, Any] = {"last_attempt": now}
            if error is None:
                values.update(last_success=now, consecutive_failures=0, items_seen=seen + items)
                if new_items:
                    values["last_new_item"] = now
            else:
                values.update(
                    last_error=error, last_error_at=now, consecutive_failures=failures + 1
                )
            conn.execute(
                update(source_health).where(source_health.c.source == source).values(values)
            )

    def source_health(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(source_health)).mappings().all()
        return {row["source"]: dict(row) for row in rows}
