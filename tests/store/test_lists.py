"""Lists, subscribers and memberships on SQLite and on the real PostgreSQL: joining, leaving."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from digest.store import Store
from digest.subscribers import import_csv


def test_lists_schema_is_migrated(store: Store) -> None:
    inspector = inspect(store.engine)
    columns = {column["name"] for column in inspector.get_columns("memberships")}
    assert {"status_reason", "confirmed_at", "consent_ip"} <= columns
    assert "webhook_receipts" in inspector.get_table_names()


def test_double_opt_in_request_and_confirm(store: Store) -> None:
    list_id = store.ensure_list("readers")
    outcome, subscriber_id = store.request_subscription(
        list_id, "new@example.org", name="New", double_opt_in=True, client="192.0.2.1"
    )
    assert outcome == "confirm" and subscriber_id is not None
    assert store.membership_status(list_id, subscriber_id) == "pending"
    # asking again while pending: another confirmation, still pending
    assert (
        store.request_subscription(list_id, "new@example.org", double_opt_in=True)[0] == "confirm"
    )
    assert store.confirm_subscription(list_id, subscriber_id, client="192.0.2.9")
    [membership] = store.memberships_of(subscriber_id)
    assert membership.status == "active" and membership.confirmed_at is not None
    assert (
        store.request_subscription(list_id, "new@example.org", double_opt_in=True)[0] == "nothing"
    )
    assert [e.kind for e in store.events_for("new@example.org")] == ["confirmed"]


def test_leavers_and_suppressed_addresses_are_not_activated_by_a_request(store: Store) -> None:
    list_id = store.ensure_list("readers")
    store.upsert_subscriber(list_id, "left@example.org")
    left = store.subscriber_by_email("left@example.org")
    assert left is not None
    store.set_membership_status(list_id, left.id, "unsubscribed")
    # even without double opt-in, coming back needs a confirmed link
    assert (
        store.request_subscription(list_id, "left@example.org", double_opt_in=False)[0] == "confirm"
    )
    assert store.membership_status(list_id, left.id) == "unsubscribed"
    store.suppress("gone@example.org", "hard bounce")
    assert store.request_subscription(list_id, "gone@example.org", double_opt_in=False) == (
        "nothing",
        None,
    )
    assert store.subscriber_by_email("gone@example.org") is None
    # a confirmation link for an address suppressed since then does nothing
    _, pending_id = store.request_subscription(list_id, "late@example.org", double_opt_in=True)
    assert pending_id is not None
    store.suppress("late@example.org", "complaint")
    assert not store.confirm_subscription(list_id, pending_id)


def test_unsubscribe_is_idempotent_and_recorded_once(store: Store) -> None:
    list_id = store.ensure_list("readers")
    store.upsert_subscriber(list_id, "a@example.org")
    row = store.subscriber_by_email("a@example.org")
    assert row is not None
    assert store.unsubscribe(list_id, row.id, source="web", reason="one-click") == "unsubscribed"
    assert store.unsubscribe(list_id, row.id, source="web", reason="one-click") == "already"
    assert store.unsubscribe(list_id, 999_999, source="web", reason="x") == "unknown"
    assert len(store.events_for("a@example.org")) == 1
    [membership] = store.memberships_of(row.id)
    assert membership.status_reason == "one-click"


def test_lists_overview(store: Store, tmp_path: Path) -> None:
    list_id = store.ensure_list("readers", "Readers")
    store.ensure_list("empty")
    path = tmp_path / "l.csv"
    path.write_text("email\na@example.org\nb@example.org\n", encoding="utf-8")
    import_csv(store, list_id, path)
    overview = {row.name: row for row in store.lists_overview()}
    assert overview["readers"].counts == {"active": 2} and overview["readers"].title == "Readers"
    assert overview["empty"].counts == {}


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
