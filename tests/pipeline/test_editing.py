"""An editor's changes to a draft, on the offline example with approval: each change renders the
issue again, approval fixes it byte for byte, and a new run refreshes an untouched draft."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.config import load_config
from digest.errors import UsageError
from digest.models import IssueStatus
from digest.pipeline import editing, run_digest, send_approved
from digest.store import IssueRow
from digest.workspace import Workspace


@pytest.fixture
def ws(example_dir: Path, home: Path) -> Iterator[Workspace]:
    config = example_dir / "example.toml"
    config.write_text(
        config.read_text().replace("[digests.example]\n", "[digests.example]\napproval = true\n")
    )
    with Workspace.open(load_config(config), home) as workspace:
        yield workspace


def _draft(ws: Workspace) -> IssueRow:
    report = asyncio.run(run_digest(ws, "example", max_wait=5))
    assert report.status == IssueStatus.DRAFT, report.message
    assert report.issue_id is not None
    return ws.store.get_issue(report.issue_id)


def _outbox(ws: Workspace) -> list[EmailMessage]:
    folder = ws.home / "outbox"
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(folder.glob("*.eml"))
    ]


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def test_each_change_shows_in_the_rendered_draft(ws: Workspace) -> None:
    draft = _draft(ws)
    stories = editing.edited_stories(draft)
    assert len(stories) >= 3 and all(story.why for story in stories)
    first, second = stories[0], stories[1]

    after = editing.edit(ws, draft.id, "ed", drop=first.id)
    assert first.article.title not in after.html
    assert first.article.title in [s.article.title for s in editing.edited_stories(after)]
    after = editing.edit(ws, draft.id, "ed", restore=first.id)
    assert first.article.title in after.html

    after = editing.edit(ws, draft.id, "ed", move=(second.id, -1))
    assert after.html.index(second.article.title) < after.html.index(first.article.title)

    after = editing.edit(ws, draft.id, "ed", summary=(first.id, "A summary the editor wrote."))
    after = editing.edit(ws, draft.id, "ed", title=(first.id, "A better headline"))
    assert "A summary the editor wrote." in after.html and "A better headline" in after.html
    assert "A summary the editor wrote." in after.text

    after = editing.edit(ws, draft.id, "ed", subject="This week, by hand")
    assert after.subject == "This week, by hand"
    after = editing.edit(ws, draft.id, "ed", note="**Hello** readers <script>x()</script>")
    assert "<strong>Hello</strong>" in after.html and "<script>" not in after.html
    edits = editing.Edits.from_json(after.content["edits"])
    assert edits.touched and edits.editor == "ed"


def test_an_issue_needs_a_story_and_a_title(ws: Workspace) -> None:
    draft = _draft(ws)
    stories = editing.edited_stories(draft)
    for story in stories[:-1]:
        editing.edit(ws, draft.id, "ed", drop=story.id)
    with pytest.raises(UsageError, match="at least one story"):
        editing.edit(ws, draft.id, "ed", drop=stories[-1].id)
    with pytest.raises(UsageError, match="title cannot be empty"):
        editing.edit(ws, draft.id, "ed", title=(stories[-1].id, "  "))
    with pytest.raises(UsageError, match="no story"):
        editing.edit(ws, draft.id, "ed", drop="nope")


def test_what_is_sent_is_the_approved_issue_byte_for_byte(ws: Workspace) -> None:
    draft = _draft(ws)
    dropped, kept = editing.edited_stories(draft)[:2]
    editing.edit(ws, draft.id, "ed", drop=dropped.id)
    editing.edit(ws, draft.id, "ed", summary=(kept.id, "Rewritten by the desk."))
    approved = editing.approve(ws, draft.id, "ed")
    assert approved.status == IssueStatus.APPROVED
    with pytest.raises(UsageError, match="only a draft"):
        editing.edit(ws, draft.id, "ed", subject="too late")
    assert ws.store.get_issue(draft.id).html == approved.html

    sent = asyncio.run(send_approved(ws, "example", max_wait=5))
    assert [r.issue_id for r in sent] == [draft.id]
    messages = _outbox(ws)
    assert len(messages) == 3
    for message in messages:
        html = _html(message)
        assert "Rewritten by the desk." in html and dropped.article.title not in html
    assert ws.store.get_issue(draft.id).html == approved.html


def test_a_run_refreshes_an_untouched_draft_and_never_stacks_a_second(ws: Workspace) -> None:
    first = _draft(ws)
    again = asyncio.run(run_digest(ws, "example", max_wait=5))
    assert again.issue_id == first.id and "refreshed" in again.message
    waiting = ws.store.issues_of("example", statuses=IssueStatus.EDITABLE, limit=10)
    assert [issue.id for issue in waiting] == [first.id]

    story = editing.edited_stories(first)[0]
    editing.edit(ws, first.id, "ed", title=(story.id, "Kept by the editor"))
    third = asyncio.run(run_digest(ws, "example", max_wait=5))
    assert third.issue_id == first.id and "being edited" in third.message
    assert "Kept by the editor" in ws.store.get_issue(first.id).html


def test_a_test_send_goes_to_one_address_marked_and_uncounted(ws: Workspace) -> None:
    draft = _draft(ws)
    asyncio.run(editing.send_test(ws, draft.id, "editor@example.org", "ed"))
    [message] = _outbox(ws)
    assert str(message["Subject"]).startswith("[Test] ")
    assert message["To"].addresses[0].addr_spec == "editor@example.org"
    assert ws.store.delivery_counts(draft.id) == {}
    assert ws.store.get_issue(draft.id).status == IssueStatus.DRAFT


def test_dropped_issues_are_not_sent(ws: Workspace) -> None:
    draft = _draft(ws)
    editing.drop(ws, draft.id, "ed")
    assert ws.store.get_issue(draft.id).status == IssueStatus.DROPPED
    assert asyncio.run(send_approved(ws, "example", max_wait=5)) == []
    assert _outbox(ws) == []


def test_the_web_edition_names_nobody_and_offers_a_subscribe_link(ws: Workspace) -> None:
    draft = _draft(ws)
    editing.approve(ws, draft.id, "ed")
    asyncio.run(send_approved(ws, "example", max_wait=5))
    public = ws.store.get_issue(draft.id).content["public"]
    assert "This copy went to" not in public["html"] and "Unsubscribe" not in public["html"]
    assert "ada@example.org" not in public["html"] and "Ada Lovelace" not in public["html"]
    assert "https://news.example.org/subscribe/readers" in public["html"]
    assert "https://news.example.org/subscribe/readers" in public["text"]
    for message in _outbox(ws):
        assert f"https://news.example.org/archive/example/{draft.id}/" in _html(message)
