"""The store: every result of every stage, so a crash at any point resumes without harm.

`Store` is the one seam between Digest and its database (SQLite by default, PostgreSQL by URL).
Its methods are grouped by domain in the mixins of this package; all of them use SQLAlchemy Core.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from digest.store.articles import ArticleQueries
from digest.store.db import default_url, make_engine, upgrade
from digest.store.issues import IssueQueries
from digest.store.ledger import DeliveryRow, LedgerQueries
from digest.store.subscribers import SubscriberQueries

__all__ = ["DeliveryRow", "Store", "open_store"]


class Store(ArticleQueries, IssueQueries, LedgerQueries, SubscriberQueries):
    """Queries over one database. Cheap to share: it holds only an engine (a pool)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str | None, home: Path, *, migrate: bool = True) -> Store:
    """Open (and by default migrate) the store named by `url`, else SQLite under `home`."""
    if url is None:
        home.mkdir(parents=True, exist_ok=True)
        url = default_url(home)
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    return Store(engine)
