"""Feedback on both engines: addresses stopped by providers, suppressions, webhook receipts."""

from __future__ import annotations

from datetime import timedelta

from digest.models import Outcome, SendResult
from digest.store import Store


def test_stop_address(store: Store) -> None:
    one, two = store.ensure_list("one"), store.ensure_list("two")
    for list_id in (one, two):
        store.upsert_subscriber(list_id, "a@example.org")
        store.upsert_subscriber(list_id, "b@example.org")
    assert store.stop_address("a@example.org", "bounced", reason="hard bounce", detail="550") == 2
    assert store.suppression("a@example.org").detail == "550"  # type: ignore[union-attr]
    assert store.stop_address("a@example.org", "bounced", reason="again") == 0
    assert store.stop_address("b@example.org", "unsubscribed", reason="x", list_id=two) == 1
    assert not store.is_suppressed("b@example.org")
    b = store.subscriber_by_email("b@example.org")
    assert b is not None
    assert {m.list_name: m.status for m in store.memberships_of(b.id)} == {
        "one": "active",
        "two": "unsubscribed",
    }
    assert store.stop_address("nobody@example.org", "complained", reason="c") == 0
    assert store.is_suppressed("nobody@example.org")  # known or not, never mailed
    assert store.unsuppress("nobody@example.org") and not store.unsuppress("nobody@example.org")


def test_list_of_message(store: Store) -> None:
    list_id = store.ensure_list("readers")
    store.upsert_subscriber(list_id, "a@example.org")
    issue_id = store.claim_issue("weekly", "p1", "t")
    assert issue_id is not None
    store.save_draft(
        issue_id, subject="S", html="h", text="t", content={"list_id": list_id}, report={}
    )
    store.freeze_issue(issue_id, "weekly", list_id, [])
    [row] = store.claim_batch(issue_id, list_id, "t", 10, timedelta(minutes=1))
    store.record_results([SendResult(row.id, Outcome.SENT, "<abc@provider>")], retry_at={})
    assert store.list_of_message("<abc@provider>") == list_id
    assert store.list_of_message("abc@provider") == list_id
    assert store.list_of_message("unknown") is None


def test_webhook_receipts(store: Store) -> None:
    assert store.first_receipt("mailgun", "token-1")
    assert not store.first_receipt("mailgun", "token-1")
    assert store.first_receipt("sendgrid", "token-1")
