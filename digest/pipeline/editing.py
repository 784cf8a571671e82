"""An editor's changes to a draft: drop, restore and move stories, rewrite a title or a summary,
the subject and a note, rebuild with new stories, send a test, approve, drop, send now.

A draft keeps its stories as composed (`content["stories"]`) and the editor's changes beside
them (`content["edits"]`); every change renders the issue again from both and stores the
result, so the preview an editor sees is always the issue as it would go out. Only a draft
changes: the store refuses to touch an issue once it is approved, so what is sent is byte for
byte what was approved, whatever arrives afterwards.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from digest.errors import StoreError, UsageError
from digest.identity import dedupe_key
from digest.models import Article, IssueStatus, Recipient
from digest.pipeline.build import compose_issue, render_settings
from digest.render import (
    IssueContent,
    MessageTemplate,
    RenderedIssue,
    article_from_json,
    article_to_json,
    render_issue,
)
from digest.store import IssueRow
from digest.workspace import Workspace

__all__ = [
    "Edits",
    "Story",
    "approve",
    "drop",
    "edit",
    "edited_stories",
    "rebuild",
    "render_public",
    "send_test",
    "story_id",
    "waiting_issue",
]

TEST_PREFIX = "[Test] "


def story_id(article: Article) -> str:
    """A short, stable id of a story within its issue (for forms and URLs)."""
    return hashlib.sha1(
        f"{article.source}\0{article.key}".encode(), usedforsecurity=False
    ).hexdigest()[:12]


@dataclass
class Edits:
    """What an editor changed; empty for a draft as it was built."""

    order: list[str] = field(default_factory=list)  # story ids, as the editor arranged them
    dropped: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)
    subject: str | None = None
    note: str | None = None  # Markdown, shown above the stories
    editor: str | None = None  # who changed it last
    changes: int = 0

    @property
    def touched(self) -> bool:
        return self.changes > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "dropped": self.dropped,
            "titles": self.titles,
            "summaries": self.summaries,
            "subject": self.subject,
            "note": self.note,
            "editor": self.editor,
            "changes": self.changes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Edits:
        data = data or {}
        return cls(
            order=list(data.get("order") or []),
            dropped=list(data.get("dropped") or []),
            titles=dict(data.get("titles") or {}),
            summaries=dict(data.get("summaries") or {}),
            subject=data.get("subject"),
            note=data.get("note"),
            editor=data.get("editor"),
            changes=int(data.get("changes") or 0),
        )


@dataclass(frozen=True)
class Story:
    """One story of a draft as the editor sees it."""

    id: str
    article: Article  # with the editor's title and summary
    why: str  # why it was chosen
    dropped: bool
    edited: bool


def _stories(issue: IssueRow) -> list[tuple[str, Article, str]]:
    raw = issue.content.get("stories")
    if raw is None:
        raise UsageError(f"issue {issue.id} was built before drafts kept their stories")
    why = list(issue.content.get("why") or [])
    found = []
    for index, data in enumerate(raw):
        article = article_from_json(data)
        found.append((story_id(article), article, why[index] if index < len(why) else ""))
    return found


def edited_stories(issue: IssueRow) -> list[Story]:
    """The draft's stories in the editor's order, with their changes; dropped ones included."""
    edits = Edits.from_json(issue.content.get("edits"))
    stories = _stories(issue)
    if edits.order:  # the editor's order; stories it does not know (new ones) first, as built
        rank = {sid: n for n, sid in enumerate(edits.order)}
        stories.sort(key=lambda story: rank.get(story[0], -1))
    result = []
    for sid, article, why in stories:
        title = edits.titles.get(sid)
        summary = edits.summaries.get(sid)
        if title is not None or summary is not None:
            article = Article(
                **{
                    **article_to_json(article),
                    "published": article.published,
                    "title": title if title is not None else article.title,
                    "summary": summary if summary is not None else article.summary,
                }
            )
        result.append(
            Story(
                sid,
                article,
                why,
                dropped=sid in edits.dropped,
                edited=title is not None or summary is not None,
            )
        )
    return result


def _content(issue: IssueRow, stories: list[Story], edits: Edits, *, public: bool) -> IssueContent:
    kept = [story.article for story in stories if not story.dropped]
    if not kept:
        raise UsageError("an issue needs at least one story: restore one before this change")
    return IssueContent(
        issue_id=issue.id,
        issue_date=date.fromisoformat(issue.content["issue_date"]),
        articles=kept,
        source_titles=dict(issue.content.get("source_titles") or {}),
        intro=edits.note,
        subject=edits.subject,
        public=public,
    )


def _render(ws: Workspace, issue: IssueRow, edits: Edits) -> tuple[RenderedIssue, list[str]]:
    stories = edited_stories_with(issue, edits)
    rendered = render_issue(
        _content(issue, stories, edits, public=False), render_settings(ws.config, issue.digest)
    )
    keys = [issue.content["keys"][story.id] for story in stories if not story.dropped]
    return rendered, keys


def edited_stories_with(issue: IssueRow, edits: Edits) -> list[Story]:
    """`edited_stories` with other edits than the stored ones (a change being made)."""
    content = {**issue.content, "edits": edits.to_json()}
    return edited_stories(_with_content(issue, content))


def _with_content(issue: IssueRow, content: dict[str, Any]) -> IssueRow:
    return IssueRow(**{**issue.__dict__, "content": content})


def rendered_content(
    base: dict[str, Any], rendered: RenderedIssue, edits: Edits, keys: list[str]
) -> dict[str, Any]:
    """The issue's content after a render: the rendering's parts, the edits, the sent keys."""
    return {
        **base,
        "article_keys": keys,
        "articles": [a.as_json() for a in rendered.articles],
        "more": [a.as_json() for a in rendered.more],
        "html_size": rendered.html_size,
        "rendered": {
            k: v for k, v in rendered.to_json().items() if k not in ("subject", "html", "text")
        },
        "edits": edits.to_json(),
    }


def _change(ws: Workspace, issue_id: int, editor: str, change: Any) -> IssueRow:
    issue = ws.store.get_issue(issue_id)
    if issue.status != IssueStatus.DRAFT:
        raise UsageError(f"issue {issue_id} is {issue.status}: only a draft can be changed")
    edits = Edits.from_json(issue.content.get("edits"))
    change(edits, issue)
    edits.editor = editor
    edits.changes += 1
    rendered, keys = _render(ws, issue, edits)
    content = rendered_content(issue.content, rendered, edits, keys)
    if not ws.store.update_draft(
        issue_id, subject=rendered.subject, html=rendered.html, text=rendered.text, content=content
    ):
        raise UsageError(f"issue {issue_id} is no longer a draft; the change was not made")
    return ws.store.get_issue(issue_id)


def edit(
    ws: Workspace,
    issue_id: int,
    editor: str,
    *,
    drop: str | None = None,
    restore: str | None = None,
    move: tuple[str, int] | None = None,
    title: tuple[str, str] | None = None,
    summary: tuple[str, str] | None = None,
    subject: str | None = None,
    note: str | None = None,
) -> IssueRow:
    """Make one change to a draft and render it again; UsageError when it cannot be made.

    `move` is (story id, -1 up or +1 down); an empty subject or note goes back to the default.
    """

    def apply(edits: Edits, issue: IssueRow) -> None:
        order = [story.id for story in edited_stories(issue)]
        known = set(order)
        for sid in (drop, restore, *(x[0] for x in (move, title, summary) if x)):
            if sid is not None and sid not in known:
                raise UsageError(f"issue {issue.id} has no story {sid!r}")
        if drop is not None and drop not in edits.dropped:
            edits.dropped.append(drop)
        if restore is not None and restore in edits.dropped:
            edits.dropped.remove(restore)
        if move is not None:
            sid, step = move
            at = order.index(sid)
            to = max(0, min(len(order) - 1, at + step))
            order.insert(to, order.pop(at))
            edits.order = order
        if title is not None:
            sid, text = title
            if not text.strip():
                raise UsageError("a title cannot be empty")
            edits.titles[sid] = " ".join(text.split())[:300]
        if summary is not None:
            sid, text = summary
            edits.summaries[sid] = text.strip()[:2000]
        if subject is not None:
            edits.subject = " ".join(subject.split())[:250] or None
        if note is not None:
            edits.note = note.strip()[:4000] or None

    return _change(ws, issue_id, editor, apply)


async def rebuild(ws: Workspace, issue_id: int, editor: str) -> IssueRow:
    """Gather again and take in new stories, keeping the editor's changes to those that stay."""
    issue = ws.store.get_issue(issue_id)
    if issue.status != IssueStatus.DRAFT:
        raise UsageError(f"issue {issue_id} is {issue.status}: only a draft can be rebuilt")
    draft = await compose_issue(ws, issue.digest)
    if draft.rendered is None or draft.issue_date is None:
        raise UsageError("no stories to rebuild the issue with; the draft is unchanged")
    fresh = draft_content(
        ws, issue.digest, draft.selection.chosen, draft.selection.why, draft.issue_date
    )
    edits = Edits.from_json(issue.content.get("edits"))
    ids = set(fresh["keys"])
    old_order = [sid for sid in edits.order if sid in ids]
    new_ids = [sid for sid in fresh["keys"] if sid not in old_order]
    edits.order = new_ids + old_order if old_order else []
    edits.dropped = [sid for sid in edits.dropped if sid in ids]
    edits.titles = {k: v for k, v in edits.titles.items() if k in ids}
    edits.summaries = {k: v for k, v in edits.summaries.items() if k in ids}
    edits.editor = editor
    edits.changes += 1
    base = {**issue.content, **fresh}
    probe = _with_content(issue, base)
    rendered, keys = _render(ws, probe, edits)
    content = rendered_content(base, rendered, edits, keys)
    if not ws.store.refresh_draft(
        issue_id,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        content=content,
        report=draft.report,
    ):
        raise UsageError(f"issue {issue_id} is no longer a draft; it was not rebuilt")
    return ws.store.get_issue(issue_id)


def draft_content(
    ws: Workspace, name: str, chosen: list[Article], why: list[str], issue_date: date
) -> dict[str, Any]:
    """What a draft keeps so an editor can change it: its stories, why each is in, and what
    rendering needs of the digest at build time."""
    digest = ws.config.digest(name)
    return {
        "issue_date": issue_date.isoformat(),
        "stories": [article_to_json(a) for a in chosen],
        "why": list(why),
        "keys": {story_id(a): _dedupe(a) for a in chosen},
        "source_titles": {s: ws.config.sources[s].title or s for s in digest.sources},
    }


def _dedupe(article: Article) -> str:
    return dedupe_key(article.source, article.key, article.url)


def approve(ws: Workspace, issue_id: int, by: str) -> IssueRow:
    """Approve the draft as it is now; it goes out at the digest's next run or firing."""
    issue = ws.store.get_issue(issue_id)
    if issue.status != IssueStatus.DRAFT:
        raise UsageError(f"issue {issue_id} is {issue.status}, not a draft to approve")
    if not ws.store.approve_issue(issue_id, by):
        raise UsageError(f"issue {issue_id} is no longer a draft")
    return ws.store.get_issue(issue_id)


def drop(ws: Workspace, issue_id: int, by: str) -> IssueRow:
    """Drop a draft or an approved issue that has not gone out."""
    issue = ws.store.get_issue(issue_id)
    if not ws.store.drop_waiting(issue_id, f"dropped by {by}"):
        raise UsageError(f"issue {issue_id} is {issue.status}: only a waiting issue can be dropped")
    return ws.store.get_issue(issue_id)


def waiting_issue(ws: Workspace, name: str, issue_id: int | None = None) -> IssueRow:
    """The issue an editor means: `issue_id`, else the digest's newest draft or approved one."""
    if issue_id is not None:
        try:
            issue = ws.store.get_issue(issue_id)
        except StoreError:
            raise UsageError(f"there is no issue {issue_id}") from None
        if issue.digest != name:
            raise UsageError(f"issue {issue_id} belongs to {issue.digest!r}, not {name!r}")
        return issue
    found = ws.store.issues_of(name, statuses=IssueStatus.EDITABLE, limit=1)
    if not found:
        raise UsageError(f"{name} has no draft or approved issue waiting")
    return found[0]


async def send_test(ws: Workspace, issue_id: int, address: str, by: str) -> str:
    """Send the issue as it is now to one address, marked as a test, through the digest's
    provider; it is no delivery (the ledger never counts it). Returns the provider's answer."""
    issue = ws.store.get_issue(issue_id)
    settings = render_settings(ws.config, issue.digest)
    parts = {
        **issue.content["rendered"],
        "subject": TEST_PREFIX + issue.subject,
        "html": issue.html,
        "text": issue.text,
    }
    stored = RenderedIssue.from_json(parts)
    event = ws.store.record_event("desk", "test_sent", address, {"issue": issue_id, "by": by})
    base = ws.config.web.base_url
    reader = Recipient(
        delivery_id=-event,
        subscriber_id=0,
        email=address,
        name="",
        unsubscribe_url=f"{base}/desk/",
        preferences_url=f"{base}/desk/",
        web_url=f"{base}/desk/issues/{issue_id}",
    )
    message = MessageTemplate.build(
        stored, settings, issue_key=f"{issue.digest}.test.{issue_id}.{event}"
    ).personalize(reader)
    transport = ws.transport(ws.config.digest(issue.digest).provider)
    try:
        [result] = await transport.send_batch([message])
    finally:
        await transport.aclose()
    if result.outcome != "sent":
        raise UsageError(f"the test to {address} was not sent: {result.error or result.outcome}")
    return result.provider_message_id or "sent"


def render_public(ws: Workspace, issue: IssueRow, subscribe_url: str | None) -> RenderedIssue:
    """The web edition of an issue: the same stories, nobody's data, a subscribe link."""
    edits = Edits.from_json(issue.content.get("edits"))
    stories = edited_stories(issue)
    settings = render_settings(ws.config, issue.digest)
    settings.subscribe_url = subscribe_url
    reader = Recipient(delivery_id=0, subscriber_id=0, email="", name="")
    return render_issue(_content(issue, stories, edits, public=True), settings, recipient=reader)
