"""CSV export: a list's members as a file that imports back as it is."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TextIO

from digest.models import MembershipStatus
from digest.store import Store
from digest.subscribers.csv_reader import EMAIL_HEADERS

__all__ = ["EXPORT_COLUMNS", "export_csv"]

# The fixed columns, then one per attribute. An import reads `status` back (leavers stay
# leavers) and ignores `joined` and `origin`, which the store sets itself.
EXPORT_COLUMNS = ("email", "name", "status", "joined", "origin")


def export_csv(
    store: Store, list_id: int, out: TextIO | Path, *, status: MembershipStatus | None = None
) -> int:
    """Write a list's members as CSV (email, name, status, joined, origin, attributes...) to a
    stream or a file (UTF-8); returns how many.

    Two passes over the store, streamed: the first finds the attribute columns, the second
    writes. The file imports back as it is (its status column carries leavers over).
    """
    if isinstance(out, Path):
        with open(out, "w", encoding="utf-8", newline="") as handle:
            return export_csv(store, list_id, handle, status=status)
    keys: dict[str, None] = {}
    for member in store.members(list_id, status):
        for key in member.attributes:
            keys.setdefault(key, None)
    fixed = list(EXPORT_COLUMNS)
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
