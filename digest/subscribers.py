"""Subscribers in and out: CSV import (streamed, never aborting on a bad row) and export.

Import detects a BOM, UTF-8 or Latin-1, comma or semicolon, and whether the first row is a
header. A bad row is skipped with its line number and reason; re-importing the same file changes
nothing; someone who left the list is never put back unless the operator says so.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from digest.store import Store

EMAIL_HEADERS = {"email", "e-mail", "mail", "address", "email address", "email_address"}
NAME_HEADERS = {"name", "full name", "full_name", "fullname"}


def normalize_email(raw: str) -> str:
    """The address as stored: syntax checked (no DNS), domain lower-cased, IDNA-normalized."""
    checked = validate_email(raw.strip(), check_deliverability=False)
    local, _, domain = checked.normalized.rpartition("@")
    return f"{local}@{domain.lower()}"


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def rows(self) -> int:
        return self.imported + self.updated + self.unchanged + len(self.skipped)


def _decode_lines(path: Path) -> Iterator[str]:
    """Lines of the file as text: UTF-8 (BOM or not), else Latin-1; streamed."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
        handle.seek(0)
        encoding = "utf-8-sig"
        try:
            head.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a multi-byte char cut at the buffer's end
                encoding = "latin-1"
        yield from io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="")


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
    """(line number, row as {email, name, attributes...} or None, reason when None)."""
    lines = _decode_lines(path)
    first = next(lines, "")
    delimiter = ";" if first.count(";") > first.count(",") else ","

    def chain() -> Iterator[str]:
        yield first
        yield from lines

    reader = csv.reader(chain(), delimiter=delimiter)
    header: list[str] | None = None
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if header is None and line == 1:
            lowered = [cell.strip().lower() for cell in row]
            if any(cell in EMAIL_HEADERS for cell in lowered):
                header = lowered
                continue
            header = ["email", "name"] + [f"field{i}" for i in range(3, len(row) + 1)]
        assert header is not None
        if len(row) > len(header):
            yield line, None, f"{len(row)} fields, the header has {len(header)}"
            continue
        record = {header[i]: cell.strip() for i, cell in enumerate(row)}
        email_key = next((h for h in header if h in EMAIL_HEADERS), "email")
        name_key = next((h for h in header if h in NAME_HEADERS), "name")
        out = {"email": record.get(email_key, ""), "name": record.get(name_key, "")}
        for key, value in record.items():
            if key not in (email_key, name_key) and value:
                out[key] = value
        yield line, out, None


def import_csv(
    store: Store,
    list_id: int,
    path: Path,
    *,
    dry_run: bool = False,
    resubscribe: bool = False,
    origin: str | None = None,
) -> ImportReport:
    report = ImportReport()
    seen: set[str] = set()
    origin = origin or f"import:{path.name}"
    for line, row, problem in read_rows(path):
        if row is None:
            report.skipped.append((line, problem or "unreadable row"))
            continue
        try:
            email = normalize_email(row.pop("email"))
        except EmailNotValidError as exc:
            report.skipped.append((line, f"invalid address: {exc}"))
            continue
        if email in seen:
            report.skipped.append((line, f"duplicate of an earlier row ({email})"))
            continue
        seen.add(email)
        if store.is_suppressed(email):
            report.skipped.append((line, f"suppressed ({email})"))
            continue
        name = row.pop("name", "")
        if dry_run:
            existing = store.subscriber_by_email(email)
            report.imported += existing is None
            report.unchanged += existing is not None
            continue
        outcome = store.upsert_subscriber(
            list_id, email, name=name, attributes=row, origin=origin, resubscribe=resubscribe
        )
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report
