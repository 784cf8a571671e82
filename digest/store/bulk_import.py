"""The CSV import engine: batches of rows applied set-based, over one connection or several.

`import_session` hands out an `ImportSession` (SQLite: one connection) or a `SplitImport`
(PostgreSQL: two sessions side by side, each with part of every batch). Rows arrive already
read and normalized (see `digest.subscribers`); here they are staged, decided and written.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, Literal, NamedTuple

from sqlalchemy import Connection, Engine

from digest.dates import utcnow
from digest.models import MembershipStatus
from digest.store.db import BulkWriter

IMPORT_CACHE_KB = 65_536  # SQLite page cache while importing (peak 175 MB at 1M rows, bounded)
IMPORT_TEMP_CACHE_KB = 32_768  # and for the temporary tables (the addresses seen so far)
IMPORT_CONNECTIONS = 2  # PostgreSQL: connections an import writes over (see `SplitImport`)


class ImportRow(NamedTuple):
    """One valid CSV row, normalized, ready to be applied (a tuple: a million are made)."""

    line: int
    email: str
    name: str
    attributes: dict[str, str]
    # a MembershipStatus value, as a plain str: a million are pickled and bound one by one
    status: str = MembershipStatus.ACTIVE.value


# What happened to one row of an import: the outcome and, for a skipped row, why.
ImportOutcome = Literal["imported", "updated", "unchanged", "duplicate", "suppressed", "left"]


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

    def _stage(self, bulk: BulkWriter, rows: list[ImportRow]) -> None:
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

    def _known(self, bulk: BulkWriter) -> dict[str, tuple[Any, ...]]:
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
            bulk = BulkWriter(conn)
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
                if status in MembershipStatus.INACTIVE:
                    if row.status == MembershipStatus.ACTIVE:
                        if not self.resubscribe:
                            results[index] = (
                                "left",
                                f"{status} from this list; not re-added "
                                "(--resubscribe would add them back)",
                            )
                            continue
                        new_status = MembershipStatus.ACTIVE
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
        bulk: BulkWriter,
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
        bulk: BulkWriter,
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
                    None if row.status == MembershipStatus.ACTIVE else "imported as such",
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

    def _write_new_pg(self, bulk: BulkWriter, stamp: Any, new_statuses: Counter[str]) -> bool:
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
                    None if status == MembershipStatus.ACTIVE else "imported as such",
                    stamp,
                    stamp,
                ),
            )
            complete = complete and cur.rowcount == expected
        cur.close()
        return complete

    def _add_new_memberships(self, bulk: BulkWriter, stamp: Any) -> None:
        """Memberships for the staged new addresses, found by address (whoever stored them)."""
        p = "%s" if bulk.pg else "?"
        cur = bulk.cursor()
        cur.execute(
            "INSERT INTO memberships (list_id, subscriber_id, status, origin, status_reason, "
            f"created_at, updated_at) SELECT {p}, s.id, st.status, {p}, "
            f"CASE WHEN st.status = '{MembershipStatus.ACTIVE}' THEN NULL "
            f"ELSE 'imported as such' END, {p}, {p} "
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


class ImportQueries:
    engine: Engine

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
