"""Lists, subscribers, memberships, the global suppression list, and feedback from outside.

A membership's status says whether one subscriber gets one list: `active`, `pending` (awaiting
double opt-in), `unsubscribed`, `bounced` or `complained`. The suppression list is global: an
address on it gets nothing, whatever its memberships say (the ledger checks it at claim time).
Nothing here ever moves someone who left back to `active` unless the caller says so explicitly.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)

from digest.store.db import as_utc, dialect_insert, driver_value, utcnow
from digest.store.schema import (
    deliveries,
    events,
    issues,
    lists,
    memberships,
    subscribers,
    suppressions,
    webhook_receipts,
)

ACTIVE = "active"
PENDING = "pending"
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "bounced"
COMPLAINED = "complained"
INACTIVE_STATUSES = (UNSUBSCRIBED, BOUNCED, COMPLAINED)
STATUSES = (ACTIVE, PENDING, *INACTIVE_STATUSES)

IMPORT_CACHE_KB = 65_536  # SQLite page cache while importing (peak 175 MB at 1M rows, bounded)
IMPORT_TEMP_CACHE_KB = 32_768  # and for the temporary tables (the addresses seen so far)
IMPORT_CONNECTIONS = 2  # PostgreSQL: connections an import writes over (see `SplitImport`)
RECEIPT_TTL = timedelta(days=7)  # longer than any webhook timestamp tolerance


@dataclass(frozen=True)
class SubscriberRow:
    id: int
    email: str
    name: str
    attributes: dict[str, Any]
    status: str | None = None  # on the list asked about
    created_at: datetime | None = None
    origin: str | None = None  # on the list asked about


@dataclass(frozen=True)
class ListRow:
    id: int
    name: str
    title: str
    created_at: datetime
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MembershipRow:
    list_id: int
    list_name: str
    status: str
    origin: str
    created_at: datetime
    updated_at: datetime
    status_reason: str | None
    confirmed_at: datetime | None


@dataclass(frozen=True)
class SuppressionRow:
    email: str
    reason: str
    detail: str
    created_at: datetime


@dataclass(frozen=True)
class EventRow:
    id: int
    provider: str
    kind: str
    email: str | None
    payload: dict[str, Any]
    received_at: datetime


class ImportRow(NamedTuple):
    """One valid CSV row, normalized, ready to be applied (a tuple: a million are made)."""

    line: int
    email: str
    name: str
    attributes: dict[str, str]
    status: str = ACTIVE  # the file may say someone left (unsubscribed, bounced, complained)


# What happened to one row of an import: the outcome and, for a skipped row, why.
ImportOutcome = Literal["imported", "updated", "unchanged", "duplicate", "suppressed", "left"]

SubscribeOutcome = Literal["confirm", "activated", "nothing"]


def _on_conflict_do_nothing(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> int:
    """Insert the rows, silently keeping what another writer inserted first; rows inserted."""
    if not rows:
        return 0
    # rowcount is unreliable here (psycopg reports -1), so count the rows RETURNING gives back
    statement = (
        dialect_insert(conn.dialect.name, table)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    return len(conn.execute(statement, rows).all())


class _Bulk:
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

    def select_in(self, sql: str, values: list[Any], *extra: Any) -> list[Any]:
        """Run `sql` whose `{in}` marks `column IN (values)`; extra parameters come first."""
        if not values:
            return []
        cur = self.cursor()
        if self.pg:
            # %b: binary parameters; psycopg escapes text-format arrays element by element
            cur.execute(sql.format(p="%s", in_="= ANY(%b)"), (*extra, values))
        else:
            marks = ",".join("?" * len(values))
            cur.execute(sql.format(p="?", in_=f"IN ({marks})"), (*extra, *values))
        rows = cur.fetchall()
        cur.close()
        return list(rows)

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


class ImportSession:
    """One import on one connection: each batch is applied in one transaction, set-based
    (PostgreSQL runs two side by side, each with part of every batch: see `SplitImport`).

    A batch's first occurrences of each address are staged into an unindexed temporary table
    in one round trip (SQLite: one JSON parameter read by `json_each`, so the statement runs in
    C without taking the GIL per row; PostgreSQL: `COPY`). Staging marks the rows whose address
    is already known (seen earlier in the file, suppressed, or a stored subscriber); only those
    come back to Python to be decided one by one. The new ones are written by two set-based
    statements ordered by the indexed key. Duplicates across the whole file are found through a
    temporary table of the addresses seen so far (with their line), so memory stays flat however
    long the file is; within a batch they are found in Python. In a dry run the temporary tables
    are the only things written.
    """

    SEEN = "digest_import_seen"
    STAGE = "digest_import_stage"
    RAW = "digest_import_raw"  # PostgreSQL only: where COPY writes
    # Every statement of a batch probes indexes by key for a few thousand staged rows. Costed
    # for disk, the planner hashes the whole subscribers table per batch instead (quadratic
    # over an import), and JIT-compiles each statement (100 ms apiece): both off while importing.
    PG_SETTINGS = (("jit", "off"), ("enable_hashjoin", "off"), ("enable_mergejoin", "off"))

    def __init__(
        self, engine: Engine, list_id: int, *, origin: str, resubscribe: bool, dry_run: bool
    ) -> None:
        self.engine = engine
        self.list_id = list_id
        self.origin = origin
        self.resubscribe = resubscribe
        self.dry_run = dry_run
        self._conn: Connection | None = None
        self._batches = 0
        self._chunk = 1000  # rows a staging statement (SQLite)

    def __enter__(self) -> ImportSession:
        self._conn = self.engine.connect()
        pg = self._conn.dialect.name == "postgresql"
        if not pg:  # SQLite before 3.32 allows 999 parameters a statement
            raw = self._conn.connection.dbapi_connection
            limit = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # type: ignore[union-attr]
            self._chunk = max(1, min(1000, limit // 5))
        with self._conn.begin():
            self._drop_tables()
            sqlite_only = "" if pg else " WITHOUT ROWID"
            self._conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {self.SEEN} "
                f"(email VARCHAR(320) PRIMARY KEY, line INTEGER NOT NULL){sqlite_only}"
            )
            columns = "line INTEGER, email VARCHAR(320), name TEXT, attributes TEXT, status TEXT"
            self._conn.exec_driver_sql(
                f"CREATE TEMPORARY TABLE {self.STAGE} "
                f"({columns}, seen_line INTEGER, known BOOLEAN NOT NULL)"
            )
            if pg:
                self._conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {self.RAW} ({columns})")
                # A batch need not wait for its WAL flush: after a crash the last batches may be
                # missing, never half-applied, and importing the file again completes it.
                self._conn.exec_driver_sql("SET synchronous_commit = off")
                for setting, value in self.PG_SETTINGS:
                    self._conn.exec_driver_sql(f"SET {setting} = {value}")
            else:  # bigger page caches for the random-order index inserts
                self._conn.exec_driver_sql(f"PRAGMA cache_size = -{IMPORT_CACHE_KB}")
                self._conn.exec_driver_sql(f"PRAGMA temp.cache_size = -{IMPORT_TEMP_CACHE_KB}")
        return self

    def _drop_tables(self) -> None:
        assert self._conn is not None
        for table in (self.SEEN, self.STAGE, self.RAW):
            self._conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")

    def __exit__(self, *exc: object) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
            with self._conn.begin():
                self._drop_tables()
                if self._conn.dialect.name == "sqlite":
                    self._conn.exec_driver_sql("PRAGMA cache_size = -2000")  # the default
                    self._conn.exec_driver_sql("PRAGMA temp.cache_size = -2000")
                else:
                    self._conn.exec_driver_sql("RESET synchronous_commit")
                    for setting, _ in self.PG_SETTINGS:
                        self._conn.exec_driver_sql(f"RESET {setting}")
        finally:
            self._conn.close()
            self._conn = None

    def _stage(self, bulk: _Bulk, rows: list[ImportRow]) -> None:
        """Put the rows in the staging table, each marked with whether its address is known."""
        cur = bulk.cursor()
        values = [
            (row.line, row.email, row.name, bulk.json_value(row.attributes), row.status)
            for row in rows
        ]
        if bulk.pg:
            cur.execute(f"TRUNCATE {self.RAW}, {self.STAGE}")
            with cur.copy(
                f"COPY {self.RAW} (line, email, name, attributes, status) FROM STDIN"
            ) as copy:
                for value in values:
                    copy.write_row(value)
            chunks: list[tuple[str, list[Any]]] = [(self.RAW, [])]
        else:
            # Rows of multi-row VALUES: one statement binds a thousand rows in C (executemany
            # would take the GIL back after every row, and JSON parsing costs more).
            cur.execute(f"DELETE FROM {self.STAGE}")
            chunks = []
            for start in range(0, len(values), self._chunk):
                part = values[start : start + self._chunk]
                marks = ",".join(["(?,?,?,?,?)"] * len(part))
                source = (
                    "(SELECT column1 AS line, column2 AS email, column3 AS name, "
                    f"column4 AS attributes, column5 AS status FROM (VALUES {marks}))"
                )
                chunks.append((source, list(itertools.chain.from_iterable(part))))
        for source, params in chunks:
            cur.execute(
                f"INSERT INTO {self.STAGE} (line, email, name, attributes, status, seen_line, "
                "known) SELECT r.line, r.email, r.name, r.attributes, r.status, seen.line, "
                "(seen.line IS NOT NULL"
                " OR EXISTS (SELECT 1 FROM suppressions x WHERE x.email = r.email)"
                " OR EXISTS (SELECT 1 FROM subscribers x WHERE x.email = r.email)) "
                f"FROM {source} AS r LEFT JOIN {self.SEEN} seen ON seen.email = r.email",
                params,
            )
        cur.close()

    def _known(self, bulk: _Bulk) -> dict[str, tuple[Any, ...]]:
        """What the store knows of the staged rows marked known, by address."""
        cur = bulk.cursor()
        p = "%s" if bulk.pg else "?"
        cur.execute(
            "SELECT st.email, st.seen_line, sup.reason, s.id, s.name, s.attributes, m.id, m.status "
            f"FROM {self.STAGE} st "
            "LEFT JOIN suppressions sup ON sup.email = st.email "
            "LEFT JOIN subscribers s ON s.email = st.email "
            f"LEFT JOIN memberships m ON m.subscriber_id = s.id AND m.list_id = {p} "
            "WHERE st.known",
            (self.list_id,),
        )
        found = {row[0]: tuple(row[1:]) for row in cur.fetchall()}
        cur.close()
        return found

    def apply(self, batch: Sequence[ImportRow]) -> list[tuple[ImportRow, ImportOutcome, str]]:
        """Apply one batch; one (row, outcome, detail) per row, in order."""
        conn = self._conn
        assert conn is not None, "use ImportSession as a context manager"
        results: dict[int, tuple[ImportOutcome, str]] = {}
        first: dict[str, ImportRow] = {}
        repeated: list[tuple[int, str]] = []  # (index, address) of repeats within the batch
        for index, row in enumerate(batch):
            if row.email in first:
                repeated.append((index, row.email))
            else:
                first[row.email] = row
        now = utcnow()
        with conn.begin():
            bulk = _Bulk(conn)
            self._stage(bulk, list(first.values()))
            known = self._known(bulk)
            for index, email in repeated:  # a duplicate of the address's first line in the file
                found = known.get(email)
                line = found[0] if found and found[0] is not None else first[email].line
                results[index] = ("duplicate", f"duplicate of line {line}")
            new_memberships: list[tuple[ImportRow, int]] = []  # existing subscribers
            subscriber_updates: list[tuple[Any, ...]] = []
            status_updates: list[tuple[Any, ...]] = []
            stamp = bulk.stamp(now)
            reason = f"import {self.origin}"
            imported: tuple[ImportOutcome, str] = ("imported", "")
            new_statuses: Counter[str] = Counter()  # of the new subscribers' memberships
            for index, row in enumerate(batch):
                if index in results:
                    continue
                found = known.get(row.email)
                if found is None:
                    results[index] = imported  # a new subscriber, written set-based below
                    new_statuses[row.status] += 1
                    continue
                seen_line, suppressed, subscriber_id, old_name, old_attributes = found[:5]
                membership_id, status = found[5:]
                if seen_line is not None:
                    results[index] = ("duplicate", f"duplicate of line {seen_line}")
                    continue
                if suppressed is not None:
                    results[index] = ("suppressed", f"({suppressed})")
                    continue
                old_attributes = bulk.json_read(old_attributes)
                if membership_id is None:
                    new_memberships.append((row, subscriber_id))
                    results[index] = imported
                    self._change(
                        bulk,
                        subscriber_id,
                        old_name,
                        old_attributes,
                        row,
                        stamp,
                        subscriber_updates,
                    )
                    continue
                new_status = status
                if status in INACTIVE_STATUSES:
                    if row.status == ACTIVE:
                        if not self.resubscribe:
                            results[index] = (
                                "left",
                                f"{status} from this list; not re-added "
                                "(--resubscribe would add them back)",
                            )
                            continue
                        new_status = ACTIVE
                elif row.status != status:
                    new_status = row.status
                changed = self._change(
                    bulk, subscriber_id, old_name, old_attributes, row, stamp, subscriber_updates
                )
                if new_status != status:
                    status_updates.append((new_status, reason, stamp, status, membership_id))
                    changed = True
                results[index] = ("updated" if changed else "unchanged", "")
            if not self.dry_run:
                self._write(
                    bulk, stamp, new_statuses, new_memberships, subscriber_updates, status_updates
                )
            cur = bulk.cursor()
            # staged addresses are distinct, and only this session writes SEEN: no conflicts
            cur.execute(
                f"INSERT INTO {self.SEEN} (email, line) SELECT email, line FROM {self.STAGE} "
                "WHERE seen_line IS NULL ORDER BY email"
            )
            cur.close()
        self._batches += 1
        if bulk.pg and self._batches in (1, 4, 16, 64, 256):
            # Fresh tables have no statistics; without them PostgreSQL scans instead of using
            # the email index, and the import turns quadratic.
            with conn.begin():
                conn.exec_driver_sql(
                    f"ANALYZE subscribers, memberships, {self.SEEN}, {self.STAGE}, {self.RAW}"
                )
        return [(row, *results[index]) for index, row in enumerate(batch)]

    @staticmethod
    def _change(
        bulk: _Bulk,
        subscriber_id: int,
        old_name: str,
        old_attributes: dict[str, Any],
        row: ImportRow,
        stamp: Any,
        updates: list[tuple[Any, ...]],
    ) -> bool:
        """Queue an update of the subscriber's name and attributes when the row changes them."""
        merged = {**old_attributes, **row.attributes}
        name = row.name or old_name
        if name == old_name and merged == old_attributes:
            return False
        updates.append((name, bulk.json_value(merged), stamp, subscriber_id))
        return True

    def _write(
        self,
        bulk: _Bulk,
        stamp: Any,
        new_statuses: Counter[str],
        new_memberships: list[tuple[ImportRow, int]],
        subscriber_updates: list[tuple[Any, ...]],
        status_updates: list[tuple[Any, ...]],
    ) -> None:
        """Write the batch: new subscribers set-based from the staging table, the rest by rows.

        Addresses another writer stored meanwhile are left to it (ON CONFLICT DO NOTHING); their
        membership is still added, found by address as for the new ones.
        """
        if bulk.pg:
            if not self._write_new_pg(bulk, stamp, new_statuses):
                self._add_new_memberships(bulk, stamp)
        else:
            cur = bulk.cursor()
            cur.execute(
                "INSERT INTO subscribers (email, name, attributes, created_at, updated_at) "
                f"SELECT st.email, st.name, st.attributes, ?, ? FROM {self.STAGE} st "
                "WHERE NOT st.known ORDER BY st.email ON CONFLICT (email) DO NOTHING",
                (stamp, stamp),
            )
            cur.close()
            self._add_new_memberships(bulk, stamp)
        bulk.insert_rows(
            "memberships",
            (
                "list_id",
                "subscriber_id",
                "status",
                "origin",
                "status_reason",
                "created_at",
                "updated_at",
            ),
            [
                (
                    self.list_id,
                    subscriber_id,
                    row.status,
                    self.origin,
                    None if row.status == ACTIVE else "imported as such",
                    stamp,
                    stamp,
                )
                for row, subscriber_id in new_memberships
            ],
            types=("bigint", "bigint", "text", "text", "text", "timestamptz", "timestamptz"),
            conflict="ON CONFLICT (list_id, subscriber_id) DO NOTHING",
        )
        bulk.update_rows(
            "subscribers",
            ("name", "attributes", "updated_at"),
            subscriber_updates,
            types=("text", "json", "timestamptz", "bigint"),
        )
        bulk.update_rows(
            "memberships",
            ("status", "status_reason", "updated_at"),
            status_updates,
            types=("text", "text", "timestamptz", "text", "bigint"),
            unless_changed="status",
        )

    def _write_new_pg(self, bulk: _Bulk, stamp: Any, new_statuses: Counter[str]) -> bool:
        """PostgreSQL: insert the new subscribers and their memberships in one statement a status.

        The memberships take the ids the subscriber insert returns, so no address is looked up
        again, and need no conflict check: nobody else can refer to rows this transaction has
        just inserted. False when another writer stored some of the addresses meanwhile (they
        got no membership here; `_add_new_memberships` adds them, found by address).
        """
        cur = bulk.cursor()
        complete = True
        for status, expected in new_statuses.items():
            cur.execute(
                "WITH new AS (INSERT INTO subscribers "
                "(email, name, attributes, created_at, updated_at) "
                "SELECT st.email, st.name, CAST(st.attributes AS json), %s, %s "
                f"FROM {self.STAGE} st WHERE NOT st.known AND st.status = %s ORDER BY st.email "
                "ON CONFLICT (email) DO NOTHING RETURNING id) "
                "INSERT INTO memberships (list_id, subscriber_id, status, origin, status_reason, "
                "created_at, updated_at) SELECT %s, new.id, %s, %s, %s, %s, %s FROM new "
                "ORDER BY new.id",
                (
                    stamp,
                    stamp,
                    status,
                    self.list_id,
                    status,
                    self.origin,
                    None if status == ACTIVE else "imported as such",
                    stamp,
                    stamp,
                ),
            )
            complete = complete and cur.rowcount == expected
        cur.close()
        return complete

    def _add_new_memberships(self, bulk: _Bulk, stamp: Any) -> None:
        """Memberships for the staged new addresses, found by address (whoever stored them)."""
        p = "%s" if bulk.pg else "?"
        cur = bulk.cursor()
        cur.execute(
            "INSERT INTO memberships (list_id, subscriber_id, status, origin, status_reason, "
            f"created_at, updated_at) SELECT {p}, s.id, st.status, {p}, "
            f"CASE WHEN st.status = '{ACTIVE}' THEN NULL ELSE 'imported as such' END, {p}, {p} "
            f"FROM {self.STAGE} st JOIN subscribers s ON s.email = st.email "
            "WHERE NOT st.known ORDER BY s.id "
            "ON CONFLICT (list_id, subscriber_id) DO NOTHING",
            (self.list_id, self.origin, stamp, stamp),
        )
        cur.close()


class SplitImport:
    """An import over several connections at once (PostgreSQL), so the server works on as many
    cores: each batch is split by address between `ImportSession`s, applied side by side in
    threads, and its outcomes put back in file order.

    Every occurrence of an address goes to the same session, so what one session decides alone
    stays exact: duplicates across the file (each session remembers the addresses it saw),
    unchanged rows on a re-import, and the rule that nobody who left is put back. The sessions
    touch disjoint rows, so they never wait on each other's row locks. Each part of a batch
    commits on its own, as a batch did: an import stopped half-way is completed by importing
    the file again (each session's last commit, on leaving, is a durable one).
    """

    def __init__(self, sessions: list[ImportSession]) -> None:
        assert len(sessions) > 1
        self.sessions = sessions
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> SplitImport:
        entered: list[ImportSession] = []
        try:
            for session in self.sessions:
                entered.append(session.__enter__())
        except BaseException:
            for session in entered:
                session.__exit__(None, None, None)
            raise
        self._pool = ThreadPoolExecutor(
            max_workers=len(self.sessions) - 1, thread_name_prefix="digest-import"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for session in self.sessions:
            session.__exit__(*exc)

    def apply(self, batch: Sequence[ImportRow]) -> list[tuple[ImportRow, ImportOutcome, str]]:
        """Apply one batch, each part on its session; one (row, outcome, detail) per row."""
        assert self._pool is not None, "use SplitImport as a context manager"
        count = len(self.sessions)
        parts: list[list[ImportRow]] = [[] for _ in range(count)]
        lanes = [hash(row.email) % count for row in batch]
        for row, lane in zip(batch, lanes, strict=True):
            parts[lane].append(row)
        futures = [
            self._pool.submit(_apply_part, session, part)
            for session, part in zip(self.sessions[1:], parts[1:], strict=True)
        ]
        try:
            done = [_apply_part(self.sessions[0], parts[0])]
        finally:  # never leave a part running, whatever happened to this one
            wait(futures)
        done.extend(future.result() for future in futures)
        outcomes = [iter(part) for part in done]
        return [next(outcomes[lane]) for lane in lanes]


def _apply_part(
    session: ImportSession, part: list[ImportRow]
) -> list[tuple[ImportRow, ImportOutcome, str]]:
    return session.apply(part) if part else []


class SubscriberQueries:
    engine: Engine

    # -- lists -------------------------------------------------------------------------------

    def ensure_list(self, name: str, title: str = "") -> int:
        with self.engine.begin() as conn:
            found = conn.execute(select(lists.c.id).where(lists.c.name == name)).scalar()
            if found is not None:
                if title:
                    conn.execute(update(lists).where(lists.c.id == found).values(title=title))
                return int(found)
            return int(
                conn.execute(
                    insert(lists).values(name=name, title=title, created_at=utcnow())
                ).inserted_primary_key[0]  # type: ignore[index]
            )

    def list_id(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(lists.c.id).where(lists.c.name == name)).scalar()
        return None if found is None else int(found)

    def list_name(self, list_id: int) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(lists.c.name).where(lists.c.id == list_id)).scalar()
        return None if found is None else str(found)

    def lists_overview(self) -> list[ListRow]:
        """Every stored list with its member counts by status."""
        with self.engine.connect() as conn:
            counts: dict[int, dict[str, int]] = {}
            for list_id, status, count in conn.execute(
                select(memberships.c.list_id, memberships.c.status, func.count()).group_by(
                    memberships.c.list_id, memberships.c.status
                )
            ):
                counts.setdefault(int(list_id), {})[status] = int(count)
            rows = conn.execute(select(lists).order_by(lists.c.name)).all()
        return [
            ListRow(
                row.id,
                row.name,
                row.title,
                as_utc(row.created_at) or utcnow(),
                counts.get(row.id, {}),
            )
            for row in rows
        ]

    # -- subscribers -------------------------------------------------------------------------

    def upsert_subscriber(
        self,
        list_id: int,
        email: str,
        *,
        name: str = "",
        attributes: dict[str, Any] | None = None,
        origin: str = "",
        status: str = ACTIVE,
        resubscribe: bool = False,
    ) -> str:
        """Add or update one subscriber on a list; returns "imported", "updated" or "unchanged".

        An address that left the list (unsubscribed, bounced, complained) is never put back
        unless `resubscribe` says so explicitly.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(subscribers.c.id, subscribers.c.name, subscribers.c.attributes).where(
                    subscribers.c.email == email
                )
            ).first()
            changed = False
            if row is None:
                subscriber_id = conn.execute(
                    insert(subscribers).values(
                        email=email,
                        name=name,
                        attributes=attributes or {},
                        created_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            else:
                subscriber_id = row.id
                merged = {**(row.attributes or {}), **(attributes or {})}
                new_name = name or row.name
                if new_name != row.name or merged != (row.attributes or {}):
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == subscriber_id)
                        .values(name=new_name, attributes=merged, updated_at=now)
                    )
                    changed = True
            membership = conn.execute(
                select(memberships.c.id, memberships.c.status).where(
                    and_(
                        memberships.c.list_id == list_id,
                        memberships.c.subscriber_id == subscriber_id,
                    )
                )
            ).first()
            if membership is None:
                conn.execute(
                    insert(memberships).values(
                        list_id=list_id,
                        subscriber_id=subscriber_id,
                        status=status,
                        origin=origin,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return "imported"
            if membership.status != status and (
                membership.status not in INACTIVE_STATUSES or resubscribe
            ):
                conn.execute(
                    update(memberships)
                    .where(memberships.c.id == membership.id)
                    .values(status=status, status_reason=origin or None, updated_at=now)
                )
                changed = True
            return "updated" if changed else "unchanged"

    def import_session(
        self, list_id: int, *, origin: str, resubscribe: bool = False, dry_run: bool = False
    ) -> ImportSession | SplitImport:
        """A session applying import batches; see `ImportSession` (and `SplitImport`, which
        PostgreSQL gets: its server is the bottleneck, and it can work on several cores)."""

        def session() -> ImportSession:
            return ImportSession(
                self.engine, list_id, origin=origin, resubscribe=resubscribe, dry_run=dry_run
            )

        if self.engine.dialect.name == "postgresql" and IMPORT_CONNECTIONS > 1:
            return SplitImport([session() for _ in range(IMPORT_CONNECTIONS)])
        return session()

    def set_membership_status(
        self, list_id: int, subscriber_id: int, status: str, reason: str | None = None
    ) -> bool:
        """Change one membership's status; False when there is no such membership."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(memberships)
                .where(
                    and_(
                        memberships.c.list_id == list_id,
                        memberships.c.subscriber_id == subscriber_id,
                    )
                )
                .values(status=status, status_reason=reason, updated_at=utcnow())
            )
        return bool(result.rowcount)

    def subscriber_by_email(self, email: str) -> SubscriberRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
        if row is None:
            return None
        return SubscriberRow(
            row.id,
            row.email,
            row.name,
            dict(row.attributes or {}),
            created_at=as_utc(row.created_at),
        )

    def subscriber_by_id(self, subscriber_id: int) -> SubscriberRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        if row is None:
            return None
        return SubscriberRow(
            row.id,
            row.email,
            row.name,
            dict(row.attributes or {}),
            created_at=as_utc(row.created_at),
        )

    def memberships_of(self, subscriber_id: int) -> list[MembershipRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(memberships, lists.c.name.label("list_name"))
                .join(lists, lists.c.id == memberships.c.list_id)
                .where(memberships.c.subscriber_id == subscriber_id)
                .order_by(lists.c.name)
            ).all()
        return [
            MembershipRow(
                row.list_id,
                row.list_name,
                row.status,
                row.origin,
                as_utc(row.created_at) or utcnow(),
                as_utc(row.updated_at) or utcnow(),
                row.status_reason,
                as_utc(row.confirmed_at),
            )
            for row in rows
        ]

    def membership_status(self, list_id: int, subscriber_id: int) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(memberships.c.status).where(
                    memberships.c.list_id == list_id,
                    memberships.c.subscriber_id == subscriber_id,
                )
            ).scalar()
        return None if found is None else str(found)

    def members(self, list_id: int, status: str | None = None) -> Iterator[SubscriberRow]:
        """Stream a list's members (never all in memory at once)."""
        query = (
            select(
                subscribers.c.id,
                subscribers.c.email,
                subscribers.c.name,
                subscribers.c.attributes,
                memberships.c.status,
                memberships.c.created_at,
                memberships.c.origin,
            )
            .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
            .where(memberships.c.list_id == list_id)
            .order_by(subscribers.c.id)
        )
        if status:
            query = query.where(memberships.c.status == status)
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(query):
                yield SubscriberRow(
                    row.id,
                    row.email,
                    row.name,
                    dict(row.attributes or {}),
                    row.status,
                    as_utc(row.created_at),
                    row.origin,
                )

    def count_members(self, list_id: int) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(memberships.c.status, func.count())
                .where(memberships.c.list_id == list_id)
                .group_by(memberships.c.status)
            ).all()
        return {status: int(count) for status, count in rows}

    # -- consent -----------------------------------------------------------------------------

    def request_subscription(
        self,
        list_id: int,
        email: str,
        *,
        name: str = "",
        double_opt_in: bool,
        origin: str = "web",
        client: str | None = None,
    ) -> tuple[SubscribeOutcome, int | None]:
        """Someone asked to join a list; what to do next, and the subscriber id.

        "confirm": send a confirmation link (double opt-in, or someone who had left and asks to
        come back: their earlier choice is only overridden by a confirmed request).
        "activated": a new member, active at once (no double opt-in). "nothing": already a
        member, or the address is suppressed. The caller's answer must not tell these apart.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            if conn.execute(
                select(suppressions.c.email).where(suppressions.c.email == email)
            ).first():
                return "nothing", None
            found = conn.execute(
                select(subscribers.c.id).where(subscribers.c.email == email)
            ).scalar()
            if found is None:
                found = conn.execute(
                    insert(subscribers).values(
                        email=email, name=name, attributes={}, created_at=now, updated_at=now
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            subscriber_id = int(found)
            status = conn.execute(
                select(memberships.c.status).where(
                    memberships.c.list_id == list_id, memberships.c.subscriber_id == subscriber_id
                )
            ).scalar()
            if status is None:
                new_status = PENDING if double_opt_in else ACTIVE
                conn.execute(
                    insert(memberships).values(
                        list_id=list_id,
                        subscriber_id=subscriber_id,
                        status=new_status,
                        origin=origin,
                        status_reason="signup",
                        consent_ip=client if not double_opt_in else None,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return ("confirm" if double_opt_in else "activated"), subscriber_id
            if status == ACTIVE:
                return "nothing", subscriber_id
            return "confirm", subscriber_id  # pending again, or someone who left asking back

    def confirm_subscription(
        self, list_id: int, subscriber_id: int, *, client: str | None = None
    ) -> bool:
        """Activate a membership from a confirmed link; False when there is nothing to confirm.

        Confirming twice is harmless. A suppressed address is never activated.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(memberships.c.id, memberships.c.status, subscribers.c.email)
                .join(subscribers, subscribers.c.id == memberships.c.subscriber_id)
                .where(
                    memberships.c.list_id == list_id, memberships.c.subscriber_id == subscriber_id
                )
            ).first()
            if row is None:
                return False
            if conn.execute(
                select(suppressions.c.email).where(suppressions.c.email == row.email)
            ).first():
                return False
            if row.status != ACTIVE:
                conn.execute(
                    update(memberships)
                    .where(memberships.c.id == row.id)
                    .values(
                        status=ACTIVE,
                        status_reason="confirmed",
                        confirmed_at=now,
                        consent_ip=client,
                        updated_at=now,
                    )
                )
                self._event(conn, "web", "confirmed", row.email, {"list_id": list_id})
            return True

    # -- leaving -----------------------------------------------------------------------------

    def unsubscribe(
        self, list_id: int, subscriber_id: int, *, source: str, reason: str
    ) -> Literal["unsubscribed", "already", "unknown"]:
        """Take one subscriber off one list and record it; calling it again changes nothing.

        Frozen issues still sending skip this person: the ledger checks memberships at claim.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(memberships.c.id, memberships.c.status, subscribers.c.email)
                .join(subscribers, subscribers.c.id == memberships.c.subscriber_id)
                .where(
                    memberships.c.list_id == list_id, memberships.c.subscriber_id == subscriber_id
                )
            ).first()
            if row is None:
                return "unknown"
            if row.status in INACTIVE_STATUSES:
                return "already"
            conn.execute(
                update(memberships)
                .where(memberships.c.id == row.id)
                .values(status=UNSUBSCRIBED, status_reason=reason, updated_at=now)
            )
            self._event(
                conn,
                source,
                "unsubscribe",
                row.email,
                {"list_id": list_id, "subscriber_id": subscriber_id, "reason": reason},
            )
        return "unsubscribed"

    def stop_address(
        self,
        email: str,
        status: str,
        *,
        reason: str,
        detail: str = "",
        list_id: int | None = None,
    ) -> int:
        """An address must stop getting mail: memberships it has (on one list or all) change.

        `bounced` and `complained` also put the address on the global suppression list;
        `unsubscribed` only leaves the list(s). Returns how many memberships changed.
        """
        assert status in INACTIVE_STATUSES
        now = utcnow()
        with self.engine.begin() as conn:
            if status in (BOUNCED, COMPLAINED):
                _on_conflict_do_nothing(
                    conn,
                    suppressions,
                    [{"email": email, "reason": reason, "detail": detail, "created_at": now}],
                )
            subscriber_id = conn.execute(
                select(subscribers.c.id).where(subscribers.c.email == email)
            ).scalar()
            if subscriber_id is None:
                return 0
            query = update(memberships).where(
                memberships.c.subscriber_id == subscriber_id,
                memberships.c.status.in_((ACTIVE, PENDING)),
            )
            if list_id is not None:
                query = query.where(memberships.c.list_id == list_id)
            result = conn.execute(query.values(status=status, status_reason=reason, updated_at=now))
        return int(result.rowcount or 0)

    def list_of_message(self, provider_message_id: str) -> int | None:
        """The list an issue went to, found from one of its messages' provider id."""
        bare = provider_message_id.strip().strip("<>")
        candidates = {provider_message_id, bare, f"<{bare}>"}  # providers differ on brackets
        with self.engine.connect() as conn:
            content = conn.execute(
                select(issues.c.content)
                .join(deliveries, deliveries.c.issue_id == issues.c.id)
                .where(deliveries.c.provider_message_id.in_(candidates))
                .limit(1)
            ).scalar()
        if isinstance(content, dict) and isinstance(content.get("list_id"), int):
            return int(content["list_id"])
        return None

    # -- suppression -------------------------------------------------------------------------

    def suppress(self, email: str, reason: str, detail: str = "") -> None:
        with self.engine.begin() as conn:
            _on_conflict_do_nothing(
                conn,
                suppressions,
                [{"email": email, "reason": reason, "detail": detail, "created_at": utcnow()}],
            )

    def unsuppress(self, email: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(delete(suppressions).where(suppressions.c.email == email))
        return bool(result.rowcount)

    def is_suppressed(self, email: str) -> bool:
        return self.suppression(email) is not None

    def suppression(self, email: str) -> SuppressionRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(suppressions).where(suppressions.c.email == email)).first()
        if row is None:
            return None
        return SuppressionRow(row.email, row.reason, row.detail, as_utc(row.created_at) or utcnow())

    # -- events and webhook receipts ---------------------------------------------------------

    @staticmethod
    def _event(
        conn: Connection, provider: str, kind: str, email: str | None, payload: dict[str, Any]
    ) -> int:
        result = conn.execute(
            insert(events).values(
                provider=provider,
                kind=kind[:50],
                email=email[:320] if email else None,
                payload=payload,
                received_at=utcnow(),
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def record_event(
        self, provider: str, kind: str, email: str | None, payload: dict[str, Any]
    ) -> int:
        """Keep what a provider or subscriber told us; returns the event's id."""
        with self.engine.begin() as conn:
            return self._event(conn, provider, kind, email, payload)

    def events_for(
        self, email: str | None = None, *, provider: str | None = None, limit: int = 100
    ) -> list[EventRow]:
        query = select(events).order_by(events.c.id.desc()).limit(limit)
        if email is not None:
            query = query.where(events.c.email == email)
        if provider is not None:
            query = query.where(events.c.provider == provider)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            EventRow(
                row.id,
                row.provider,
                row.kind,
                row.email,
                dict(row.payload or {}),
                as_utc(row.received_at) or utcnow(),
            )
            for row in rows
        ]

    def first_receipt(self, provider: str, key: str) -> bool:
        """Remember a webhook delivery's key; False when it was seen before (a replay)."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                delete(webhook_receipts).where(webhook_receipts.c.received_at < now - RECEIPT_TTL)
            )
            inserted = _on_conflict_do_nothing(
                conn,
                webhook_receipts,
                [{"provider": provider, "key": key[:300], "received_at": now}],
            )
        return inserted == 1

    def forget_receipt(self, provider: str, key: str) -> None:
        """Undo `first_receipt` for a delivery whose handling failed, so its retry is taken."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(webhook_receipts).where(
                    webhook_receipts.c.provider == provider, webhook_receipts.c.key == key[:300]
                )
            )
