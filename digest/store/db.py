"""Engines and migrations (SQLite under the data directory by default, PostgreSQL by URL), and
the writes that go straight through the driver on bulk paths."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, ExceptionContext, create_engine, event, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from digest.errors import StoreError, StoreUnavailableError, UsageError
from digest.files import create_private_file

_MIGRATIONS = Path(__file__).parent / "migrations"


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every datetime Digest stores is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def dialect_insert(dialect: str, table: Any) -> Any:
    """An INSERT with the dialect's ON CONFLICT clauses; only that dialect's module is loaded
    (PostgreSQL's costs 20 ms to import, which a SQLite run need not pay)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # lazy: as the docstring says

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite  # lazy: as the docstring says

    return sqlite.insert(table)


def driver_value(value: Any, sqlite: bool) -> Any:
    """A value as the driver takes it, for statements that skip SQLAlchemy's processing.

    SQLite keeps datetimes as text in SQLAlchemy's own format (every stored time is UTC);
    PostgreSQL's driver takes aware datetimes as they are.
    """
    if sqlite and isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def insert_new_rows(conn: Any, table: str, rows: Sequence[Mapping[str, Any]], key: str) -> None:
    """INSERT ... ON CONFLICT (key) DO NOTHING of many rows, straight through the driver.

    For bulk writes on a run's path (thousands of rows): SQLAlchemy's per-row parameter
    processing costs several times the write itself. Every row must name the same columns,
    and every column a Python-side default would fill.
    """
    if not rows:
        return
    sqlite = conn.dialect.name == "sqlite"
    names = list(rows[0])
    mark = "?" if sqlite else "%s"
    statement = (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))}) "
        f"ON CONFLICT ({key}) DO NOTHING"
    )
    conn.exec_driver_sql(
        statement, [tuple(driver_value(row[name], sqlite) for name in names) for row in rows]
    )


class BulkWriter:
    """Bulk statements over the raw DB-API cursor, one flavour per dialect.

    SQLAlchemy's per-row parameter processing costs more than the database itself at import
    sizes, so the hot path speaks SQL directly: `executemany` on SQLite (a C loop over one
    prepared statement), array parameters with `unnest` on PostgreSQL (one statement a batch).
    Values are written exactly as SQLAlchemy writes them (see `stamp` and `json_value`).
    """

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.conn = conn

    def cursor(self) -> Any:
        return self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def stamp(self, now: datetime) -> Any:
        return driver_value(now, sqlite=not self.pg)

    @staticmethod
    def json_value(value: Any) -> str:
        """JSON text (orjson: several times faster than json, same data); PostgreSQL casts it."""
        return orjson.dumps(value).decode()

    @staticmethod
    def json_read(value: Any) -> dict[str, Any]:
        if isinstance(value, str | bytes):
            value = orjson.loads(value)
        return dict(value or {})

    def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
        *,
        types: Sequence[str],
        conflict: str = "",
    ) -> None:
        """INSERT many rows; `types` are the PostgreSQL array element types."""
        if not rows:
            return
        cur = self.cursor()
        names = ", ".join(columns)
        if self.pg:
            arrays = [list(col) for col in zip(*rows, strict=True)]
            selects = ", ".join(
                f"CAST(c{i} AS json)" if kind == "json" else f"c{i}" for i, kind in enumerate(types)
            )
            unnest = ", ".join(
                f"CAST(%b AS {'text' if kind == 'json' else kind}[])" for kind in types
            )
            aliases = ", ".join(f"c{i}" for i in range(len(types)))
            cur.execute(
                f"INSERT INTO {table} ({names}) SELECT {selects} "
                f"FROM unnest({unnest}) AS t({aliases}) {conflict}",
                arrays,
            )
        else:
            marks = ", ".join("?" * len(columns))
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", rows)
        cur.close()

    def update_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
        *,
        types: Sequence[str],
        unless_changed: str | None = None,
    ) -> None:
        """UPDATE table SET columns... WHERE id = the row's last value.

        With `unless_changed`, each row carries that column's value as read, before the id, and
        a row whose value changed meanwhile (someone unsubscribed during the import) is left be.
        """
        if not rows:
            return
        cur = self.cursor()
        keys = [unless_changed] if unless_changed else []
        if self.pg:
            arrays = [list(col) for col in zip(*rows, strict=True)]
            sets = ", ".join(
                f"{col} = CAST(t.c{i} AS json)" if kind == "json" else f"{col} = t.c{i}"
                for i, (col, kind) in enumerate(zip(columns, types, strict=False))
            )
            unnest = ", ".join(
                f"CAST(%b AS {'text' if kind == 'json' else kind}[])" for kind in types
            )
            aliases = ", ".join(f"c{i}" for i in range(len(types)))
            guard = "".join(
                f" AND {table}.{key} = t.c{len(columns) + n}" for n, key in enumerate(keys)
            )
            cur.execute(
                f"UPDATE {table} SET {sets} FROM unnest({unnest}) AS t({aliases}) "
                f"WHERE {table}.id = t.c{len(types) - 1}{guard}",
                arrays,
            )
        else:
            sets = ", ".join(f"{col} = ?" for col in columns)
            guard = "".join(f" AND {key} = ?" for key in keys)
            # the id is last in each row; SQLite takes the parameters in statement order
            reordered = [(*row[: len(columns)], row[-1], *row[len(columns) : -1]) for row in rows]
            cur.executemany(f"UPDATE {table} SET {sets} WHERE id = ?{guard}", reordered)
        cur.close()


def default_url(home: Path) -> str:
    return f"sqlite:///{(home / 'digest.db').resolve()}"


def create_private_database(url: str) -> None:
    """Create a SQLite database file as 0600 before SQLite would (0644 less the umask): it
    holds every subscriber's address. SQLite gives its -wal and -shm files the same mode. An
    existing file, an in-memory or URI database, or another engine is left alone."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # make_engine says what is wrong with it
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
        or "uri" in parsed.query
    ):
        return
    path = Path(database)
    if path.exists() or not path.parent.is_dir():
        return  # SQLite opens it, or says the folder is missing
    with contextlib.suppress(FileExistsError):  # another process made it first
        os.close(create_private_file(path, exclusive=True))


# Seconds a PostgreSQL connection attempt may take before the store counts as unreachable. The
# store is called from the service's event loop, so an unanswered connect must not hang it.
CONNECT_TIMEOUT = 10


def make_engine(url: str) -> Engine:
    """An engine set up for how Digest uses the database.

    SQLite: WAL so readers never wait for the writer, a generous busy timeout, foreign keys on,
    and every transaction opened with BEGIN IMMEDIATE so two processes never deadlock upgrading
    a read lock: SQLite mode has one writer at a time, by design.

    A database that cannot be reached (refused, dropped, timed out) raises
    `StoreUnavailableError`, whatever the driver: callers retry that, not a driver's exception.
    """
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 60})
            _sqlite_pragmas(engine)
        else:
            connect_args = {} if "connect_timeout" in url else {"connect_timeout": CONNECT_TIMEOUT}
            engine = create_engine(
                url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args
            )
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreError(f"bad store URL {url!r}: {exc}") from None
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in ("psycopg", "psycopg2"):
            raise
        raise UsageError(
            "store.url names PostgreSQL, which needs the postgres extra: "
            "pip install 'digest[postgres]'"
        ) from None
    event.listen(engine, "handle_error", _unreachable)
    return engine


def _unreachable(context: ExceptionContext) -> None:
    """Turn a failure to connect, or a connection lost mid-statement, into StoreUnavailableError.

    The pool's pre-ping is left alone: a dead pooled connection is replaced by a fresh one, and
    only when that fails too does the caller hear of it (as a connect failure).
    """
    if context.is_pre_ping:
        return
    if context.connection is None or context.is_disconnect:
        original = context.original_exception
        first_line = (str(original).strip().splitlines() or [type(original).__name__])[0]
        raise StoreUnavailableError(first_line)


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below decide
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# The newest migration. Every start compares the store's revision with it and loads Alembic only
# when they differ (Alembic and its templates cost ~0.2 s to import on every command otherwise).
# tests/store/test_store.py checks that this names the head of the migration chain.
HEAD_REVISION = "0010_confirmation_sends"


def is_current(engine: Engine) -> bool:
    """True when the store is already at HEAD_REVISION (no Alembic needed to know)."""
    try:
        with engine.connect() as connection:
            found = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:  # a new database: no alembic_version table yet
        return False
    return [row[0] for row in found] == [HEAD_REVISION]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to `revision` (idempotent)."""
    if revision == "head" and is_current(engine):
        return
    # lazy: Alembic takes 60 ms to import, and a store already at its head never needs it
    from alembic import command
    from alembic.config import Config as AlembicConfig

    alembic_config = AlembicConfig()
    alembic_config.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as connection:
            alembic_config.attributes["connection"] = connection
            command.upgrade(alembic_config, revision)
    except OperationalError as exc:
        raise StoreError(f"cannot migrate the store at {engine.url!r}: {exc.orig}") from None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # lazy: as in `upgrade`

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
