"""Subscribers in and out: CSV import (streamed, never aborting on a bad row) and export.

Import detects a BOM (UTF-8, UTF-16), UTF-8 or Latin-1 line by line, the delimiter (comma,
semicolon or tab), and whether the first row is a header. A bad row is skipped with its line
number and reason; re-importing the same file changes nothing; someone who left the list is never
put back unless the operator says so. Rows are applied in batches of bulk statements, and
duplicates are found through the database (see `ImportSession`), so memory stays flat whatever
the file's size: the report keeps counts and the first `MAX_DETAILED` skipped rows, and can
stream every skipped row to a file.
"""

from __future__ import annotations

import codecs
import csv
import heapq
import itertools
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal, NamedTuple, TextIO

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT

from digest.models import MembershipStatus
from digest.store import ImportRow, Store

__all__ = [
    "ImportReport",
    "Skipped",
    "export_csv",
    "import_csv",
    "normalize_email",
    "read_rows",
]

EMAIL_HEADERS = {
    "email",
    "e-mail",
    "mail",
    "address",
    "email address",
    "e-mail address",
    "email_address",
    "emailaddress",
    "courriel",
    "correo",
    "e-mail-adresse",
}
NAME_HEADERS = {"name", "full name", "full_name", "fullname", "display name"}
FIRST_NAME_HEADERS = {"first name", "first_name", "firstname", "given name", "vorname"}
LAST_NAME_HEADERS = {"last name", "last_name", "lastname", "surname", "family name", "nachname"}
STATUS_HEADERS = {"status"}
IGNORED_HEADERS = {"joined", "origin"}  # written by `export`, recomputed by the store
BATCH_SIZE = 5000  # rows a transaction; three batches at most are in memory
PROCESS_MIN_BYTES = 8 << 20  # from this size a file is read in a process (spawning costs ~0.3 s)
MAX_DETAILED = 1000  # skipped rows kept in the report; the rest are counted (and streamed)
MAX_RECORD_LINES = 50  # a quoted field running over more lines is an unterminated quote
# A plain str, not the enum member: a million rows are pickled and bound one by one.
_ACTIVE = MembershipStatus.ACTIVE.value
_CASE_INSENSITIVE_MAILBOXES = {
    "info",
    "marketing",
    "sales",
    "support",
    "abuse",
    "noc",
    "security",
    "postmaster",
    "hostmaster",
    "usenet",
    "news",
    "webmaster",
    "www",
    "uucp",
    "ftp",
}


# -- addresses --------------------------------------------------------------------------------


@lru_cache(maxsize=100_000)
def _plain_domain(domain: str) -> bool:
    """Whether email-validator accepts this ASCII domain unchanged (but for case).

    Cached: a list has few distinct domains, and this is where email-validator spends its time.
    """
    try:
        checked = validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return checked.domain == domain.lower() and checked.ascii_domain == domain.lower()


def normalize_email(raw: str) -> str:
    """The address as stored: syntax checked by email-validator (no DNS), then lower-cased.

    Lower-casing the local part too is deliberate: one person, one row, even when their address
    was typed with capitals in one place and not in another (no mainstream mailbox provider
    treats case as significant). Plain ASCII addresses take a fast path that gives exactly what
    email-validator gives (tests compare both); everything else goes through email-validator.
    """
    text = raw.strip()
    local, at, domain = text.rpartition("@")
    if (
        at
        and text.isascii()
        and len(text) <= 254
        and DOT_ATOM_TEXT.match(local)
        and _plain_domain(domain)
    ):
        return text.lower()
    checked = validate_email(text, check_deliverability=False)
    return checked.normalized.lower()


def _full_normalize(raw: str) -> str:
    """email-validator alone, for comparing with the fast path in tests."""
    return validate_email(raw.strip(), check_deliverability=False).normalized.lower()


# -- reading CSV ------------------------------------------------------------------------------


def _latin1_fallback(error: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 are read as Latin-1 (what spreadsheets export elsewhere)."""
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("digest-latin1", _latin1_fallback)


def _open_text(path: Path) -> TextIO:
    """The file as text: UTF-16 by its BOM, else UTF-8 (BOM or not) with Latin-1 for the rest."""
    with open(path, "rb") as probe:
        head = probe.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return open(path, encoding="utf-16", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="digest-latin1", newline="")


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class _Layout:
    """Which column holds what, from the header (or from the first row when there is none)."""

    def __init__(
        self,
        names: list[str],
        email: int,
        name: int | None = None,
        first_name: int | None = None,
        last_name: int | None = None,
        status: int | None = None,
        ignored: frozenset[int] = frozenset(),
    ) -> None:
        self.names = names
        self.width = len(names)
        self.email = email
        self.name = name
        self.first_name = first_name
        self.last_name = last_name
        self.status = status
        self.name_parts = [i for i in (first_name, last_name) if i is not None]
        fixed = {i for i in (email, name, status) if i is not None} | ignored
        self.attributes = [(i, n) for i, n in enumerate(names) if i not in fixed]

    @classmethod
    def from_header(cls, row: list[str]) -> _Layout | None:
        lowered = [cell.strip().lower() for cell in row]
        email = next((i for i, c in enumerate(lowered) if c in EMAIL_HEADERS), None)
        if email is None:
            email = next((i for i, c in enumerate(lowered) if "mail" in c or "correo" in c), None)
        if email is None:
            return None

        def find(names: set[str]) -> int | None:
            return next((i for i, c in enumerate(lowered) if c in names), None)

        return cls(
            names=[c or f"column{i + 1}" for i, c in enumerate(lowered)],
            email=email,
            name=find(NAME_HEADERS),
            first_name=find(FIRST_NAME_HEADERS),
            last_name=find(LAST_NAME_HEADERS),
            status=find(STATUS_HEADERS),
            ignored=frozenset(i for i, c in enumerate(lowered) if c in IGNORED_HEADERS),
        )

    @classmethod
    def headless(cls, row: list[str]) -> _Layout:
        """No header: the address is the first cell holding an @, the name the next one."""
        email = next((i for i, c in enumerate(row) if "@" in c), 0)
        name = next((i for i in range(len(row)) if i != email), None)
        return cls(names=[f"field{i + 1}" for i in range(len(row))], email=email, name=name)

    def row(self, line: int, row: list[str]) -> RawRow | None:
        """The row's values; None for a row of empty cells. (Hot: no generators here.)"""
        cells = [cell.strip() for cell in row]
        if not any(cells):
            return None
        width = self.width
        if len(cells) > width:
            if any(cells[width:]):
                return RawRow(line, problem=f"{len(cells)} fields where the header has {width}")
        elif len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        name = cells[self.name] if self.name is not None else ""
        if not name and self.name_parts:
            name = " ".join([cells[i] for i in self.name_parts if cells[i]])
        return RawRow(
            line,
            cells[self.email],
            name,
            {key: cells[i] for i, key in self.attributes if cells[i]},
            cells[self.status].lower() if self.status is not None else "",
        )


class RawRow(NamedTuple):
    """One row as read: line number and cells, or why it could not be read."""

    line: int
    email: str = ""
    name: str = ""
    attributes: dict[str, str] = {}  # noqa: RUF012 - never mutated
    status: str = ""
    problem: str | None = None


class _Anomaly(Exception):
    """The fast reader met a row it cannot recover from (runaway quote, csv error)."""

    def __init__(self, line: int) -> None:
        self.line = line


def read_rows(path: Path) -> Iterator[RawRow]:
    """Stream the rows of a CSV file; unreadable ones come with their problem, never raise.

    The fast reader lets the csv module read the file directly. Should a quoted field run over
    more than MAX_RECORD_LINES lines (an unterminated quote) or the csv module refuse a row, the
    file is read again from that row by the careful reader, which recovers line by line.
    """
    state: dict[str, Any] = {}
    try:
        yield from _fast_rows(path, state)
    except _Anomaly as anomaly:
        yield from _careful_rows(path, state, anomaly.line)


def _fast_rows(path: Path, state: dict[str, Any]) -> Iterator[RawRow]:
    with _open_text(path) as handle:
        first = handle.readline()
        delimiter = _sniff_delimiter(first)
        state["delimiter"] = delimiter
        reader = csv.reader(itertools.chain((first,), handle), delimiter=delimiter)
        layout: _Layout | None = None
        last = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise _Anomaly(last + 1) from None
            line, end, last = last + 1, reader.line_num, reader.line_num
            if end - line >= MAX_RECORD_LINES or (end > line and _swallowed(row)):
                raise _Anomaly(line)
            if not row:
                continue
            if layout is None:
                if not any(cell.strip() for cell in row):
                    continue
                layout = _first_layout(row)
                state["layout"] = layout
                if layout is None:
                    state["layout"] = layout = _Layout.headless(row)
                else:
                    continue
            found = layout.row(line, row)
            if found is not None:
                yield found


def _swallowed(row: list[str]) -> bool:
    """A field running over lines that holds an address: a stray quote ate other rows."""
    return any("\n" in cell and "@" in cell for cell in row)


def _first_layout(row: list[str]) -> _Layout | None:
    """The layout the first row declares when it is a header (no address in it)."""
    return _Layout.from_header(row) if "@" not in "".join(row) else None


class _CarefulLines:
    """Physical lines handed to the csv module one at a time, remembering the current record.

    When a record runs past MAX_RECORD_LINES lines, its first line is given up and the others
    are handed out again, so one stray quote costs one row, not the rest of the file.
    """

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self.lines = lines
        self.pending: list[tuple[int, str]] = []
        self.record: list[tuple[int, str]] = []

    def start(self) -> None:
        self.record = []

    def give_up_record(self) -> int:
        """Drop the current record's first line (returned); re-read the lines after it."""
        first = self.record[0][0]
        self.pending = self.record[1:] + self.pending
        self.record = []
        return first

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if len(self.record) >= MAX_RECORD_LINES:
            raise _RecordTooLong
        item = self.pending.pop(0) if self.pending else next(self.lines)
        self.record.append(item)
        return item[1]


def _careful_rows(path: Path, state: dict[str, Any], start: int) -> Iterator[RawRow]:
    """Read on from line `start`, one physical line at a time, recovering from bad rows."""
    with _open_text(path) as handle:
        numbered = enumerate(handle, 1)
        for number, _ in numbered:
            if number == start - 1:
                break
        lines = _CarefulLines(numbered)
        layout: _Layout | None = state.get("layout")
        reader = csv.reader(lines, delimiter=state.get("delimiter", ","))
        while True:
            lines.start()
            try:
                row = next(reader, None)
                if row is not None and len(lines.record) > 1 and _swallowed(row):
                    raise _RecordTooLong
            except _RecordTooLong:
                line = lines.give_up_record()
                yield RawRow(line, problem="unterminated quote (the row runs on)")
                reader = csv.reader(lines, delimiter=state.get("delimiter", ","))
                continue
            except csv.Error as exc:
                yield RawRow(
                    lines.record[0][0] if lines.record else start, problem=f"unreadable: {exc}"
                )
                continue
            if row is None:
                return
            if not any(cell.strip() for cell in row):
                continue
            if layout is None:
                layout = _first_layout(row)
                if layout is not None:
                    continue
                layout = _Layout.headless(row)
            found = layout.row(lines.record[0][0], row)
            if found is not None:
                yield found


class _RecordTooLong(Exception):
    """An open quote swallowed more lines than any real record has."""


# -- import -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str  # "invalid address: ...", "duplicate of line 3", "suppressed (...)" ...

    @property
    def kind(self) -> str:
        return self.reason.split(" ", 1)[0].rstrip(":")


@dataclass
class ImportReport:
    """What an import did. `skipped` holds the first MAX_DETAILED skipped rows; counts are exact."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    skipped_count: int = 0
    skipped_by_kind: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    @property
    def rows(self) -> int:
        return self.imported + self.updated + self.unchanged + self.skipped_count

    def skip(self, line: int, reason: str) -> Skipped:
        item = Skipped(line, reason)
        self.skipped_count += 1
        self.skipped_by_kind[item.kind] += 1
        if len(self.skipped) < MAX_DETAILED:
            self.skipped.append(item)
        return item

    def as_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped_count,
            "skipped_by_kind": dict(self.skipped_by_kind),
            "dry_run": self.dry_run,
        }


_COUNTED = frozenset(("imported", "updated", "unchanged"))


def _skip_reason(row: ImportRow, outcome: str, detail: str) -> str:
    """Why a row the store did not take was skipped, as the report says it."""
    if outcome == "duplicate":
        return detail
    if outcome == "suppressed":
        return f"suppressed: {row.email} {detail}"
    return f"left: {row.email} is {detail}"


def import_csv(
    store: Store,
    list_id: int,
    path: Path,
    *,
    dry_run: bool = False,
    resubscribe: bool = False,
    origin: str | None = None,
    on_skip: Callable[[Skipped], None] | None = None,
    batch_size: int = BATCH_SIZE,
    reader: Literal["thread", "process"] | None = None,
) -> ImportReport:
    """Import a CSV file into a list; never aborts on a bad row.

    A row whose status column says unsubscribed/bounced/complained is imported as such (that is
    how leavers are carried over from another tool; it never re-activates anyone). `on_skip` is
    called for every skipped row, in file order, for a full report of a huge file. The file is
    parsed while the database writes: in a thread, or for a big file in a separate process
    (`reader` chooses; by default the file's size does), since parsing and validating holds the
    GIL for as long as the database takes.
    """
    report = ImportReport(dry_run=dry_run)
    origin = origin or f"import:{path.name}"

    def skip(line: int, reason: str) -> None:
        item = report.skip(line, reason)
        if on_skip is not None:
            on_skip(item)

    with store.import_session(
        list_id, origin=origin, resubscribe=resubscribe, dry_run=dry_run
    ) as session:

        def flush(batch: list[ImportRow], invalid: list[tuple[int, str]]) -> None:
            outcomes = session.apply(batch) if batch else []
            # counted in C; only the skipped rows are looked at one by one (a few, usually)
            counts = Counter(map(itemgetter(1), outcomes))
            report.imported += counts["imported"]
            report.updated += counts["updated"]
            report.unchanged += counts["unchanged"]
            skipped = [
                (row.line, _skip_reason(row, outcome, detail))
                for row, outcome, detail in outcomes
                if outcome not in _COUNTED
            ]
            # reported in file order: the batch's outcomes are, the invalid rows merge in
            for line, reason in heapq.merge(sorted(invalid), skipped):
                skip(line, reason)

        if reader is None:
            reader = "process" if _worth_a_process(path) else "thread"
        source = _from_process if reader == "process" else _prefetch
        for batch, invalid in source(path, batch_size):
            flush(batch, invalid)
    return report


def _worth_a_process(path: Path) -> bool:
    """A reading process pays off on a big file and a machine with a core to spare."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size >= PROCESS_MIN_BYTES and (os.cpu_count() or 1) > 1


Batch = tuple[list[ImportRow], list[tuple[int, str]]]


def _batches(path: Path, batch_size: int) -> Iterator[Batch]:
    """Rows read and normalized, in batches: (valid rows, (line, reason) of invalid ones)."""
    batch: list[ImportRow] = []
    invalid: list[tuple[int, str]] = []
    for raw in read_rows(path):
        if raw.problem is not None:
            invalid.append((raw.line, f"malformed: {raw.problem}"))
        elif not raw.email:
            invalid.append((raw.line, "invalid address: the row has no address"))
        else:
            try:
                email = normalize_email(raw.email)
            except EmailNotValidError as exc:
                invalid.append((raw.line, f"invalid address: {raw.email!r}: {exc}"))
            else:
                status = raw.status if raw.status in MembershipStatus.INACTIVE else _ACTIVE
                batch.append(ImportRow(raw.line, email, raw.name, raw.attributes, status))
        if len(batch) >= batch_size or len(invalid) >= batch_size:
            yield batch, invalid
            batch, invalid = [], []
    if batch or invalid:
        yield batch, invalid


_DONE = object()


def _prefetch(path: Path, batch_size: int, depth: int = 2) -> Iterator[Batch]:
    """Read the next batches in a thread while the database applies this one.

    The database drivers release the GIL while SQLite steps or PostgreSQL works, so parsing
    overlaps with writing. At most `depth` batches wait, so memory stays bounded; an error in
    the reader is raised here; leaving early stops the reader.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in batches:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
            return
        put(_DONE)

    batches = _batches(path, batch_size)
    reader = threading.Thread(target=produce, name="digest-import-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


def _reader_main() -> None:
    """The reading process: batches as pickled plain tuples on stdout, then None (or an error).

    Run as `python -c` (see `_from_process`), so nothing of the importing program's main
    module is run again, as multiprocessing's spawn would.
    """
    path, batch_size = sys.argv[1], int(sys.argv[2])
    out = sys.stdout.buffer
    try:
        for batch, invalid in _batches(Path(path), batch_size):
            pickle.dump(([tuple(row) for row in batch], invalid), out, pickle.HIGHEST_PROTOCOL)
        pickle.dump(None, out)
    except Exception as exc:  # handed to the importing process, which raises it
        pickle.dump(RuntimeError(f"reading {path} failed: {exc!r}"), out)
    out.flush()


def _from_process(path: Path, batch_size: int) -> Iterator[Batch]:
    """Read and validate the file in another process (a second core; no GIL shared).

    The pipe holds little, so the reader is at most a batch or two ahead and memory stays
    bounded; leaving early stops it.
    """
    root = str(Path(__file__).resolve().parents[1])  # where the digest package lives
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from digest.subscribers import _reader_main; _reader_main()",
            str(path),
            str(batch_size),
        ],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    make = ImportRow._make
    try:
        while True:
            try:
                item = pickle.load(process.stdout)
            except EOFError:
                raise RuntimeError(f"the process reading {path} ended early") from None
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            rows, invalid = item
            yield [make(row) for row in rows], invalid
    finally:
        process.stdout.close()
        if process.poll() is None:
            process.terminate()
        process.wait()


# -- export -----------------------------------------------------------------------------------


def export_csv(
    store: Store, list_id: int, out: TextIO, *, status: MembershipStatus | None = None
) -> int:
    """Write a list's members as CSV (email, name, status, joined, origin, attributes...).

    Two passes over the store, streamed: the first finds the attribute columns, the second
    writes. The file imports back as it is (its status column carries leavers over).
    """
    keys: dict[str, None] = {}
    for member in store.members(list_id, status):
        for key in member.attributes:
            keys.setdefault(key, None)
    fixed = ["email", "name", "status", "joined", "origin"]
    columns = [key for key in keys if key.lower() not in {*fixed, *EMAIL_HEADERS}]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fixed + columns)
    count = 0
    for member in store.members(list_id, status):
        joined = member.created_at.isoformat(timespec="seconds") if member.created_at else ""
        writer.writerow(
            [member.email, member.name, member.status or "", joined, member.origin or ""]
            + [str(member.attributes.get(key, "")) for key in columns]
        )
        count += 1
    return count
