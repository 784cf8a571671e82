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
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, TextIO

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import DOT_ATOM_TEXT

from digest.store import Store
from digest.store.subscribers import ACTIVE, INACTIVE_STATUSES, ImportRow

__all__ = [
    "ImportReport",
    "Skipped",
    "export_csv",
    "import_csv",
    "normalize_email",
    "read_rows",
]

EMAIL_HEADERS = {
    "email", "e-mail", "mail", "address", "email address", "e-mail address", "email_address",
    "emailaddress", "courriel", "correo", "e-mail-adresse",
}
NAME_HEADERS = {"name", "full name", "full_name", "fullname", "display name"}
FIRST_NAME_HEADERS = {"first name", "first_name", "firstname", "given name", "vorname"}
LAST_NAME_HEADERS = {"last name", "last_name", "lastname", "surname", "family name", "nachname"}
STATUS_HEADERS = {"status"}
IGNORED_HEADERS = {"joined", "origin"}  # written by `export`, recomputed by the store
BATCH_SIZE = 2000
MAX_DETAILED = 1000  # skipped rows kept in the report; the rest are counted (and streamed)
MAX_RECORD_LINES = 50  # a quoted field running over more lines is an unterminated quote
_CASE_INSENSITIVE_MAILBOXES = {
    "info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster",
    "hostmaster", "usenet", "news", "webmaster", "www", "uucp", "ftp",
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


class _RecordTooLong(Exception):
    """An open quote swallowed more lines than any real record has."""


class _Lines:
    """Decoded lines of a file, numbered, with a guard against a runaway quoted field.

    Each line is decoded on its own: UTF-8 when it is, else Latin-1, so one stray Latin-1 line
    deep in a UTF-8 file does not garble the rest. A UTF-16 BOM switches to UTF-16 for the file.
    """

    def __init__(self, handle: IO[bytes]) -> None:
        head = handle.read(4)
        handle.seek(0)
        self._text: Iterator[str]
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            wrapper = codecs.getreader("utf-16")(handle, errors="replace")
            self._text = iter(wrapper.readline, "")
        else:
            if head.startswith(codecs.BOM_UTF8):
                handle.read(3)
            self._text = (self._decode(raw) for raw in handle)
        self.number = 0  # physical line number of the last line handed out
        self.record_start = 1
        self.pending: list[tuple[int, str]] = []  # lines to hand out again after a bad record
        self.record: list[tuple[int, str]] = []  # lines of the record being read

    @staticmethod
    def _decode(raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def peek_first(self) -> str:
        """The first line, kept to be handed out again."""
        for line in self._text:
            self.pending.append((1, line))
            return line
        return ""

    def start_record(self) -> None:
        self.record = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if len(self.record) >= MAX_RECORD_LINES:
            raise _RecordTooLong
        if self.pending:
            self.number, line = self.pending.pop(0)
        else:
            line = next(self._text)
            self.number += 1
        if not self.record:
            self.record_start = self.number
        self.record.append((self.number, line))
        return line


def _sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


@dataclass
class _Layout:
    """Which column holds what, from the header (or from the first row when there is none)."""

    names: list[str]
    email: int
    name: int | None = None
    first_name: int | None = None
    last_name: int | None = None
    status: int | None = None
    ignored: set[int] = field(default_factory=set)

    @classmethod
    def from_header(cls, row: list[str]) -> _Layout | None:
        lowered = [cell.strip().lower() for cell in row]
        email = next((i for i, c in enumerate(lowered) if c in EMAIL_HEADERS), None)
        if email is None:
            email = next(
                (i for i, c in enumerate(lowered) if "mail" in c or "correo" in c), None
            )
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
            ignored={i for i, c in enumerate(lowered) if c in IGNORED_HEADERS},
        )

    @classmethod
    def headless(cls, row: list[str]) -> _Layout:
        """No header: the address is the first cell holding an @, the name the next one."""
        email = next((i for i, c in enumerate(row) if "@" in c), 0)
        name = next((i for i in range(len(row)) if i != email), None)
        names = [f"field{i + 1}" for i in range(len(row))]
        return cls(names=names, email=email, name=name)

    def reserved(self) -> set[int]:
        fixed = (self.email, self.name, self.status)
        return {i for i in fixed if i is not None} | self.ignored


@dataclass(frozen=True)
class RawRow:
    """One row as read: line number, the cells it had, or why it could not be read."""

    line: int
    email: str = ""
    name: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    status: str = ""
    problem: str | None = None


def read_rows(path: Path) -> Iterator[RawRow]:
    """Stream the rows of a CSV file; unreadable ones come with their problem, never raise."""
    with open(path, "rb") as handle:
        yield from _read(handle)


def _read(handle: IO[bytes]) -> Iterator[RawRow]:
    lines = _Lines(handle)
    first = lines.peek_first()
    delimiter = _sniff_delimiter(first)
    layout: _Layout | None = None
    while True:
        reader = csv.reader(lines, delimiter=delimiter, strict=False)
        try:
            for row in _records(reader, lines):
                line = lines.record_start
                if not any(cell.strip() for cell in row):
                    continue
                if layout is None:
                    header = _Layout.from_header(row) if "@" not in "".join(row) else None
                    if header is not None:
                        layout = header
                        continue
                    layout = _Layout.headless(row)
                yield _row(layout, line, row)
            return
        except _RecordTooLong:
            start = lines.record[0][0]
            yield RawRow(start, problem="unterminated quote (the row runs on over many lines)")
            lines.pending = lines.record[1:] + lines.pending  # read on from the next line
            lines.record = []
        except csv.Error as exc:
            yield RawRow(lines.record_start, problem=f"unreadable row: {exc}")
            lines.record = []


def _records(reader: Any, lines: _Lines) -> Iterator[list[str]]:
    while True:
        lines.start_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        yield row


def _row(layout: _Layout, line: int, row: list[str]) -> RawRow:
    if len(row) > len(layout.names):
        extra = row[len(layout.names):]
        if any(cell.strip() for cell in extra):
            return RawRow(
                line, problem=f"{len(row)} fields where the header has {len(layout.names)}"
            )
    cells = [cell.strip() for cell in row]

    def cell(index: int | None) -> str:
        return cells[index] if index is not None and index < len(cells) else ""

    name = cell(layout.name)
    if not name and (layout.first_name is not None or layout.last_name is not None):
        name = " ".join(part for part in (cell(layout.first_name), cell(layout.last_name)) if part)
    reserved = layout.reserved()
    attributes = {
        layout.names[i]: value
        for i, value in enumerate(cells[: len(layout.names)])
        if value and i not in reserved
    }
    return RawRow(
        line, cell(layout.email), name, attributes, cell(layout.status).lower()
    )


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


_SKIP_KIND = {"duplicate": "duplicate", "suppressed": "suppressed", "left": "left"}


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
) -> ImportReport:
    """Import a CSV file into a list; never aborts on a bad row.

    A row whose status column says unsubscribed/bounced/complained is imported as such (that is
    how leavers are carried over from another tool; it never re-activates anyone). `on_skip` is
    called for every skipped row, in file order, for a full report of a huge file.
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
            # report in file order: merge the invalid rows with the batch's outcomes
            pending = sorted(invalid)
            position = 0
            for row, outcome, detail in outcomes:
                while position < len(pending) and pending[position][0] < row.line:
                    skip(*pending[position])
                    position += 1
                if outcome in ("imported", "updated", "unchanged"):
                    setattr(report, outcome, getattr(report, outcome) + 1)
                elif outcome == "duplicate":
                    skip(row.line, detail)
                elif outcome == "suppressed":
                    skip(row.line, f"suppressed: {row.email} {detail}")
                else:
                    skip(row.line, f"left: {row.email} is {detail}")
            for item in pending[position:]:
                skip(*item)

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
                    status = raw.status if raw.status in INACTIVE_STATUSES else ACTIVE
                    batch.append(ImportRow(raw.line, email, raw.name, raw.attributes, status))
            if len(batch) >= batch_size or len(invalid) >= batch_size:
                flush(batch, invalid)
                batch, invalid = [], []
        flush(batch, invalid)
    return report


# -- export -----------------------------------------------------------------------------------


def export_csv(store: Store, list_id: int, out: TextIO, *, status: str | None = None) -> int:
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


def write_skipped(items: Iterable[Skipped], out: TextIO = sys.stdout) -> None:
    for item in items:
        out.write(f"line {item.line}: {item.reason}\n")

