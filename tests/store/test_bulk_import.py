"""The import engine on the real PostgreSQL: its two connections and a writer racing them.

The import's rules, row by row and batched, are tested through `import_csv` on both engines in
tests/subscribers/test_csv_import.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from digest.store import ImportSession, SplitImport, open_store
from digest.subscribers import import_csv


def test_an_address_stored_meanwhile_by_another_writer_still_gets_its_membership(
    postgres_url: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL writes a new subscriber and its membership in one statement; an address that
    someone else stored between staging and writing is left to them, and still joins the list."""
    store = open_store(postgres_url, home)
    try:
        list_id = store.ensure_list("readers")
        other = store.ensure_list("other")
        assert isinstance(store.import_session(list_id, origin="t"), SplitImport)
        stage = ImportSession._stage
        raced: list[str] = []

        def stage_then_race(self: ImportSession, bulk: Any, rows: list[Any]) -> None:
            stage(self, bulk, rows)
            if not raced and any(row.email == "b@example.org" for row in rows):
                raced.append("b@example.org")  # committed by another connection, meanwhile
                store.upsert_subscriber(other, "b@example.org", name="Writer")

        monkeypatch.setattr(ImportSession, "_stage", stage_then_race)
        path = tmp_path / "l.csv"
        path.write_text("email,name\na@example.org,A\nb@example.org,B\nc@example.org,C\n")
        report = import_csv(store, list_id, path)
        assert raced == ["b@example.org"]
        assert (report.imported, report.updated, report.unchanged) == (3, 0, 0)
        assert store.count_members(list_id) == {"active": 3}
        member = store.subscriber_by_email("b@example.org")
        assert member is not None and member.name == "Writer"  # their row, not overwritten
        assert store.membership_status(other, member.id) == "active"
    finally:
        store.close()
