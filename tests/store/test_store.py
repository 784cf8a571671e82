"""The store's guarantees, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading
from datetime import timedelta

from digest.models import Outcome, SendResult
from digest.store import Store, db
from digest.store.db import current_revision


def _frozen_issue(store: Store, members: int = 5) -> tuple[int, int]:
    list_id = store.ensure_list("readers", "Readers")
    for n in range(members):
        store.upsert_subscriber(list_id, f"r{n}@example.org", name=f"Reader {n}")
    issue_id = store.claim_issue("weekly", "2026-W48", "test")
    assert issue_id is not None
    store.save_draft(issue_id, subject="S", html="<p>h</p>", text="t", content={}, report={})
    return issue_id, list_id


def _heads() -> list[str]:
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    return list(ScriptDirectory.from_config(config).get_heads())


def test_migrations_form_one_chain_and_are_applied(store: Store) -> None:
    heads = _heads()
    assert len(heads) == 1, f"migrations branch: {heads}"
    assert current_revision(store.engine) == heads[0]
    assert heads[0] == db.HEAD_REVISION, "update HEAD_REVISION with each new migration"
    assert db.is_current(store.engine)


def test_a_period_is_claimed_exactly_once(store: Store) -> None:
    winners: list[int | None] = []

    def claim() -> None:
        winners.append(store.claim_issue("weekly", "2026-W48", threading.current_thread().name))

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([w for w in winners if w is not None]) == 1
    assert store.claim_issue("weekly", "2026-W49", "x") is not None


def test_freeze_plans_one_delivery_per_active_unsuppressed_member(store: Store) -> None:
    issue_id, list_id = _frozen_issue(store, members=5)
    leaver = store.subscriber_by_email("r1@example.org")
    assert leaver is not None
    store.set_membership_status(list_id, leaver.id, "unsubscribed")
    store.suppress("r2@example.org", "complaint")
    planned = store.freeze_issue(issue_id, "weekly", list_id, ["a", "b", "a"])
    assert planned == 3
    assert store.delivery_counts(issue_id) == {"pending": 3}
    assert store.sent_article_keys("weekly", ["a", "b", "c"]) == {"a", "b"}
    assert store.get_issue(issue_id).status == "frozen"


def test_ledger_claims_disjoint_batches_and_records_outcomes(store: Store) -> None:
    issue_id, list_id = _frozen_issue(store, members=7)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    first = store.claim_batch(issue_id, list_id, "a", 4, timedelta(minutes=5))
    second = store.claim_batch(issue_id, list_id, "b", 4, timedelta(minutes=5))
    assert len(first) == 4 and len(second) == 3
    assert not {r.id for r in first} & {r.id for r in second}
    assert store.claim_batch(issue_id, list_id, "c", 4, timedelta(minutes=5)) == []
    results = [
        SendResult(first[0].id, Outcome.SENT, "m-1"),
        SendResult(first[1].id, Outcome.FAILED, error="invalid"),
        SendResult(first[2].id, Outcome.SUPPRESSED, error="inactive"),
        SendResult(first[3].id, Outcome.RETRY, error="busy"),
    ]
    store.record_results(results, retry_at={})
    counts = store.delivery_counts(issue_id)
    assert counts == {"sent": 1, "failed": 1, "suppressed": 1, "retry": 1, "sending": 3}
    assert store.is_suppressed(first[2].email)


def test_expired_leases_are_taken_over(store: Store) -> None:
    issue_id, list_id = _frozen_issue(store, members=2)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    dead = store.claim_batch(issue_id, list_id, "dead", 10, timedelta(seconds=-1))
    assert len(dead) == 2
    taken = store.claim_batch(issue_id, list_id, "alive", 10, timedelta(minutes=5))
    assert [r.id for r in taken] == [r.id for r in dead]
    assert all(r.attempts == 2 for r in taken)


def test_leavers_after_freezing_are_skipped_not_sent(store: Store) -> None:
    issue_id, list_id = _frozen_issue(store, members=3)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    store.suppress("r0@example.org", "hard bounce")
    leaver = store.subscriber_by_email("r1@example.org")
    assert leaver is not None
    store.set_membership_status(list_id, leaver.id, "unsubscribed")
    claimed = store.claim_batch(issue_id, list_id, "a", 10, timedelta(minutes=5))
    assert [r.email for r in claimed] == ["r2@example.org"]
    assert store.delivery_counts(issue_id) == {"skipped": 2, "sending": 1}


def test_unsubscribed_members_are_never_resubscribed_silently(store: Store) -> None:
    list_id = store.ensure_list("readers")
    assert store.upsert_subscriber(list_id, "a@example.org", name="A") == "imported"
    assert store.upsert_subscriber(list_id, "a@example.org", name="A") == "unchanged"
    row = store.subscriber_by_email("a@example.org")
    assert row is not None
    store.set_membership_status(list_id, row.id, "unsubscribed")
    assert store.upsert_subscriber(list_id, "a@example.org", name="A") == "unchanged"
    assert store.count_members(list_id) == {"unsubscribed": 1}
    assert store.upsert_subscriber(list_id, "a@example.org", resubscribe=True) == "updated"
    assert store.count_members(list_id) == {"active": 1}


def test_source_health_counts_failures(store: Store) -> None:
    store.record_source_result("feed", error="HTTP 500", items=0)
    store.record_source_result("feed", error="timed out", items=0)
    health = store.source_health()["feed"]
    assert health["consecutive_failures"] == 2 and health["last_error"] == "timed out"
    store.record_source_result("feed", error=None, items=20, new_items=3)
    health = store.source_health()["feed"]
    assert health["consecutive_failures"] == 0 and health["items_seen"] == 20
    assert health["last_new_item"] is not None
