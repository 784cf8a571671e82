"""A model's summaries, cached per article and prompt (see schema.summaries)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select

from digest.dates import utcnow
from digest.store.db import insert_new_rows
from digest.store.schema import summaries

__all__ = ["SummaryQueries"]

_CHUNK = 400  # keys per IN (...) list


class SummaryQueries:
    engine: Engine

    def cached_summaries(self, keys: Iterable[str]) -> dict[str, str]:
        """The answers kept for these keys (key -> answer); absent keys were never answered."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                rows = conn.execute(
                    select(summaries.c.key, summaries.c.answer).where(
                        summaries.c.key.in_(wanted[start : start + _CHUNK])
                    )
                )
                found.update((key, answer) for key, answer in rows)
        return found

    def save_summaries(self, entries: Iterable[tuple[str, str, str, str]]) -> None:
        """Keep answers, each as (key, article, model, answer); `key` names the article and
        the prompt together. One already kept under the same key (a concurrent build) stays."""
        now = utcnow()
        rows = [
            {
                "key": key,
                "article": article[:2000],  # the columns' sizes: these are for people to read
                "model": model[:200],
                "answer": answer,
                "created_at": now,
            }
            for key, article, model, answer in entries
        ]
        if rows:
            with self.engine.begin() as conn:
                insert_new_rows(conn, "summaries", rows, key="key")
