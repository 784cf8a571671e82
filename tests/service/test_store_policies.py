"""The store's part of the scheduling policies, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select, update

from digest.dates import utcnow
from digest.store import Store, tables
from tests.service.helpers import add_subscribers

deliveries, issues, subscribers = tables.deliveries, tables.issues, tables.subscribers

LEASE = timedelta(minutes=5)


def _draft(store: Store, period: str = "2026-W48") -> int:
    issue_id = store.claim_issue("weekly", period, "test")
    assert issue_id is not None
    store.save_draft(issue_id, subject="S", html="<p>h</p>", text="t", content={}, report={})
    return issue_id


def test_the_schedule_migration_is_applied(store: Store) -> None:
    from sqlalchemy import inspect

    assert store.revision() is not None
    columns = {column["name"] for column in inspect(store.engine).get_columns("deliveries")}
    assert "not_before" in columns


def test_local_hour_plan_holds_deliveries_and_the_claim_respects_it(store: Store) -> None:
    zones = ["Asia/Tokyo", "America/New_York", "Not/AZone"]
    list_id = add_subscribers(store, 6, zones=zones)
    with store.engine.begin() as conn:  # the column wins over the attribute
        conn.execute(
            update(subscribers)
            .where(subscribers.c.email == "reader00000@example.org")
            .values(timezone="Europe/Lisbon")
        )
    issue_id = _draft(store)
    frozen_at = datetime(2026, 11, 26, 8, tzinfo=UTC)
    with time_machine.travel(frozen_at, tick=False):
        assert (
            store.freeze_issue(
                issue_id, "weekly", list_id, [], local_hour=7, default_zone="Europe/Berlin"
            )
            == 6
        )
        assert store.claim_batch(issue_id, list_id, "a", 100, LEASE) == []
        assert store.next_due(issue_id) == datetime(2026, 11, 26, 12, tzinfo=UTC)
    with store.engine.connect() as conn:
        held = dict(
            conn.execute(
                select(deliveries.c.email, deliveries.c.not_before).where(
                    deliveries.c.issue_id == issue_id
                )
            ).all()
        )
    as_utc = {
        email: value.replace(tzinfo=UTC) if value.tzinfo is None else value
        for email, value in held.items()
    }
    assert as_utc["reader00000@example.org"] == datetime(2026, 11, 27, 7, tzinfo=UTC)  # Lisbon
    assert as_utc["reader00001@example.org"] == datetime(2026, 11, 26, 12, tzinfo=UTC)  # NY
    assert as_utc["reader00002@example.org"] == datetime(2026, 11, 27, 6, tzinfo=UTC)  # Berlin
    assert as_utc["reader00003@example.org"] == datetime(2026, 11, 26, 22, tzinfo=UTC)  # Tokyo
    with time_machine.travel(datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC), tick=False):
        claimed = store.claim_batch(issue_id, list_id, "a", 100, LEASE)
    assert {row.email for row in claimed} == {"reader00001@example.org", "reader00004@example.org"}


def test_without_local_hour_nothing_is_held(store: Store) -> None:
    list_id = add_subscribers(store, 3)
    issue_id = _draft(store)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    assert store.next_due(issue_id) is not None
    assert store.next_due(issue_id) <= utcnow()  # type: ignore[operator]
    assert len(store.claim_batch(issue_id, list_id, "a", 100, LEASE)) == 3


def test_a_draft_past_its_deadline_is_dropped_by_exactly_one_process(store: Store) -> None:
    old = _draft(store, "2026-W47")
    fresh = _draft(store, "2026-W48")
    with store.engine.begin() as conn:
        conn.execute(
            update(issues).where(issues.c.id == old).values(built_at=utcnow() - timedelta(hours=5))
        )
    assert store.drafts_built_before("weekly", utcnow() - timedelta(hours=4)) == [old]
    assert store.drafts_built_before("other", utcnow()) == []
    outcomes: list[bool] = []

    def drop() -> None:
        outcomes.append(store.drop_draft(old, "not approved within 4h; dropped"))

    threads = [threading.Thread(target=drop) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, False, False, False, True]
    dropped = store.get_issue(old)
    assert dropped.status == "dropped" and dropped.report["reason"].endswith("dropped")
    assert dropped.completed_at is not None
    assert store.get_issue(fresh).status == "draft"


def test_notes_and_last_claim(store: Store) -> None:
    assert store.last_claimed_at("weekly") is None
    issue_id = _draft(store)
    store.set_issue_status(issue_id, "sending")
    store.note_on_issue(issue_id, "approval", "sent as built")
    issue = store.get_issue(issue_id)
    assert issue.status == "sending" and issue.report == {"approval": "sent as built"}
    claimed = store.last_claimed_at("weekly")
    assert claimed is not None and abs(claimed - utcnow()) < timedelta(minutes=1)
