"""Deliver: work a frozen issue's ledger through its digest's provider.

Every message is a row in the ledger, leased in batches (`digest.send.dispatch`), so a crash
resumes (`resume_unfinished`) without sending anyone the issue twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from digest.logs import log_context
from digest.models import DeliveryStatus, IssueStatus, Recipient
from digest.pipeline.build import render_settings
from digest.render import (
    MessageTemplate,
    RenderedIssue,
)
from digest.send.dispatch import DispatchReport, dispatch_issue
from digest.send.ratelimit import RateLimiter
from digest.store import DeliveryRow, IssueRow
from digest.workspace import Workspace

log = logging.getLogger(__name__)


def web_edition_url(ws: Workspace, digest: str, issue_id: int) -> str:
    """The "view in your browser" link: the issue's page in the digest's public archive, or,
    with `archive = false`, its signed web view."""
    base = ws.config.web.base_url
    configured = ws.config.digests.get(digest)
    if configured is not None and configured.archive:
        return f"{base}/archive/{quote(digest)}/{issue_id}/"
    return f"{base}/issues/{ws.signer.issue_token(issue_id)}"


def recipient_factory(ws: Workspace, issue_id: int, list_id: int, digest: str = "") -> Any:
    base = ws.config.web.base_url
    web_url = web_edition_url(ws, digest, issue_id)

    def recipient_for(row: DeliveryRow) -> Recipient:
        token = ws.signer.unsubscribe_token(row.subscriber_id, list_id)
        preferences = ws.signer.preferences_token(row.subscriber_id)
        return Recipient(
            delivery_id=row.id,
            subscriber_id=row.subscriber_id,
            email=row.email,
            name=row.name,
            attributes={k: str(v) for k, v in row.attributes.items()},
            unsubscribe_url=f"{base}/unsubscribe/{token}",
            preferences_url=f"{base}/preferences/{preferences}",
            web_url=web_url,
        )

    return recipient_for


def stored_rendering(issue: IssueRow) -> RenderedIssue:
    """The frozen issue as the renderer made it, rebuilt from the store (for resuming)."""
    stored = issue.content["rendered"]
    return RenderedIssue.from_json(
        {**stored, "subject": issue.subject, "html": issue.html, "text": issue.text}
    )


async def deliver_issue(
    ws: Workspace, issue: IssueRow, *, max_wait: float = 600.0, stop: asyncio.Event | None = None
) -> DispatchReport:
    """Work the ledger of a frozen issue with its digest's provider."""
    with log_context(digest=issue.digest, issue=issue.id):
        return await _deliver(ws, issue, max_wait, stop)


async def _deliver(
    ws: Workspace, issue: IssueRow, max_wait: float, stop: asyncio.Event | None
) -> DispatchReport:
    digest = ws.config.digest(issue.digest)
    list_id = int(issue.content["list_id"])
    settings = render_settings(ws.config, issue.digest)
    template = MessageTemplate.build(
        stored_rendering(issue), settings, issue_key=f"{issue.digest}.{issue.id}"
    )
    transport = ws.transport(digest.provider)
    limiter = None
    if rate := ws.config.providers[digest.provider].rate_limit:
        limiter = RateLimiter(rate)
    counts = ws.store.delivery_counts(issue.id)
    open_count = sum(counts.get(status, 0) for status in DeliveryStatus.OPEN)
    task = ws.progress.task("sending messages", open_count)
    try:
        return await dispatch_issue(
            ws.store,
            issue.id,
            list_id,
            transport,
            template.personalize,
            recipient_factory(ws, issue.id, list_id, issue.digest),
            owner=ws.owner,
            limiter=limiter,
            lease=timedelta(seconds=ws.config.send.lease_seconds),
            concurrency=ws.config.send.concurrency,
            batch_size=ws.config.send.batch_size,
            reconcile_after=ws.config.send.reconcile_after,
            max_wait=max_wait,
            stop=stop,
            on_batch=task.advance,
        )
    finally:
        task.done()
        await transport.aclose()


async def resume_unfinished(
    ws: Workspace, name: str | None = None, *, max_wait: float = 600.0
) -> list[DispatchReport]:
    """Carry on sending every frozen issue that still has deliveries to make."""
    reports = []
    for issue in reversed(ws.store.issues_of(name, statuses=IssueStatus.UNFINISHED, limit=1000)):
        if issue.digest not in ws.config.digests:
            log.warning(
                "issue %s belongs to digest %r, no longer configured", issue.id, issue.digest
            )
            continue
        reports.append(await deliver_issue(ws, issue, max_wait=max_wait))
    return reports
