"""Subscriber queries on SQLite and on the real PostgreSQL: consent, leaving, feedback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from digest.store import Store
from digest.subscribers import import_csv


def test_lists_schema_is_migrated(store: Store) -> None:
    from sqlalchemy import inspect

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
    from datetime import timedelta

    from digest.models import Outcome, SendResult

    [row] = store.claim_batch(issue_id, list_id, "t", 10, timedelta(minutes=1))
    store.record_results([SendResult(row.id, Outcome.SENT, "<abc@provider>")], retry_at={})
    assert store.list_of_message("<abc@provider>") == list_id
    assert store.list_of_message("abc@provider") == list_id
    assert store.list_of_message("unknown") is None


def test_webhook_receipts(store: Store) -> None:
    assert store.first_receipt("mailgun", "token-1")
    assert not store.first_receipt("mailgun", "token-1")
    assert store.first_receipt("sendgrid", "token-1")


def test_lists_overview(store: Store, tmp_path: Path) -> None:
    list_id = store.ensure_list("readers", "Readers")
    store.ensure_list("empty")
    path = tmp_path / "l.csv"
    path.write_text("email\na@example.org\nb@example.org\n", encoding="utf-8")
    import_csv(store, list_id, path)
    overview = {row.name: row for row in store.lists_overview()}
    assert overview["readers"].counts == {"active": 2} and overview["readers"].title == "Readers"
    assert overview["empty"].counts == {}


def test_an_import_never_overrides_a_status_changed_meanwhile(store: Store) -> None:
    """The import read `pending`; the reader unsubscribed before its update ran."""
    from sqlalchemy import select

    from digest.store.db import utcnow
    from digest.store.schema import memberships
    from digest.store.subscribers import _Bulk

    list_id = store.ensure_list("readers")
    _, subscriber_id = store.request_subscription(list_id, "a@example.org", double_opt_in=True)
    assert subscriber_id is not None
    store.unsubscribe(list_id, subscriber_id, source="web", reason="one-click")
    with store.engine.begin() as conn:
        membership_id = conn.execute(select(memberships.c.id)).scalar_one()
        bulk = _Bulk(conn)
        row = ("active", "import", bulk.stamp(utcnow()), "pending", membership_id)
        bulk.update_rows(
            "memberships",
            ("status", "status_reason", "updated_at"),
            [row],
            types=("text", "text", "timestamptz", "text", "bigint"),
            unless_changed="status",
        )
    assert store.membership_status(list_id, subscriber_id) == "unsubscribed"
    with store.engine.begin() as conn:  # with the status it read still current, it applies
        bulk = _Bulk(conn)
        row = ("active", "import", bulk.stamp(utcnow()), "unsubscribed", membership_id)
        bulk.update_rows(
            "memberships",
            ("status", "status_reason", "updated_at"),
            [row],
            types=("text", "text", "timestamptz", "text", "bigint"),
            unless_changed="status",
        )
    assert store.membership_status(list_id, subscriber_id) == "active"


def test_an_address_stored_meanwhile_by_another_writer_still_gets_its_membership(
    postgres_url: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL writes a new subscriber and its membership in one statement; an address that
    someone else stored between staging and writing is left to them, and still joins the list."""
    from digest.store import open_store
    from digest.store.subscribers import ImportSession, SplitImport

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
