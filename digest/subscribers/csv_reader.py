"""Reading an operator's CSV file into rows, whatever shape it comes in.

The encoding is found by BOM (UTF-16), else UTF-8 with Latin-1 for any byte that is not (line by
line), the delimiter by counting (comma, semicolon or tab), and the header by whether the first
row holds an address. A row that cannot be read comes back with its problem, never raises: one
stray quote costs one row, not the rest of the file; nor does a NUL byte or another control
character (the row is skipped with the character and the column named: PostgreSQL refuses NUL
in text, and an address or a name goes into message headers). A cell the export protected from
spreadsheets (`'=...`) is read back without its `'` (`unprotect_cell`).
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, TextIO

__all__ = [
    "EMAIL_HEADERS",
    "FORMULA_TRIGGERS",
    "PROTECTED",
    "RawRow",
    "read_rows",
    "unprotect_cell",
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
IGNORED_HEADERS = {"joined", "origin"}  # written by the export, set by the store itself
MAX_RECORD_LINES = 50  # a quoted field running over more lines is an unterminated quote
# Control characters a row may not hold anywhere (C0 but tab and line breaks, DEL); C1 stays:
# it is what Windows-1252 punctuation becomes through the Latin-1 fallback.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BREAK = re.compile(r"[\t\n\r]")  # fine in a quoted note, not in an address or a name
# A cell a spreadsheet would run as a formula starts with one of these (a tab or CR can hide
# one); the export puts `'` before it, and before any run of `'`s followed by one, so that
# taking exactly one `'` off here gives back every value as it was (`unprotect_cell`).
FORMULA_TRIGGERS = "=+-@\t\r"
PROTECTED = re.compile(r"'+[=+\-@\t\r]")


def unprotect_cell(cell: str) -> str:
    """The value behind a cell the export protected from spreadsheets (`'=1+1` is `=1+1`,
    `''=x` is `'=x`); any other cell as it is, a lone leading `'` included."""
    return cell[1:] if cell[:1] == "'" and PROTECTED.match(cell) else cell


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
        lowered = [unprotect_cell(_CONTROL.sub("", cell).strip()).lower() for cell in row]
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
        joined = "".join(cells)  # taking a ' off changes nothing the checks below look for
        if not joined:
            return None
        if "'" in joined:
            cells = [c[1:] if c[:1] == "'" and PROTECTED.match(c) else c for c in cells]
        width = self.width
        if len(cells) > width:
            if any(cells[width:]):
                return RawRow(line, problem=f"{len(cells)} fields where the header has {width}")
        elif len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        name = cells[self.name] if self.name is not None else ""
        if not name and self.name_parts:
            name = " ".join([cells[i] for i in self.name_parts if cells[i]])
        if _CONTROL.search(joined) or _BREAK.search(cells[self.email] + name):
            return RawRow(line, problem=self._control_problem(cells, name))
        return RawRow(
            line,
            cells[self.email],
            name,
            {key: cells[i] for i, key in self.attributes if cells[i]},
            cells[self.status].lower() if self.status is not None else "",
        )

    def _control_problem(self, cells: list[str], name: str) -> str:
        """Which control character the row holds, and in which column (never its text)."""
        named = [(self.names[self.email], cells[self.email], _BREAK), ("name", name, _BREAK)]
        named += [(self.names[i], cell, _CONTROL) for i, cell in enumerate(cells)]
        for column, value, pattern in named:
            found = _CONTROL.search(value) or pattern.search(value)
            if found:
                return f"control character U+{ord(found.group()):04X} in column {column!r}"
        raise AssertionError("no control character found")  # pragma: no cover


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
