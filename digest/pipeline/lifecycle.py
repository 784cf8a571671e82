"""The life of an issue: claimed -> built -> draft -> approved -> frozen -> sending -> done.

`run_period` claims the digest's issue for a period (one row per digest and period, unique in
the store, so two processes or a restart build it once) and builds it; the digest's policies
decide what follows: skipped with the reason, a draft waiting for an editor, or frozen with its
delivery plan and sent. `settle_drafts` moves approved drafts and expired ones on.

`claim_in_grace` is the claim of a scheduled firing: while the store is unreachable it tries
again with backoff until the period's grace window ends, then records the period as missed with
the reason, so an outage never loses a firing silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from digest.dates import utcnow
from digest.errors import DigestError, StoreError, StoreUnavailableError
from digest.metrics import ISSUES
from digest.models import IssueStatus
from digest.pipeline.build import Draft, compose_issue
from digest.pipeline.deliver import deliver_issue, resume_unfinished
from digest.pipeline.editing import Edits, draft_content, render_public, rendered_content
from digest.send.dispatch import DispatchReport
from digest.store import IssueRow
from digest.subscribers import import_csv
from digest.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    digest: str
    issue_id: int | None
    status: IssueStatus | Literal["claimed"]  # "claimed": another process had the period
    message: str
    resumed: list[DispatchReport] = field(default_factory=list)
    dispatch: DispatchReport | None = None
    report: dict[str, Any] = field(default_factory=dict)


CLAIM_FIRST_DELAY = 1.0  # seconds before a claim the store could not take is tried again
CLAIM_MAX_DELAY = 60.0  # the delay doubles up to this


@dataclass
class Claim:
    """What became of a firing's claim of its period."""

    issue_id: int | None  # the issue this process holds and builds; None: not ours to build
    missed: str | None = None  # set when the period was recorded as missed: why


async def claim_in_grace(
    ws: Workspace,
    name: str,
    period: str,
    *,
    grace_ends: datetime,
    stop: asyncio.Event | None = None,
) -> Claim | None:
    """Claim (digest, period); while the store is unreachable, try again with backoff until
    `grace_ends`, then record the period as missed with the reason (trying that until the store
    takes it). One log line per attempt, no traceback. None when `stop` was set first.

    A period another process claimed meanwhile is not ours (issue_id None, nothing missed).
    """
    delay = CLAIM_FIRST_DELAY
    down_since: datetime | None = None
    while True:
        try:
            issue_id = ws.store.claim_issue(name, period, ws.owner)
        except StoreUnavailableError as exc:
            now = utcnow()
            down_since = down_since or now
            left = (grace_ends - now).total_seconds()
            if left <= 0:
                reason = (
                    f"the store was unreachable from {down_since:%Y-%m-%d %H:%M:%S} UTC until the "
                    f"grace window ended at {grace_ends:%Y-%m-%d %H:%M:%S} UTC ({exc.detail})"
                )
                break
            wait = min(delay, left)
            log.warning(
                "%s: period %s not claimed, %s; trying again in %.0f s (grace ends %s UTC)",
                name,
                period,
                exc,
                wait,
                f"{grace_ends:%H:%M:%S}",
            )
            if await _pause(wait, stop):
                return None
            delay = min(delay * 2, CLAIM_MAX_DELAY)
            continue
        if down_since is not None:
            log.info("%s: period %s claimed, the store is reachable again", name, period)
        return Claim(issue_id)
    log.error("%s: period %s missed: %s", name, period, reason)
    ISSUES.labels(name, "missed").inc()
    delay = CLAIM_FIRST_DELAY
    while True:
        try:
            recorded = ws.store.record_missed(name, period, ws.owner, reason)
        except StoreUnavailableError as exc:
            log.warning(
                "%s: period %s not recorded as missed yet, %s; trying again in %.0f s",
                name,
                period,
                exc,
                delay,
            )
            if await _pause(delay, stop):
                return None
            delay = min(delay * 2, CLAIM_MAX_DELAY)
            continue
        return Claim(None, missed=reason if recorded is not None else None)


async def _pause(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep; True when `stop` was set meanwhile (or already)."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def sync_lists(ws: Workspace) -> None:
    """Make sure every configured list exists and its subscribers file is imported."""
    for name, mailing_list in ws.config.lists.items():
        list_id = ws.store.ensure_list(name, mailing_list.title)
        if mailing_list.subscribers:
            import_csv(ws.store, list_id, ws.config.resolve(mailing_list.subscribers))


async def run_digest(
    ws: Workspace, name: str, *, period: str | None = None, max_wait: float = 600.0
) -> RunReport:
    """Resume what is unfinished; send an approved issue waiting for this run, else build and
    send the digest's current issue (with approval: build or refresh its draft)."""
    ws.config.digest(name)
    resumed = await resume_unfinished(ws, name, max_wait=max_wait)
    approved = await send_approved(ws, name, max_wait=max_wait)
    if approved:
        report = approved[-1]
        report.resumed = resumed + [r.dispatch for r in approved[:-1] if r.dispatch]
        return report
    now = utcnow()
    report = await run_period(
        ws, name, period or f"run-{now:%Y%m%dT%H%M%S%f}", now=now, max_wait=max_wait
    )
    report.resumed = resumed
    return report


async def run_period(
    ws: Workspace,
    name: str,
    period: str,
    *,
    now: datetime | None = None,
    send: bool = True,
    max_wait: float = 600.0,
    stop: asyncio.Event | None = None,
) -> RunReport:
    """Claim the digest's issue for `period` and build it; only the claimant goes on.

    The scheduler calls this once per firing with the firing's period key, so two processes (or
    a restart) firing for the same period build one issue. The digest's policies decide what
    follows the build: too few new articles records the issue as skipped with the reason; with
    approval it waits as a draft (see `settle_drafts`); otherwise it is frozen with its delivery
    plan and, when `send`, delivered here (the service leaves sending to its sender loop).
    """
    ws.config.digest(name)
    issue_id = ws.store.claim_issue(name, period, ws.owner)
    if issue_id is None:
        return RunReport(name, None, "claimed", f"period {period} was already claimed")
    return await build_claimed(ws, name, issue_id, now=now, send=send, max_wait=max_wait, stop=stop)


async def build_claimed(
    ws: Workspace,
    name: str,
    issue_id: int,
    *,
    now: datetime | None = None,
    send: bool = True,
    max_wait: float = 600.0,
    stop: asyncio.Event | None = None,
) -> RunReport:
    """Build an issue this process holds the claim of (see `run_period`), then apply the
    digest's policies. A build that fails forgets the claim, so the period can be tried again."""
    digest = ws.config.digest(name)
    now = now or utcnow()
    try:
        sync_lists(ws)  # only the claimant: the others have nothing to build
        draft = await compose_issue(ws, name, now=now)
    except BaseException:
        ws.store.delete_issue(issue_id)  # the claim made nothing; let the period be tried again
        ISSUES.labels(name, "failed").inc()
        raise
    ISSUES.labels(name, "skipped" if draft.empty else "built").inc()
    if draft.empty:
        reason = (
            "nothing new to send"
            if not draft.selection.chosen
            else f"only {len(draft.selection.chosen)} new articles (minimum {digest.min_articles})"
        )
        ws.store.set_issue_status(
            issue_id, IssueStatus.SKIPPED, report={**draft.report, "reason": reason}
        )
        return RunReport(name, issue_id, IssueStatus.SKIPPED, reason, report=draft.report)
    if digest.approval and (open_draft := _open_draft(ws, name, issue_id)) is not None:
        # One open draft per digest: refresh it (unless an editor is at work on it) rather than
        # stack a second one; this period's claim is recorded as skipped, with the reason.
        if Edits.from_json(open_draft.content.get("edits")).touched:
            reason = f"draft {open_draft.id} is being edited; it was left as it is"
        else:
            refresh_draft(ws, open_draft.id, draft)
            reason = f"draft {open_draft.id} refreshed with what is new"
        ws.store.set_issue_status(
            issue_id, IssueStatus.SKIPPED, report={**draft.report, "reason": reason}
        )
        return RunReport(name, open_draft.id, IssueStatus.DRAFT, reason, report=draft.report)
    store_draft(ws, issue_id, draft)
    if digest.approval:
        waiting = "waiting for an editor's approval"
        if digest.approval_deadline:
            waiting += f" (then {digest.on_deadline} after {digest.approval_deadline})"
        return RunReport(name, issue_id, IssueStatus.DRAFT, waiting, report=draft.report)
    if not send:
        planned = freeze(ws, issue_id)
        return RunReport(
            name,
            issue_id,
            IssueStatus.FROZEN,
            f"issue {issue_id}: {planned} planned",
            report=draft.report,
        )
    return await freeze_and_send(ws, issue_id, max_wait=max_wait, stop=stop)


async def send_approved(ws: Workspace, name: str, *, max_wait: float = 600.0) -> list[RunReport]:
    """Freeze and send the digest's approved issues now (`digest run DIGEST --now`, or the run
    after an approval); one another process froze first is left to it."""
    reports = []
    for issue in reversed(ws.store.issues_of(name, statuses=(IssueStatus.APPROVED,), limit=100)):
        with contextlib.suppress(StoreError):
            reports.append(await freeze_and_send(ws, issue.id, max_wait=max_wait))
    return reports


def freeze(ws: Workspace, issue_id: int) -> int:
    """Freeze a draft or approved issue and plan its deliveries; returns how many.

    With the digest's `local_hour`, each delivery is held until that hour in its subscriber's
    time zone. Raises StoreError when the issue is no longer a draft (someone froze it first).
    """
    issue = ws.store.get_issue(issue_id)
    digest = ws.config.digests.get(issue.digest)
    if digest is not None and "stories" in issue.content:  # the archive and the web view
        public = render_public(ws, issue, subscribe_url(ws, issue.content["list"]))
        ws.store.set_public_edition(issue_id, public.html, public.text)
    return ws.store.freeze_issue(
        issue_id,
        issue.digest,
        int(issue.content["list_id"]),
        list(issue.content["article_keys"]),
        local_hour=digest.local_hour if digest else None,
        default_zone=digest.timezone if digest else "UTC",
    )


def subscribe_url(ws: Workspace, list_name: str) -> str | None:
    """Where a reader of the web edition signs up, when the list takes sign-ups."""
    configured = ws.config.lists.get(list_name)
    if configured is None or not configured.signup:
        return None
    return f"{ws.config.web.base_url}/subscribe/{quote(list_name, safe='')}"


def settle_drafts(ws: Workspace, name: str, *, now: datetime | None = None) -> list[RunReport]:
    """Move the digest's drafts on: approved ones are frozen for sending, and drafts past their
    approval deadline are frozen (`on_deadline = "send"`) or dropped (`"drop"`).

    Each step is a conditional update in the store, so when several processes settle at once
    each issue is frozen or dropped exactly once; the others see it already moved and go on.
    """
    digest = ws.config.digest(name)
    now = now or utcnow()
    reports: list[RunReport] = []
    for issue in ws.store.issues_of(name, statuses=(IssueStatus.APPROVED,), limit=100):
        with contextlib.suppress(StoreError):
            planned = freeze(ws, issue.id)
            reports.append(
                RunReport(
                    name,
                    issue.id,
                    IssueStatus.FROZEN,
                    f"approved issue {issue.id}: {planned} planned",
                )
            )
    deadline = digest.approval_deadline_delta
    if not digest.approval or deadline is None:
        return reports
    for issue_id in ws.store.drafts_built_before(name, now - deadline):
        if digest.on_deadline == "drop":
            reason = f"not approved within {digest.approval_deadline}; dropped"
            if ws.store.drop_draft(issue_id, reason):
                reports.append(RunReport(name, issue_id, IssueStatus.DROPPED, reason))
            continue
        note = f"not approved within {digest.approval_deadline}; sent as built"
        with contextlib.suppress(StoreError):
            planned = freeze(ws, issue_id)
            ws.store.note_on_issue(issue_id, "approval", note)
            reports.append(
                RunReport(name, issue_id, IssueStatus.FROZEN, f"{note}: {planned} planned")
            )
    return reports


def _draft_record(ws: Workspace, draft: Draft) -> dict[str, Any]:
    """What the store keeps of a built draft: its stories (to edit and render again), the
    rendering's parts (subject, html and text have their own columns), its list."""
    assert draft.rendered is not None and draft.issue_date is not None
    digest = ws.config.digest(draft.digest)
    list_id = ws.store.ensure_list(digest.list, ws.config.lists[digest.list].title)
    base = {
        "list": digest.list,
        "list_id": list_id,
        **draft_content(
            ws, draft.digest, draft.selection.chosen, draft.selection.why, draft.issue_date
        ),
    }
    return rendered_content(base, draft.rendered, Edits(), draft.selection.keys())


def store_draft(ws: Workspace, issue_id: int, draft: Draft) -> None:
    assert draft.rendered is not None
    rendered = draft.rendered
    ws.store.save_draft(
        issue_id,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        content=_draft_record(ws, draft),
        report=draft.report,
    )


def refresh_draft(ws: Workspace, issue_id: int, draft: Draft) -> bool:
    """Put a newer build in an untouched draft's place; False if it stopped being a draft."""
    assert draft.rendered is not None
    rendered = draft.rendered
    return ws.store.refresh_draft(
        issue_id,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        content=_draft_record(ws, draft),
        report=draft.report,
    )


def _open_draft(ws: Workspace, name: str, claimed: int) -> IssueRow | None:
    """The digest's draft waiting for an editor, other than the issue just claimed."""
    for issue in ws.store.issues_of(name, statuses=(IssueStatus.DRAFT,), limit=5):
        if issue.id != claimed:
            return issue
    return None


async def freeze_and_send(
    ws: Workspace,
    issue_id: int,
    *,
    resumed: list[DispatchReport] | None = None,
    max_wait: float = 600.0,
    stop: asyncio.Event | None = None,
) -> RunReport:
    issue = ws.store.get_issue(issue_id)
    if issue.status not in IssueStatus.EDITABLE:
        raise DigestError(f"issue {issue_id} is {issue.status}, not a draft to send")
    planned = freeze(ws, issue_id)
    dispatch = await deliver_issue(ws, ws.store.get_issue(issue_id), max_wait=max_wait, stop=stop)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(dispatch.counts.items())) or "no deliveries"
    message = f"issue {issue_id}: {planned} planned, {counts}"
    if dispatch.error:
        message += f"; stopped: {dispatch.error}"
    return RunReport(
        issue.digest, issue_id, dispatch.status, message, resumed or [], dispatch, issue.report
    )
