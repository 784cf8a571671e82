"""Building blocks for the store tests."""

from __future__ import annotations

from digest.store import Store


def draft_issue(store: Store, members: int = 5) -> tuple[int, int]:
    """A draft issue of "weekly" and a list of `members` active readers: (issue id, list id)."""
    list_id = store.ensure_list("readers", "Readers")
    for n in range(members):
        store.upsert_subscriber(list_id, f"r{n}@example.org", name=f"Reader {n}")
    issue_id = store.claim_issue("weekly", "2026-W48", "test")
    assert issue_id is not None
    store.save_draft(issue_id, subject="S", html="<p>h</p>", text="t", content={}, report={})
    return issue_id, list_id
