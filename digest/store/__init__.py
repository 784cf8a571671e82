"""The store: every result of every stage, so a crash at any point resumes without harm.

`Store` is the one seam between Digest and its database (SQLite by default, PostgreSQL by URL):
callers import it, `open_store` and the row types from here, never from the modules below.
Its methods are grouped by domain in mixins, all over SQLAlchemy Core:

    articles     articles seen, what each digest sent, fetch validators, source health
    issues       the claim per (digest, period), drafts, freezing with the delivery plan
    ledger       deliveries leased in batches, sent, recorded (exactly once)
    lists        lists, subscribers, memberships: joining and leaving
    feedback     suppressions, provider events, webhook receipts
    audit        what staff did to subscribers and lists, with their reason
    summaries    a model's summaries, cached per article and prompt
    bulk_import  the CSV import engine (set-based batches; two connections on PostgreSQL)
    db, schema   engines, migrations, driver-level writes; the tables
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

from digest.files import private_folder
from digest.store import schema as tables  # for tests and benches that set up rows by hand
from digest.store.articles import ArticleQueries, CachedSource, SourceResult, StoredArticle
from digest.store.audit import AuditQueries, AuditRow
from digest.store.bulk_import import (
    ImportOutcome,
    ImportQueries,
    ImportRow,
    ImportSession,
    SplitImport,
)
from digest.store.consent import ConsentQueries, SubscribeOutcome
from digest.store.db import (
    as_utc,
    create_private_database,
    current_revision,
    default_url,
    make_engine,
    upgrade,
)
from digest.store.feedback import EventRow, FeedbackQueries, SuppressionRow
from digest.store.issues import IssueQueries, IssueRow
from digest.store.ledger import DeliveryRow, LedgerQueries, SubscriberDelivery
from digest.store.lists import ListQueries, ListRow, MembershipRow, SubscriberRow
from digest.store.summaries import SummaryQueries
from digest.store.users import UserQueries, UserRow

__all__ = [
    "AuditRow",
    "CachedSource",
    "DeliveryRow",
    "EventRow",
    "ImportOutcome",
    "ImportRow",
    "ImportSession",
    "IssueRow",
    "ListRow",
    "MembershipRow",
    "SourceResult",
    "SplitImport",
    "Store",
    "StoredArticle",
    "SubscribeOutcome",
    "SubscriberDelivery",
    "SubscriberRow",
    "SuppressionRow",
    "UserRow",
    "as_utc",
    "open_store",
    "tables",
]


class Store(
    ArticleQueries,
    AuditQueries,
    ConsentQueries,
    IssueQueries,
    LedgerQueries,
    ListQueries,
    FeedbackQueries,
    ImportQueries,
    UserQueries,
    SummaryQueries,
):
    """Queries over one database. Cheap to share: it holds only an engine (a pool)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def revision(self) -> str | None:
        """The migration the database is at."""
        return current_revision(self.engine)

    def ping(self) -> None:
        """Raise unless the database answers a query (for /healthz)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str | None, home: Path, *, migrate: bool = True) -> Store:
    """Open (and by default migrate) the store named by `url`, else SQLite under `home`."""
    if url is None:
        private_folder(home)
        url = default_url(home)
    create_private_database(url)
    engine = make_engine(url)
    if migrate:
        upgrade(engine)
    return Store(engine)
