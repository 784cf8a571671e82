"""The delivery ledger: leased batches, outcomes, expired leases, deliveries in doubt, leavers;
on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from digest.dates import utcnow
from digest.models import DeliveryStatus, Outcome, SendResult
from digest.store import Store, tables
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


def test_an_expired_lease_is_taken_over_alone_as_it_was_leased_and_in_doubt(store: Store) -> None:
    """A dead sender's batch comes back whole (an idempotency key derived from it is the same),
    not mixed with pending rows, and each of its rows is in doubt since its claim."""
    issue_id, list_id = draft_issue(store, members=7)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    busy = store.claim_batch(issue_id, list_id, "busy", 2, timedelta(minutes=5))
    dead = store.claim_batch(issue_id, list_id, "dead", 3, timedelta(seconds=-1))
    assert not any(r.in_doubt for r in dead + busy)
    taken = store.claim_batch(issue_id, list_id, "alive", 10, timedelta(minutes=5))
    assert [r.id for r in taken] == [r.id for r in dead]
    assert all(r.in_doubt and r.in_doubt_since is not None for r in taken)
    rest = store.claim_batch(issue_id, list_id, "alive", 10, timedelta(minutes=5))
    assert len(rest) == 2 and not any(r.in_doubt for r in rest)
    assert not {r.id for r in rest} & {r.id for r in dead + busy}


def test_two_expired_leases_come_back_as_two_batches(store: Store) -> None:
    issue_id, list_id = draft_issue(store, members=4)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    first = store.claim_batch(issue_id, list_id, "dead-1", 2, timedelta(minutes=5))
    second = store.claim_batch(issue_id, list_id, "dead-2", 2, timedelta(minutes=5))
    deliveries = tables.deliveries
    with store.engine.begin() as conn:  # both died; the first one's lease ended first
        for batch, ended in ((first, 2), (second, 1)):
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([r.id for r in batch]))
                .values(lease_until=utcnow() - timedelta(seconds=ended))
            )
    taken = [store.claim_batch(issue_id, list_id, "b", 10, timedelta(minutes=5)) for _ in "12"]
    assert [[r.id for r in batch] for batch in taken] == [
        [r.id for r in first],
        [r.id for r in second],
    ]


def test_a_lost_answer_keeps_the_delivery_in_doubt_until_its_outcome_is_known(
    store: Store,
) -> None:
    issue_id, list_id = draft_issue(store, members=2)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    lost, refused = store.claim_batch(issue_id, list_id, "a", 10, timedelta(minutes=5))
    answered_at = utcnow() - timedelta(seconds=5)
    store.record_results(
        [
            SendResult(lost.id, Outcome.RETRY, error="HTTP 502", maybe_sent=True),
            SendResult(refused.id, Outcome.RETRY, error="HTTP 429"),
        ],
        retry_at={lost.id: answered_at, refused.id: answered_at},
        in_doubt_since={lost.id: answered_at},
    )
    again = {r.id: r for r in store.claim_batch(issue_id, list_id, "b", 10, timedelta(minutes=5))}
    assert again[lost.id].in_doubt_since == answered_at
    assert not again[refused.id].in_doubt
    # a deferral keeps the time the doubt arose; a known outcome clears it
    store.release(
        [lost.id], status=DeliveryStatus.RETRY, next_attempt_at=utcnow(), in_doubt_since=answered_at
    )
    store.record_results([SendResult(refused.id, Outcome.SENT, "m-2")], retry_at={})
    [back] = store.claim_batch(issue_id, list_id, "c", 10, timedelta(minutes=5))
    assert back.id == lost.id and back.in_doubt_since == answered_at
    store.record_results([SendResult(lost.id, Outcome.SENT, "m-1")], retry_at={})
    with store.engine.connect() as conn:
        doubts = conn.execute(select(tables.deliveries.c.in_doubt_since)).scalars().all()
    assert doubts == [None, None]


def test_a_member_who_pauses_after_freezing_is_skipped_not_sent(store: Store) -> None:
    issue_id, list_id = draft_issue(store, members=2)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    pausing = store.subscriber_by_email("r0@example.org")
    assert pausing is not None
    store.pause(pausing.id, datetime.now(UTC) + timedelta(weeks=1), source="web")
    claimed = store.claim_batch(issue_id, list_id, "a", 10, timedelta(minutes=5))
    assert [r.email for r in claimed] == ["r1@example.org"]
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(tables.deliveries.c.email, tables.deliveries.c.error).where(
                tables.deliveries.c.status == DeliveryStatus.SKIPPED
            )
        ).all()
    assert [tuple(row) for row in rows] == [("r0@example.org", "paused before sending")]
