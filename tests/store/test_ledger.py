"""The delivery ledger: leased batches, outcomes, expired leases, leavers; on both engines."""

from __future__ import annotations

from datetime import timedelta

from digest.models import Outcome, SendResult
from digest.store import Store
from tests.store.helpers import draft_issue


def test_ledger_claims_disjoint_batches_and_records_outcomes(store: Store) -> None:
    issue_id, list_id = draft_issue(store, members=7)
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
    issue_id, list_id = draft_issue(store, members=2)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    dead = store.claim_batch(issue_id, list_id, "dead", 10, timedelta(seconds=-1))
    assert len(dead) == 2
    taken = store.claim_batch(issue_id, list_id, "alive", 10, timedelta(minutes=5))
    assert [r.id for r in taken] == [r.id for r in dead]
    assert all(r.attempts == 2 for r in taken)


def test_leavers_after_freezing_are_skipped_not_sent(store: Store) -> None:
    issue_id, list_id = draft_issue(store, members=3)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    store.suppress("r0@example.org", "hard bounce")
    leaver = store.subscriber_by_email("r1@example.org")
    assert leaver is not None
    store.set_membership_status(list_id, leaver.id, "unsubscribed")
    claimed = store.claim_batch(issue_id, list_id, "a", 10, timedelta(minutes=5))
    assert [r.email for r in claimed] == ["r2@example.org"]
    assert store.delivery_counts(issue_id) == {"skipped": 2, "sending": 1}
