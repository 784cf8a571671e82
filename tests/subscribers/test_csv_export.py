"""CSV export: a list written out imports back as it is, leavers included."""

from __future__ import annotations

import io
from pathlib import Path

from digest.store import Store
from digest.subscribers import export_csv, import_csv
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
