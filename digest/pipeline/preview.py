"""Preview: the next issue as a sample subscriber would get it, and `check`'s sample render.

Nothing is stored or sent: the files written are what an editor looks at before a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from digest.config import Config
from digest.models import Article, IssueStatus, MembershipStatus, Recipient
from digest.pipeline.build import Draft, compose_issue, render_settings
from digest.pipeline.deliver import stored_rendering
from digest.pipeline.lifecycle import sync_lists
from digest.render import (
    IssueContent,
    MessageTemplate,
    RenderedIssue,
    render_issue,
    render_preview,
    render_report,
)
from digest.store import IssueRow
from digest.workspace import Workspace


def sample_recipient(ws: Workspace, name: str) -> Recipient:
    """The list's first active subscriber (or a stand-in) as the preview's reader."""
    digest = ws.config.digest(name)
    list_id = ws.store.ensure_list(digest.list, ws.config.lists[digest.list].title)
    row = next(ws.store.members(list_id, status=MembershipStatus.ACTIVE), None)
    subscriber_id = row.id if row else 0
    base = ws.config.web.base_url
    return Recipient(
        delivery_id=0,
        subscriber_id=subscriber_id,
        email=row.email if row else "reader@example.org",
        name=row.name if row else "Reader",
        attributes={k: str(v) for k, v in (row.attributes if row else {}).items()},
        unsubscribe_url=f"{base}/unsubscribe/{ws.signer.unsubscribe_token(subscriber_id, list_id)}",
        preferences_url=f"{base}/preferences/{ws.signer.preferences_token(subscriber_id)}",
        web_url=f"{base}/issues/preview",
    )


@dataclass
class Preview:
    """What `write_preview` wrote: the next issue (`draft.rendered`), or, when there is no news,
    the most recent stored issue again (`previous`); neither when there is nothing at all."""

    draft: Draft
    previous: IssueRow | None = None

    @property
    def written(self) -> bool:
        return self.draft.rendered is not None or self.previous is not None


async def write_preview(
    ws: Workspace, name: str, out_dir: Path, *, next_only: bool = False
) -> Preview:
    """Write the next issue as a sample subscriber would get it; send nothing. With no news,
    write the most recent issue again (unless `next_only`), so a preview always shows something
    true."""
    sync_lists(ws)
    draft = await compose_issue(ws, name)
    if draft.rendered is not None:
        _write(ws, name, out_dir, draft.rendered, draft.report, issue_key=f"{name}.preview")
        return Preview(draft)
    if next_only:
        return Preview(draft)
    latest = next(iter(ws.store.issues_of(name, statuses=_SHOWN, limit=1)), None)
    if latest is None:
        return Preview(draft)
    rendered = stored_rendering(latest)
    _write(ws, name, out_dir, rendered, latest.report, issue_key=f"{name}.{latest.id}")
    return Preview(draft, latest)


# Issues worth showing again: built and rendered, whether waiting, going out or gone out.
_SHOWN = (*IssueStatus.EDITABLE, *IssueStatus.PUBLISHED)


def _write(
    ws: Workspace,
    name: str,
    out_dir: Path,
    rendered: RenderedIssue,
    report: dict[str, Any],
    *,
    issue_key: str,
) -> None:
    recipient = sample_recipient(ws, name)
    html, text = render_preview(rendered, recipient)
    message = MessageTemplate.build(
        rendered, render_settings(ws.config, name), issue_key=issue_key
    ).personalize(recipient)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "issue.html").write_text(html, encoding="utf-8")
    (out_dir / "issue.txt").write_text(text, encoding="utf-8")
    (out_dir / "issue.eml").write_bytes(message.mime)
    summary = {
        "digest": name,
        "subject": message.subject,
        "html_size": rendered.html_size,
        "articles": [a.as_json() for a in rendered.articles],
        "more": [a.as_json() for a in rendered.more],
        "report": report,
    }
    # orjson: a large digest's report lists thousands of left-out articles
    (out_dir / "issue.json").write_bytes(
        orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    )


def sample_render(config: Config, name: str) -> list[str]:
    """Render a full-size sample issue of the digest: template errors and size against budget.

    `digest check` runs this so that a template naming an unknown variable, or a design that
    would not fit the size budget with `max_articles` full summaries, shows before a real run.
    """
    digest = config.digest(name)
    filler = ("The council met on Tuesday and agreed the budget for next year " * 20).split()
    articles = [
        Article(
            source=digest.sources[0],
            key=f"sample-{n}",
            url=f"https://example.org/sample/{n}",
            title=f"Sample headline number {n} that runs to a realistic length",
            lead="",
            summary=" ".join(filler[: digest.summary_words]) + ".",
        )
        for n in range(1, digest.max_articles + 1)
    ]
    settings = render_settings(config, name)
    rendered = render_issue(
        IssueContent(issue_id=None, issue_date=date.today(), articles=articles), settings
    )
    return render_report(rendered, settings)
