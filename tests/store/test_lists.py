"""Lists, subscribers and memberships on SQLite and on the real PostgreSQL: joining, leaving."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine
from sqlalchemy import inspect, select

from digest.store import Store, tables
from digest.subscribers import import_csv


def test_lists_schema_is_migrated(store: Store) -> None:
    inspector = inspect(store.engine)
    columns = {column["name"] for column in inspector.get_columns("memberships")}
    assert {"status_reason", "confirmed_at", "consent_ip", "paused_until"} <= columns
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


def _reader(store: Store, *lists: str) -> tuple[int, list[int]]:
    ids = [store.ensure_list(name, name.title()) for name in lists]
    for list_id in ids:
        store.upsert_subscriber(list_id, "reader@example.org")
    row = store.subscriber_by_email("reader@example.org")
    assert row is not None
    return row.id, ids


def test_pause_and_resume_are_kept_and_recorded(store: Store) -> None:
    subscriber_id, (weekly, daily, left) = _reader(store, "weekly", "daily", "left")
    store.unsubscribe(left, subscriber_id, source="web", reason="one-click")
    now = datetime.now(UTC)
    until = now + timedelta(weeks=3)
    # only the lists they get are paused; a left list stays as it is
    assert store.pause(subscriber_id, until, source="web") == [weekly, daily]
    by_list = {m.list_id: m for m in store.memberships_of(subscriber_id)}
    assert by_list[weekly].paused_until == until and by_list[weekly].paused(now)
    assert by_list[weekly].status == "active"
    assert not by_list[weekly].paused(until)
    assert by_list[left].paused_until is None
    # pausing again moves the end; one list alone can be paused
    assert store.pause(subscriber_id, now + timedelta(weeks=1), source="web", list_ids=[daily])
    by_list = {m.list_id: m for m in store.memberships_of(subscriber_id)}
    assert by_list[daily].paused_until == now + timedelta(weeks=1)
    assert by_list[weekly].paused_until == until
    assert store.resume(subscriber_id, source="web") == [weekly, daily]
    assert all(m.paused_until is None for m in store.memberships_of(subscriber_id))
    assert store.resume(subscriber_id, source="web") == []  # nothing running: no event
    events = list(reversed(store.events_for("reader@example.org")))
    assert [e.kind for e in events] == ["unsubscribe", "pause", "pause", "resume"]
    assert events[1].payload == {
        "subscriber_id": subscriber_id,
        "list_ids": [weekly, daily],
        "until": until.isoformat(),
    }
    assert events[3].payload == {"subscriber_id": subscriber_id, "list_ids": [weekly, daily]}
    assert all(e.provider == "web" for e in events)


def test_leaving_every_list_is_recorded_as_each_unsubscribe_and_ends_a_pause(
    store: Store,
) -> None:
    subscriber_id, (weekly, daily) = _reader(store, "weekly", "daily")
    store.pause(subscriber_id, datetime.now(UTC) + timedelta(weeks=2), source="web")
    assert store.unsubscribe_all(subscriber_id, source="web", reason="preferences") == [
        weekly,
        daily,
    ]
    assert store.unsubscribe_all(subscriber_id, source="web", reason="preferences") == []
    memberships = store.memberships_of(subscriber_id)
    assert [m.status for m in memberships] == ["unsubscribed", "unsubscribed"]
    assert [m.paused_until for m in memberships] == [None, None]
    leaving = [e for e in store.events_for("reader@example.org") if e.kind == "unsubscribe"]
    assert sorted(e.payload["list_id"] for e in leaving) == [weekly, daily]
    assert all(
        e.payload
        == {
            "list_id": e.payload["list_id"],
            "subscriber_id": subscriber_id,
            "reason": "preferences",
        }
        for e in leaving
    )


def test_coming_back_after_leaving_starts_unpaused(store: Store) -> None:
    subscriber_id, (weekly, daily) = _reader(store, "weekly", "daily")
    store.pause(subscriber_id, datetime.now(UTC) + timedelta(weeks=4), source="web")
    # left another way than the store's unsubscribe (a provider's word), the pause stays...
    store.stop_address("reader@example.org", "unsubscribed", reason="list-unsubscribe (mailgun)")
    assert all(m.paused_until is not None for m in store.memberships_of(subscriber_id))
    # ...until the reader signs up again and confirms, or an operator puts them back
    assert store.request_subscription(weekly, "reader@example.org", double_opt_in=True)[0] == (
        "confirm"
    )
    assert store.confirm_subscription(weekly, subscriber_id)
    store.upsert_subscriber(daily, "reader@example.org", origin="cli", resubscribe=True)
    by_list = {m.list_id: m for m in store.memberships_of(subscriber_id)}
    assert [by_list[weekly].status, by_list[daily].status] == ["active", "active"]
    assert [by_list[weekly].paused_until, by_list[daily].paused_until] == [None, None]


def test_confirmations_to_one_address_are_counted_an_hour_and_a_day_apart(store: Store) -> None:
    start = datetime.now(UTC)
    hour, limits = timedelta(hours=1), {"every": timedelta(hours=1), "per_day": 3}
    with time_machine.travel(start, tick=False):
        assert store.claim_confirmation("a@example.org", **limits)
        assert not store.claim_confirmation("a@example.org", **limits)
        assert store.claim_confirmation("b@example.org", **limits)  # per address
    claimed = []
    for hours in (0.9, 1, 2, 3, 23.9, 24, 25):  # a send is allowed once `every` has passed
        with time_machine.travel(start + hours * hour, tick=False):
            claimed.append(store.claim_confirmation("a@example.org", **limits))
    # 0, 1 and 2 h fill the day; at 24 h the first one is a day old; at 25 h the second is
    assert claimed == [False, True, True, False, False, True, True]
    with store.engine.connect() as conn:  # rows older than a day are gone
        rows = conn.execute(select(tables.confirmation_sends.c.email)).scalars().all()
    assert sorted(rows) == ["a@example.org"] * 3


def test_confirmations_claimed_at_once_from_many_threads_count_once(store: Store) -> None:
    """Ten processes' worth of requests for one address in the same instant: one is sent."""
    list_id = store.ensure_list("readers")
    store.request_subscription(list_id, "a@example.org", double_opt_in=True)
    barrier = threading.Barrier(8)

    def claim(address: str) -> bool:
        barrier.wait()
        return store.claim_confirmation(address, every=timedelta(hours=1), per_day=3)

    with ThreadPoolExecutor(8) as pool:
        # a first round opens the connections, so the second starts together
        assert all(pool.map(claim, [f"warm{n}@example.org" for n in range(8)]))
        results = list(pool.map(claim, ["a@example.org"] * 8))
    assert results.count(True) == 1
