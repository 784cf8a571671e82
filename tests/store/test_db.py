"""Migrations, the driver-level bulk writes, and an unreachable database, on SQLite and on the
real PostgreSQL server."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import select

from digest.dates import utcnow
from digest.errors import StoreError, StoreUnavailableError
from digest.store import Store, db, open_store, tables  # db: its internals are tested here
from digest.store.db import BulkWriter
from tests.service.helpers import TcpProxy


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


def test_a_database_nobody_answers_is_a_store_unavailable_error(
    postgres_url: str, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base, database = postgres_url.rsplit("/", 1)
    refused = f"{base.rsplit('@', 1)[0]}@127.0.0.1:{port}/{database}"
    with pytest.raises(StoreUnavailableError, match=r"the store is unreachable: .*refused") as err:
        open_store(refused, tmp_path)
    assert isinstance(err.value, StoreError) and "refused" in err.value.detail.lower()


def test_a_connection_lost_mid_use_is_a_store_unavailable_error_until_it_comes_back(
    postgres_url: str, tmp_path: Path
) -> None:
    target = urlsplit(postgres_url.replace("+psycopg", ""))
    proxy = TcpProxy((target.hostname or "127.0.0.1", target.port or 5432))
    store = open_store(proxy.url(postgres_url), tmp_path)
    try:
        list_id = store.ensure_list("readers", "Readers")
        proxy.stop()  # the pooled connection dies and no new one can be made
        with pytest.raises(StoreUnavailableError):
            store.list_id("readers")
        with pytest.raises(StoreUnavailableError), store.engine.begin() as conn:
            conn.execute(select(tables.issues.c.id))
        proxy.start()
        assert store.list_id("readers") == list_id
    finally:
        store.close()
        proxy.stop()
