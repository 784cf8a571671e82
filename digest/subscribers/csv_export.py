"""CSV export: a list's members as a file that imports back as it is.

By default the file is safe to open in a spreadsheet: a cell starting with `=`, `+`, `-`, `@`,
a tab or a carriage return (what a spreadsheet would run as a formula) gets a `'` in front, as
does one starting with `'`s and then such a character, so the import, which takes one `'` off
those cells, gives back every value exactly. `raw=True` writes the values verbatim.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from digest.models import MembershipStatus
from digest.store import Store
from digest.subscribers.csv_reader import EMAIL_HEADERS, FORMULA_TRIGGERS, PROTECTED

__all__ = ["EXPORT_COLUMNS", "export_csv", "protect_cell"]

# The fixed columns, then one per attribute. An import reads `status` back (leavers stay
# leavers) and ignores `joined` and `origin`, which the store sets itself.
EXPORT_COLUMNS = ("email", "name", "status", "joined", "origin")
_FIRST = frozenset(FORMULA_TRIGGERS + "'")  # a cell starting otherwise is never protected


def protect_cell(value: str) -> str:
    """The cell as a spreadsheet shows it as text (`=1+1` -> `'=1+1`, `'=x` -> `''=x`)."""
    if value[:1] in _FIRST and (value[0] != "'" or PROTECTED.match(value)):
        return "'" + value
    return value


def _protect_row(cells: list[str]) -> list[str]:
    return [protect_cell(cell) for cell in cells]


def _verbatim(cells: list[str]) -> list[str]:
    return cells


def export_csv(
    store: Store,
    list_id: int,
    out: TextIO | Path,
    *,
    status: MembershipStatus | None = None,
    raw: bool = False,
) -> int:
    """Write a list's members as CSV (email, name, status, joined, origin, attributes...) to a
    stream or a file (UTF-8); returns how many.

    Two passes over the store, streamed: the first finds the attribute columns, the second
    writes. The file imports back as it is (its status column carries leavers over). Cells are
    protected from spreadsheets (see above) unless `raw`.
    """
    if isinstance(out, Path):
        with open(out, "w", encoding="utf-8", newline="") as handle:
            return export_csv(store, list_id, handle, status=status, raw=raw)
    keys: dict[str, None] = {}
    for member in store.members(list_id, status):
        for key in member.attributes:
            keys.setdefault(key, None)
    fixed = list(EXPORT_COLUMNS)
    columns = [key for key in keys if key.lower() not in {*fixed, *EMAIL_HEADERS}]
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a field holding a CR is quoted
    cells = _verbatim if raw else _protect_row
    writer.writerow(cells(fixed + columns))
    count = 0
    for member in store.members(list_id, status):
        joined = member.created_at.isoformat(timespec="seconds") if member.created_at else ""
        writer.writerow(
            cells(
                [member.email, member.name, member.status or "", joined, member.origin or ""]
                + [str(member.attributes.get(key, "")) for key in columns]
            )
        )
        count += 1
    return count
