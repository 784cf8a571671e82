"""Migrations and the driver-level bulk writes, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import select

from digest.dates import utcnow
from digest.store import Store, db, tables  # db: its internals are what is tested here
from digest.store.db import BulkWriter


def _heads() -> list[str]:
    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    return list(ScriptDirectory.from_config(config).get_heads())


def test_migrations_form_one_chain_and_are_applied(store: Store) -> None:
    heads = _heads()
    assert len(heads) == 1, f"migrations branch: {heads}"
    assert store.revision() == heads[0]
    assert heads[0] == db.HEAD_REVISION, "update HEAD_REVISION with each new migration"
    assert db.is_current(store.engine)


def test_an_import_never_overrides_a_status_changed_meanwhile(store: Store) -> None:
    """The import read `pending`; the reader unsubscribed before its update ran."""
    list_id = store.ensure_list("readers")
    _, subscriber_id = store.request_subscription(list_id, "a@example.org", double_opt_in=True)
    assert subscriber_id is not None
    store.unsubscribe(list_id, subscriber_id, source="web", reason="one-click")
    with store.engine.begin() as conn:
        membership_id = conn.execute(select(tables.memberships.c.id)).scalar_one()
        bulk = BulkWriter(conn)
        row = ("active", "import", bulk.stamp(utcnow()), "pending", membership_id)
        bulk.update_rows(
            "memberships",
            ("status", "status_reason", "updated_at"),
            [row],
            types=("text", "text", "timestamptz", "text", "bigint"),
            unless_changed="status",
        )
    assert store.membership_status(list_id, subscriber_id) == "unsubscribed"
    with store.engine.begin() as conn:  # with the status it read still current, it applies
        bulk = BulkWriter(conn)
        row = ("active", "import", bulk.stamp(utcnow()), "unsubscribed", membership_id)
        bulk.update_rows(
            "memberships",
            ("status", "status_reason", "updated_at"),
            [row],
            types=("text", "text", "timestamptz", "text", "bigint"),
            unless_changed="status",
        )
    assert store.membership_status(list_id, subscriber_id) == "active"
