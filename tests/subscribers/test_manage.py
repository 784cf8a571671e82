"""Staff changes to subscribers: the rules (suppressed never, leavers only with a reason) and the
audit entry each one leaves, on SQLite and PostgreSQL."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from digest.errors import UsageError
from digest.models import MembershipStatus
from digest.store import Store
from digest.subscribers.manage import (
    add_subscriber,
    audited_export,
    audited_import,
    cli_actor,
    resubscribe,
    unsubscribe,
)


def test_add_unsubscribe_resubscribe_each_audited(store: Store) -> None:
    readers = store.ensure_list("readers")
    added = add_subscriber(store, readers, "ada@example.org", actor="desk:op", reason="fair")
    assert (added.outcome, added.status) == ("imported", MembershipStatus.ACTIVE)
    [membership] = store.memberships_of(added.subscriber_id)
    assert membership.origin == "desk"  # how consent was given: vouched for at the desk

    assert unsubscribe(store, readers, added.subscriber_id, actor="desk:op", reason="phone")
    assert (
        unsubscribe(store, readers, added.subscriber_id, actor="desk:op", reason="again")
        == "already"
    )
    with pytest.raises(UsageError, match="say why"):
        resubscribe(store, readers, added.subscriber_id, actor="desk:op", reason="  ")
    resubscribe(store, readers, added.subscriber_id, actor="desk:op", reason="changed mind")
    assert store.membership_status(readers, added.subscriber_id) == MembershipStatus.ACTIVE
    with pytest.raises(UsageError, match="already on this list"):
        resubscribe(store, readers, added.subscriber_id, actor="desk:op", reason="twice")
    log = store.audit_log(subscriber_id=added.subscriber_id)
    assert [(a.action, a.detail.get("reason")) for a in log] == [
        ("resubscribe", "changed mind"),
        ("unsubscribe", "phone"),  # "already" left nothing to audit
        ("subscribe", "fair"),
    ]
    assert log[0].detail["was"] == "unsubscribed"


def test_suppressed_addresses_are_neither_added_nor_put_back(store: Store) -> None:
    readers = store.ensure_list("readers")
    other = store.ensure_list("other")
    store.suppress("spam@example.org", "complaint", "postmark")
    with pytest.raises(UsageError, match="suppressed"):
        add_subscriber(store, readers, "spam@example.org", actor="cli:root")
    assert store.subscriber_by_email("spam@example.org") is None
    added = add_subscriber(store, readers, "bo@example.org", actor="cli:root")
    store.set_membership_status(readers, added.subscriber_id, MembershipStatus.BOUNCED)
    store.suppress("bo@example.org", "bounce", "postmark")
    with pytest.raises(UsageError, match="suppressed"):
        resubscribe(store, readers, added.subscriber_id, actor="cli:root", reason="fixed")
    with pytest.raises(UsageError, match="never on this list"):
        resubscribe(store, other, added.subscriber_id, actor="cli:root", reason="x")


def test_imports_and_exports_are_audited_but_dry_runs_are_not(store: Store, tmp_path: Path) -> None:
    readers = store.ensure_list("readers")
    path = tmp_path / "people.csv"
    path.write_text("email\na@example.org\nbad\n")
    dry = audited_import(store, readers, path, actor="cli:root", dry_run=True)
    assert dry.imported == 1 and store.audit_log() == []
    audited_import(store, readers, path, actor="cli:root", name="from-crm.csv")
    out = tmp_path / "out.csv"
    assert audited_export(store, readers, out, actor="desk:op") == 1
    exported, imported = store.audit_log(list_id=readers)
    assert (exported.action, exported.detail["members"]) == ("export", 1)
    assert (imported.action, imported.detail["file"], imported.detail["skipped"]) == (
        "import",
        "from-crm.csv",
        1,
    )
    [member] = store.members(readers)
    assert member.origin == "import:from-crm.csv"


def test_the_command_lines_actor_names_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli_actor() == f"cli:{getpass.getuser()}"

    def nameless() -> str:
        raise KeyError("getpwuid(): uid not found: 10001")

    monkeypatch.setattr(getpass, "getuser", nameless)  # a container's bare uid
    assert cli_actor() == "cli"
