"""One issue, end to end: gather -> extract -> select -> summarize -> render -> freeze -> send.

`Workspace` holds what every step needs (configuration, data directory, store, link signer).
`compose_issue` does the work that touches nothing stored but caches; `run_digest` claims an
issue, stores it as a draft, freezes it with its delivery plan, and works the ledger. Every step's
result is stored, so `resume_unfinished` can carry on after a crash without sending twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson

from digest.compose import OLDER_THAN_WINDOW, Selection, select_articles
from digest.config import Config, DigestConfig
from digest.errors import DigestError, ExtractionError, StoreError
from digest.fetch import USER_AGENT, Fetcher, FetchError
from digest.models import (
    Article,
    ExtractedArticle,
    IssueStatus,
    MembershipStatus,
    Recipient,
    SourceItem,
)
from digest.personalize import MessageTemplate, render_preview
from digest.render import (
    IssueContent,
    RenderCache,
    RenderedIssue,
    RenderSettings,
    render_issue,
)
from digest.send import make_transport
from digest.send.dispatch import DispatchReport, dispatch_issue
from digest.sources import GatherResult, content_hash, gather, is_remote
from digest.sources.identity import dedupe_key, url_key
from digest.store import (
    DeliveryRow,
    IssueRow,
    SourceResult,
    Store,
    StoredArticle,
    open_store,
    utcnow,
)
from digest.summarize import LeadSummarizer, Summarizer
from digest.tokens import LinkSigner, load_secret

log = logging.getLogger(__name__)

EXTRACTION_TIMEOUT = 10.0  # seconds for one article, fetch of a teaser's page included


@dataclass
class Workspace:
    """Everything a command works with: configuration, data directory, store, link signer."""

    config: Config
    home: Path
    store: Store
    signer: LinkSigner
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    @classmethod
    def open(cls, config: Config, home: Path) -> Workspace:
        store = open_store(config.store.url, home)
        signer = LinkSigner(load_secret(config.web.secret_env, home))
        return cls(config, home, store, signer)

    def close(self) -> None:
        self.store.close()

    def fetcher(self) -> Fetcher:
        limits = self.config.fetch
        return Fetcher(
            validators=self.store,
            max_connections=limits.max_connections,
            per_host=limits.per_host,
            timeout=limits.timeout,
            user_agent=limits.user_agent or USER_AGENT,
        )


@dataclass
class Draft:
    """A composed, rendered issue that nothing has been stored for yet."""

    digest: str
    selection: Selection
    rendered: RenderedIssue | None
    report: dict[str, Any]

    @property
    def empty(self) -> bool:
        return self.rendered is None


@dataclass
class RunReport:
    digest: str
    issue_id: int | None
    status: IssueStatus | Literal["claimed"]  # "claimed": another process had the period
    message: str
    resumed: list[DispatchReport] = field(default_factory=list)
    dispatch: DispatchReport | None = None
    report: dict[str, Any] = field(default_factory=dict)


# -- compose ---------------------------------------------------------------------------------


async def _extract_item(item: SourceItem, fetcher: Fetcher) -> ExtractedArticle:
    # Imported here: a run whose articles are all known (every feed answered 304) extracts
    # nothing and need not load the extractor.
    from digest.extract import extract_document, extract_feed_item

    if item.raw is not None:
        return await asyncio.to_thread(
            extract_document,
            item.raw,
            url=item.url,
            content_type=item.content_type,
            filename=item.filename,
        )
    found = None
    if item.content_html:
        found = await asyncio.to_thread(
            extract_feed_item, item.content_html, url=item.url, title=item.title
        )
    if found is None and item.fetch_full and item.url and is_remote(item.url):
        page = await fetcher.get(item.url)
        found = await asyncio.to_thread(
            extract_document, page.content, url=page.url, content_type=page.content_type
        )
    return found or ExtractedArticle(url=item.url, title=item.title, lead="")


@dataclass(frozen=True)
class ExtractionPlan:
    """What the issue can use, so only articles that selection could choose are extracted.

    Extraction is the costly step (about half a millisecond for a feed item, a page fetch for
    a teaser); a digest of 200 feeds has 4,000 items and shows a dozen. Items are extracted in
    the order selection will consider them, until `limit` have succeeded; the others go on as
    articles without a lead, which selection leaves out (sent before, outside the window, over
    the limit) and the store remembers, so their first-seen dates stay true.
    """

    now: datetime
    window: timedelta
    limit: int
    already_sent: frozenset[str]


def _stub(item: SourceItem) -> Article | None:
    if not item.title:
        return None
    return Article(
        source=item.source,
        key=item.key,
        url=item.url,
        title=item.title,
        lead="",
        published=item.published,
        author=item.author,
    )


def _reused(item: SourceItem, stored: StoredArticle) -> Article:
    return Article(
        source=item.source,
        key=item.key,
        url=item.url or stored.url,
        title=item.title or stored.title,
        lead=stored.lead,
        published=item.published or stored.published,
        author=item.author or stored.author,
        image=stored.image,
        language=stored.language,
        words=stored.words,
    )


async def extract_items(
    items: list[SourceItem],
    fetcher: Fetcher,
    *,
    store: Store | None = None,
    known: dict[tuple[str, str], StoredArticle] | None = None,
    plan: ExtractionPlan | None = None,
) -> tuple[list[Article], list[dict[str, str]]]:
    """Articles from source items; each failure is a reason in the list, never a crash.

    With a `store`, an item whose content is unchanged since it was last extracted reuses the
    stored article, and fresh extractions are saved; with a `plan`, only what selection could
    choose is extracted (see ExtractionPlan). Without either, every item is extracted.
    """
    errors: list[dict[str, str]] = []
    if known is None:
        known = store.stored_articles((i.source, i.key) for i in items) if store else {}
    hashes = {(item.source, item.key): content_hash(item) for item in items}
    fresh: list[tuple[Article, str | None, str]] = []

    async def one(item: SourceItem) -> Article | None:
        stored = known.get((item.source, item.key))
        if stored is not None and stored.content_hash == hashes[(item.source, item.key)]:
            return _reused(item, stored)
        where = item.url or item.filename or item.key
        try:
            found = await asyncio.wait_for(_extract_item(item, fetcher), EXTRACTION_TIMEOUT)
        except TimeoutError:
            errors.append({"source": item.source, "item": where, "error": "extraction timed out"})
            return None
        except (ExtractionError, FetchError) as exc:
            errors.append({"source": item.source, "item": where, "error": str(exc)})
            return None
        title = item.title or found.title
        if not title:
            errors.append({"source": item.source, "item": where, "error": "no title found"})
            return None
        from_feed = item.raw is None
        published = (
            (item.published or found.published)
            if from_feed
            else (found.published or item.published)
        )
        article = Article(
            source=item.source,
            key=item.key,
            url=item.url or found.url,
            title=title,
            lead=found.lead or "",
            published=published,
            author=item.author or found.author,
            image=found.image,
            language=found.language,
            words=found.words,
        )
        fresh.append((article, url_key(article.url), hashes[(item.source, item.key)]))
        return article

    if plan is None:
        found = await asyncio.gather(*(one(item) for item in items))
        articles = [article for article in found if article is not None]
    else:
        articles = await _extract_planned(items, known, plan, one)
    if store is not None and fresh:
        store.save_articles(fresh)
    return articles, errors


async def _extract_planned(
    items: list[SourceItem],
    known: dict[tuple[str, str], StoredArticle],
    plan: ExtractionPlan,
    one: Callable[[SourceItem], Awaitable[Article | None]],
) -> list[Article]:
    """Extract in selection's order, in waves, until `plan.limit` stories have a lead."""

    def when(item: SourceItem) -> datetime:
        if item.published is not None:
            return item.published
        stored = known.get((item.source, item.key))
        return stored.first_seen if stored else plan.now

    def order(item: SourceItem) -> tuple[datetime, str]:
        return (when(item), item.title or "")

    eligible: list[SourceItem] = []
    articles: list[Article] = []
    for item in sorted(items, key=order, reverse=True):
        key = dedupe_key(item.source, item.key, item.url)
        if key in plan.already_sent or when(item) < plan.now - plan.window:
            if (stub := _stub(item)) is not None:
                articles.append(stub)
        else:
            eligible.append(item)
    stories: set[str] = set()
    start = 0
    while start < len(eligible) and len(stories) < plan.limit:
        need = plan.limit - len(stories)
        end = min(len(eligible), start + need + need // 2 + 2)
        while end < len(eligible) and order(eligible[end]) == order(eligible[end - 1]):
            end += 1  # ties: selection may take any of them, so all get a lead
        wave = eligible[start:end]
        start = end
        for item, article in zip(wave, await asyncio.gather(*(one(i) for i in wave)), strict=True):
            if article is not None:
                articles.append(article)
                if article.lead:
                    stories.add(dedupe_key(item.source, item.key, article.url))
    articles.extend(stub for item in eligible[start:] if (stub := _stub(item)) is not None)
    return articles


def sent_before(store: Store, digest: str, items: list[SourceItem]) -> frozenset[str]:
    """The stories among `items` that this digest has already sent."""
    return frozenset(
        store.sent_article_keys(digest, (dedupe_key(i.source, i.key, i.url) for i in items))
    )


def source_results(
    names: list[str], gathered: GatherResult, known: dict[tuple[str, str], StoredArticle]
) -> list[SourceResult]:
    """Each source's health outcome: its error, or how many items it had and how many are new."""
    new: dict[str, int] = {}
    for item in gathered.items:
        if (item.source, item.key) not in known:
            new[item.source] = new.get(item.source, 0) + 1
    return [
        SourceResult(
            name,
            gathered.failures.get(name),
            items=gathered.counts.get(name, 0),
            new_items=new.get(name, 0),
        )
        for name in names
    ]


def summarizer_for(digest: DigestConfig) -> Summarizer:
    return LeadSummarizer()


async def compose_issue(ws: Workspace, name: str, *, now: datetime | None = None) -> Draft:
    """Gather, extract, select, summarize and render the digest's next issue."""
    digest = ws.config.digest(name)
    now = now or utcnow()
    started = time.perf_counter()
    async with ws.fetcher() as fetcher:
        failing = [
            source
            for source, health in ws.store.source_health(digest.sources).items()
            if health["consecutive_failures"]
        ]
        gathered = await gather(
            ws.config, digest.sources, fetcher, cache=ws.store, now=now, failing=failing
        )
        statuses = Counter(report.status for report in gathered.reports.values())
        log.info(
            "gathered %d items from %d sources in %.2f s (%s)",
            len(gathered.items),
            len(digest.sources),
            time.perf_counter() - started,
            ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())),
        )
        known = ws.store.stored_articles((i.source, i.key) for i in gathered.items)
        ws.store.record_source_results(source_results(digest.sources, gathered, known))
        plan = ExtractionPlan(
            now=now,
            window=digest.window_delta,
            limit=digest.max_articles,
            already_sent=sent_before(ws.store, name, gathered.items),
        )
        candidates, errors = await extract_items(
            gathered.items, fetcher, store=ws.store, known=known, plan=plan
        )
    log.info("%d candidate articles after %.2f s", len(candidates), time.perf_counter() - started)
    first_seen = ws.store.remember_articles(((a, url_key(a.url)) for a in candidates), known=known)
    for article in candidates:
        if article.published is None:
            article.published = first_seen.get(article.key, now)
    # The plan already knows what was sent among the items' keys; only an article whose link
    # came from extraction (a page's canonical URL) has a key the plan did not look up.
    asked = {dedupe_key(i.source, i.key, i.url) for i in gathered.items}
    unasked = {dedupe_key(a.source, a.key, a.url) for a in candidates} - asked
    already = set(plan.already_sent) | ws.store.sent_article_keys(name, unasked)
    selection = select_articles(
        candidates,
        now=now,
        window=digest.window_delta,
        max_articles=digest.max_articles,
        already_sent=already,
    )
    report: dict[str, Any] = {
        "failed_sources": gathered.failures,
        "extraction_errors": errors,
        # Each article an editor could have expected, with why it was left out; articles older
        # than the window (most of a large feed's history) are only counted.
        "left_out": [
            {"title": a.title, "source": a.source, "url": a.url, "reason": reason}
            for a, reason in selection.left_out
            if reason != OLDER_THAN_WINDOW
        ],
        "older_than_window": sum(
            1 for _, reason in selection.left_out if reason == OLDER_THAN_WINDOW
        ),
        "warnings": [],
    }
    if len(selection.chosen) < digest.min_articles:
        return Draft(name, selection, None, report)
    summarizer = summarizer_for(digest)
    for article in selection.chosen:
        article.summary = summarizer.summarize(
            article.lead, words=digest.summary_words, language=article.language
        )
    rendered = RenderCache(ws.home / "cache").render(
        IssueContent(
            issue_id=None,
            issue_date=now.astimezone(digest.zone).date(),
            articles=selection.chosen,
            source_titles={
                source: ws.config.sources[source].title or source for source in digest.sources
            },
        ),
        render_settings(ws, name),
    )
    report["warnings"] = list(rendered.warnings)
    report["html_size"] = rendered.html_size
    return Draft(name, selection, rendered, report)


def render_settings(ws: Workspace, name: str) -> RenderSettings:
    return _render_settings(ws.config, name)


def _render_settings(config: Config, name: str) -> RenderSettings:
    digest = config.digest(name)
    from email.utils import parseaddr

    domain = parseaddr(digest.from_)[1].rpartition("@")[2] or "digest.local"
    return RenderSettings(
        digest_name=name,
        title=digest.title,
        from_addr=digest.from_,
        reply_to=digest.reply_to,
        subject_template=digest.subject,
        postal_address=digest.postal_address,
        language=digest.language,
        template_dir=config.resolve(digest.template) if digest.template else None,
        size_budget=digest.size_budget,
        unsubscribe_mailto=config.web.unsubscribe_mailto,
        list_id_domain=domain,
        message_id_domain=domain,
    )


# -- deliver ----------------------------------------------------------------------------------


def recipient_factory(ws: Workspace, issue_id: int, list_id: int) -> Any:
    base = ws.config.web.base_url
    web_url = f"{base}/issues/{ws.signer.issue_token(issue_id)}"

    def recipient_for(row: DeliveryRow) -> Recipient:
        token = ws.signer.unsubscribe_token(row.subscriber_id, list_id)
        return Recipient(
            delivery_id=row.id,
            subscriber_id=row.subscriber_id,
            email=row.email,
            name=row.name,
            attributes={k: str(v) for k, v in row.attributes.items()},
            unsubscribe_url=f"{base}/unsubscribe/{token}",
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
    digest = ws.config.digest(issue.digest)
    list_id = int(issue.content["list_id"])
    settings = render_settings(ws, issue.digest)
    template = MessageTemplate.build(
        stored_rendering(issue), settings, issue_key=f"{issue.digest}.{issue.id}"
    )
    transport = make_transport(digest.provider, ws.config.providers[digest.provider], ws.home)
    limiter = None
    if rate := ws.config.providers[digest.provider].rate_limit:
        from digest.send.ratelimit import RateLimiter

        limiter = RateLimiter(rate)
    try:
        return await dispatch_issue(
            ws.store,
            issue.id,
            list_id,
            transport,
            template.personalize,
            recipient_factory(ws, issue.id, list_id),
            owner=ws.owner,
            limiter=limiter,
            lease=timedelta(seconds=ws.config.send.lease_seconds),
            concurrency=ws.config.send.concurrency,
            batch_size=ws.config.send.batch_size,
            max_wait=max_wait,
            stop=stop,
        )
    finally:
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


def sync_lists(ws: Workspace) -> None:
    """Make sure every configured list exists and its subscribers file is imported."""
    from digest.subscribers import import_csv

    for name, mailing_list in ws.config.lists.items():
        list_id = ws.store.ensure_list(name, mailing_list.title)
        if mailing_list.subscribers:
            import_csv(ws.store, list_id, ws.config.resolve(mailing_list.subscribers))


async def run_digest(
    ws: Workspace, name: str, *, period: str | None = None, max_wait: float = 600.0
) -> RunReport:
    """Resume what is unfinished, then build and send the digest's current issue."""
    ws.config.digest(name)
    resumed = await resume_unfinished(ws, name, max_wait=max_wait)
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
        raise
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


def freeze(ws: Workspace, issue_id: int) -> int:
    """Freeze a draft or approved issue and plan its deliveries; returns how many.

    With the digest's `local_hour`, each delivery is held until that hour in its subscriber's
    time zone. Raises StoreError when the issue is no longer a draft (someone froze it first).
    """
    issue = ws.store.get_issue(issue_id)
    digest = ws.config.digests.get(issue.digest)
    return ws.store.freeze_issue(
        issue_id,
        issue.digest,
        int(issue.content["list_id"]),
        list(issue.content["article_keys"]),
        local_hour=digest.local_hour if digest else None,
        default_zone=digest.timezone if digest else "UTC",
    )


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


def store_draft(ws: Workspace, issue_id: int, draft: Draft) -> None:
    assert draft.rendered is not None
    digest = ws.config.digest(draft.digest)
    list_id = ws.store.ensure_list(digest.list, ws.config.lists[digest.list].title)
    rendered = draft.rendered
    ws.store.save_draft(
        issue_id,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        content={
            "list": digest.list,
            "list_id": list_id,
            "article_keys": draft.selection.keys(),
            "articles": [a.as_json() for a in rendered.articles],
            "more": [a.as_json() for a in rendered.more],
            "html_size": rendered.html_size,
            # the rest of the rendering (subject, html, text have their own columns)
            "rendered": {
                k: v for k, v in rendered.to_json().items() if k not in ("subject", "html", "text")
            },
        },
        report=draft.report,
    )


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


# -- preview ----------------------------------------------------------------------------------


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
        web_url=f"{base}/issues/preview",
    )


async def write_preview(ws: Workspace, name: str, out_dir: Path) -> Draft:
    """Compose the next issue and write it as a sample subscriber would get it; send nothing."""
    sync_lists(ws)
    draft = await compose_issue(ws, name)
    if draft.rendered is None:
        return draft
    recipient = sample_recipient(ws, name)
    html, text = render_preview(draft.rendered, recipient)
    message = MessageTemplate.build(
        draft.rendered, render_settings(ws, name), issue_key=f"{name}.preview"
    ).personalize(recipient)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "issue.html").write_text(html, encoding="utf-8")
    (out_dir / "issue.txt").write_text(text, encoding="utf-8")
    (out_dir / "issue.eml").write_bytes(message.mime)
    summary = {
        "digest": name,
        "subject": message.subject,
        "html_size": draft.rendered.html_size,
        "articles": [a.as_json() for a in draft.rendered.articles],
        "more": [a.as_json() for a in draft.rendered.more],
        "report": draft.report,
    }
    # orjson: a large digest's report lists thousands of left-out articles
    (out_dir / "issue.json").write_bytes(
        orjson.dumps(summary, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    )
    return draft


def sample_render(config: Config, name: str) -> list[str]:
    """Render a full-size sample issue of the digest: template errors and size against budget.

    `digest check` runs this so that a template naming an unknown variable, or a design that
    would not fit the size budget with `max_articles` full summaries, shows before a real run.
    """
    from datetime import date

    from digest.render import render_report

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
    settings = _render_settings(config, name)
    rendered = render_issue(
        IssueContent(issue_id=None, issue_date=date.today(), articles=articles), settings
    )
    return render_report(rendered, settings)
