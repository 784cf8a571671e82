"""Issues: the claim per (digest, period), a period recorded as missed, and freezing with the
delivery plan (who is planned: active, unsuppressed, not paused), on both engines."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import time_machine

from digest.store import Store
from tests.store.helpers import draft_issue


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
    issue_id, list_id = draft_issue(store, members=5)
    leaver = store.subscriber_by_email("r1@example.org")
    assert leaver is not None
    store.set_membership_status(list_id, leaver.id, "unsubscribed")
    store.suppress("r2@example.org", "complaint")
    planned = store.freeze_issue(issue_id, "weekly", list_id, ["a", "b", "a"])
    assert planned == 3
    assert store.delivery_counts(issue_id) == {"pending": 3}
    assert store.sent_article_keys("weekly", ["a", "b", "c"]) == {"a", "b"}
    assert store.get_issue(issue_id).status == "frozen"


def test_a_missed_period_is_recorded_with_its_reason_unless_claimed_meanwhile(
    store: Store,
) -> None:
    missed = store.record_missed("weekly", "2026-W48", "a", "the store was unreachable")
    assert missed is not None
    issue = store.get_issue(missed)
    assert (issue.status, issue.report) == ("missed", {"reason": "the store was unreachable"})
    assert issue.completed_at is not None
    assert store.claim_issue("weekly", "2026-W48", "b") is None  # never built later
    claimed = store.claim_issue("weekly", "2026-W49", "b")
    assert store.record_missed("weekly", "2026-W49", "a", "unreachable") is None
    assert claimed is not None and store.get_issue(claimed).status == "building"


def test_a_paused_member_is_not_planned_until_the_pause_has_ended(store: Store) -> None:
    issue_id, list_id = draft_issue(store, members=3)
    paused = store.subscriber_by_email("r1@example.org")
    assert paused is not None
    now = datetime.now(UTC)
    assert store.pause(paused.id, now + timedelta(weeks=2), source="web") == [list_id]
    assert store.freeze_issue(issue_id, "weekly", list_id, []) == 2
    planned = store.claim_batch(issue_id, list_id, "a", 10, timedelta(minutes=5))
    assert [r.email for r in planned] == ["r0@example.org", "r2@example.org"]
    # two weeks and a day later the pause has ended: the next issue is theirs again
    with time_machine.travel(now + timedelta(weeks=2, days=1), tick=False):
        later = store.claim_issue("weekly", "2026-W50", "test")
        assert later is not None
        store.save_draft(later, subject="S", html="h", text="t", content={}, report={})
        assert store.freeze_issue(later, "weekly", list_id, []) == 3
