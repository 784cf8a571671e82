"""The audit log, finding subscribers, and a subscriber's deliveries, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from digest.models import DeliveryStatus, Outcome, SendResult
from digest.store import Store
from tests.store.helpers import draft_issue


def test_the_audit_log_is_newest_first_by_subscriber_address_or_list(store: Store) -> None:
    readers = store.ensure_list("readers")
    other = store.ensure_list("other")
    store.upsert_subscriber(readers, "ada@example.org")
    ada = store.subscriber_by_email("ada@example.org")
    assert ada is not None
    first = store.audit(
        "desk:op", "subscribe", subscriber_id=ada.id, email=ada.email, list_id=readers, reason="r1"
    )
    store.audit("cli:root", "export", list_id=other, members=0)
    store.audit("cli:root", "unsubscribe", email="ada@example.org", list_id=other, reason="r2")
    mine = store.audit_log(subscriber_id=ada.id, email=ada.email)
    assert [(a.action, a.detail.get("reason")) for a in mine] == [
        ("unsubscribe", "r2"),
        ("subscribe", "r1"),
    ]
    assert mine[-1].id == first and mine[-1].actor == "desk:op" and mine[-1].at is not None
    assert [a.action for a in store.audit_log(list_id=other)] == ["unsubscribe", "export"]
    assert len(store.audit_log(limit=2)) == 2


def test_find_subscribers_by_part_of_the_address_exact_first(store: Store) -> None:
    readers = store.ensure_list("readers")
    for address in ("bob@example.org", "bobby@example.org", "a_b@example.org", "a%b@x.org"):
        store.upsert_subscriber(readers, address)
    assert [s.email for s in store.find_subscribers("BOB")] == [
        "bob@example.org",
        "bobby@example.org",
    ]
    assert [s.email for s in store.find_subscribers("bobby@example.org")] == ["bobby@example.org"]
    exact = store.find_subscribers("bob@example.org")
    assert exact[0].email == "bob@example.org"
    # LIKE's wildcards are taken literally
    assert [s.email for s in store.find_subscribers("a_b")] == ["a_b@example.org"]
    assert [s.email for s in store.find_subscribers("a%b")] == ["a%b@x.org"]
    assert store.find_subscribers("  ") == []


def test_a_subscribers_deliveries_newest_issue_first(store: Store) -> None:
    issue_id, list_id = draft_issue(store, members=2)
    store.freeze_issue(issue_id, "weekly", list_id, [])
    batch = store.claim_batch(issue_id, list_id, "me", 10, timedelta(minutes=5))
    reader = batch[0]
    store.record_results(
        [SendResult(reader.id, Outcome.SENT, "pm-1")]
        + [SendResult(row.id, Outcome.FAILED, error="550 no such user") for row in batch[1:]],
        retry_at={},
    )
    [sent] = store.deliveries_to(reader.subscriber_id)
    assert (sent.issue_id, sent.digest, sent.status) == (issue_id, "weekly", DeliveryStatus.SENT)
    assert sent.provider_message_id == "pm-1" and sent.subject == "S"
    [failed] = store.deliveries_to(batch[1].subscriber_id)
    assert failed.status == DeliveryStatus.FAILED and failed.error == "550 no such user"
