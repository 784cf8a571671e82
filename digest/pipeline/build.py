"""Build: gather -> extract -> select -> summarize -> render, touching nothing stored but caches.

`compose_issue` makes the digest's next issue as a `Draft`; whether it is kept, approved or
sent is the lifecycle's business (`digest.pipeline.lifecycle`). Extraction follows a plan, so a
digest of 4,000 items extracts only the dozen or so that selection could choose.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from typing import Any

from digest.compose import OLDER_THAN_WINDOW, Selection, select_articles
from digest.config import Config, DigestConfig
from digest.dates import utcnow
from digest.errors import ExtractionError
from digest.fetch import Fetcher, FetchError
from digest.identity import dedupe_key, dedupe_keys, url_key
from digest.logs import log_context
from digest.models import Article, ExtractedArticle, SourceItem
from digest.render import (
    IssueContent,
    RenderCache,
    RenderedIssue,
    RenderSettings,
)
from digest.sources import GatherResult, content_hash, gather, is_remote
from digest.store import SourceResult, Store, StoredArticle
from digest.summarize import (
    ChatSummarizer,
    LeadSummarizer,
    Summarizer,
    SummaryRequest,
    summary_report,
)
from digest.workspace import Extractor, Workspace

log = logging.getLogger(__name__)

EXTRACTION_TIMEOUT = 10.0  # seconds for one article, fetch of a teaser's page included


@dataclass
class Draft:
    """A composed, rendered issue that nothing has been stored for yet."""

    digest: str
    selection: Selection
    rendered: RenderedIssue | None
    report: dict[str, Any]
    issue_date: date | None = None  # the date the issue carries, in the digest's time zone

    @property
    def empty(self) -> bool:
        return self.rendered is None


# -- extraction -----------------------------------------------------------------------------


async def _extract_item(
    item: SourceItem, fetcher: Fetcher, extractor: Extractor
) -> ExtractedArticle:
    if item.raw is not None:
        return await asyncio.to_thread(
            extractor.extract_document,
            item.raw,
            url=item.url,
            content_type=item.content_type,
            filename=item.filename,
        )
    found = None
    if item.content_html:
        found = await asyncio.to_thread(
            extractor.extract_feed_item, item.content_html, url=item.url, title=item.title
        )
    if found is None and item.fetch_full and item.url and is_remote(item.url):
        page = await fetcher.get(item.url)
        found = await asyncio.to_thread(
            extractor.extract_document, page.content, url=page.url, content_type=page.content_type
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
        image=item.image,
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
        image=item.image or stored.image,
        language=stored.language,
        words=stored.words,
    )


async def extract_items(
    items: list[SourceItem],
    fetcher: Fetcher,
    extractor: Extractor,
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
            found = await asyncio.wait_for(
                _extract_item(item, fetcher, extractor), EXTRACTION_TIMEOUT
            )
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
            image=item.image or found.image,  # the feed's own picture, else the page's
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


def sent_before(
    store: Store, digest: str, stories: Iterable[tuple[str, str, str | None]]
) -> frozenset[str]:
    """The stories among (source, key, link) that this digest has already sent, by their
    current keys; a story sent before an upgrade is found under its key of that time."""
    variants = {story: dedupe_keys(*story) for story in stories}
    found = store.sent_article_keys(digest, (k for keys in variants.values() for k in keys))
    return frozenset(keys[0] for keys in variants.values() if any(k in found for k in keys))


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


def summarizer_for(ws: Workspace, digest: DigestConfig) -> Summarizer:
    """The digest's summarizer: the lead, or the configured model with its answers kept in
    the store. A model whose API key variable is unset is not asked: every summary is then
    the lead, and the report says why."""
    settings = ws.config.summarizer
    if digest.summarizer == "lead" or not settings.base_url or not settings.model:
        return LeadSummarizer()
    api_key = None
    if settings.api_key_env:
        api_key = os.environ.get(settings.api_key_env)
        if not api_key:
            return LeadSummarizer(reason="no API key", detail=f"${settings.api_key_env} is not set")
    return ChatSummarizer(
        settings.base_url,
        settings.model,
        api_key=api_key,
        words=settings.words,
        concurrency=settings.concurrency,
        timeout=settings.timeout,
        retries=settings.retries,
        cache=ws.store,
    )


FILTERED = "filtered out by the source's include/exclude filters"


async def compose_issue(ws: Workspace, name: str, *, now: datetime | None = None) -> Draft:
    """Gather, extract, select, summarize and render the digest's next issue."""
    with log_context(digest=name):
        return await _compose(ws, name, now)


async def _compose(ws: Workspace, name: str, now: datetime | None) -> Draft:
    digest = ws.config.digest(name)
    now = now or utcnow()
    started = time.perf_counter()
    async with ws.fetcher() as fetcher:
        failing = [
            source
            for source, health in ws.store.source_health(digest.sources).items()
            if health["consecutive_failures"]
        ]
        task = ws.progress.task("gathering sources", len(digest.sources))
        try:
            gathered = await gather(
                ws.config,
                digest.sources,
                fetcher,
                cache=ws.store,
                now=now,
                failing=failing,
                on_source=lambda _: task.advance(),
            )
        finally:
            task.done()
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
            already_sent=sent_before(
                ws.store, name, ((i.source, i.key, i.url) for i in gathered.items)
            ),
        )
        candidates, errors = await extract_items(
            gathered.items, fetcher, ws.extractor, store=ws.store, known=known, plan=plan
        )
    log.info("%d candidate articles after %.2f s", len(candidates), time.perf_counter() - started)
    first_seen = ws.store.remember_articles(((a, url_key(a.url)) for a in candidates), known=known)
    for article in candidates:
        if article.published is None:
            article.published = first_seen.get(article.key, now)
    # The plan already knows what was sent among the items' keys; only an article whose link
    # came from extraction (a page's canonical URL) has a key the plan did not look up.
    asked = {dedupe_key(i.source, i.key, i.url) for i in gathered.items}
    unasked = [
        (a.source, a.key, a.url)
        for a in candidates
        if dedupe_key(a.source, a.key, a.url) not in asked
    ]
    already = set(plan.already_sent) | sent_before(ws.store, name, unasked)
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
        ]
        + [
            {"title": title, "source": source, "url": url, "reason": FILTERED}
            for source, dropped in gathered.filtered.items()
            for title, url, published in dropped
            if published is None or published >= now - digest.window_delta
        ],
        "older_than_window": sum(
            1 for _, reason in selection.left_out if reason == OLDER_THAN_WINDOW
        ),
        "warnings": [],
    }
    issue_date = now.astimezone(digest.zone).date()
    if len(selection.chosen) < digest.min_articles:
        return Draft(name, selection, None, report, issue_date)
    image_sizes: dict[str, tuple[int, int]] = {}
    if digest.images != "none":
        known_sizes = {i.image: i.image_size for i in gathered.items if i.image and i.image_size}
        image_sizes = await image_sizes_of(ws, selection.chosen, known_sizes)
    requests = [
        SummaryRequest(
            article=dedupe_key(a.source, a.key, a.url),
            title=a.title,
            text=a.lead,
            words=digest.summary_words,
            language=a.language,
        )
        for a in selection.chosen
    ]
    summaries = await summarizer_for(ws, digest).summarize_all(requests)
    for article, summary in zip(selection.chosen, summaries, strict=True):
        article.summary = summary.text
    report["summaries"] = summary_report(digest.summarizer, requests, summaries)
    rendered = RenderCache(ws.home / "cache").render(
        IssueContent(
            issue_id=None,
            issue_date=issue_date,
            articles=selection.chosen,
            source_titles={
                **{source: ws.config.sources[source].title or source for source in digest.sources},
                **gathered.titles,
            },
            image_sizes=image_sizes,
        ),
        render_settings(ws.config, name),
    )
    report["warnings"] = list(rendered.warnings)
    report["html_size"] = rendered.html_size
    return Draft(name, selection, rendered, report, issue_date)


async def image_sizes_of(
    ws: Workspace, articles: list[Article], known: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    """Each chosen article's picture's (width, height): as the feed gave it, else read from the
    image's first bytes (a ranged GET); a picture whose size cannot be had is left out."""
    sizes = {a.image: known[a.image] for a in articles if a.image and a.image in known}
    missing = list(dict.fromkeys(a.image for a in articles if a.image and a.image not in sizes))
    if not missing:
        return sizes
    # lazy: the extraction package is loaded only by runs that extract (a warm run does not)
    from digest.extract.image import HEAD_BYTES, image_size

    async def probe(fetcher: Fetcher, url: str) -> tuple[int, int] | None:
        try:
            fetched = await fetcher.get(
                url, headers={"Range": f"bytes=0-{HEAD_BYTES - 1}"}, timeout=5.0, retries=0
            )
        except FetchError as exc:
            log.info("image %s: %s; shown without it", url, exc)
            return None
        return image_size(fetched.content[:HEAD_BYTES])

    async with ws.fetcher() as fetcher:
        found = await asyncio.gather(*(probe(fetcher, url) for url in missing))
    sizes.update((url, size) for url, size in zip(missing, found, strict=True) if size)
    return sizes


def render_settings(config: Config, name: str) -> RenderSettings:
    """What rendering needs of a digest's configuration."""
    digest = config.digest(name)
    domain = parseaddr(digest.from_)[1].rpartition("@")[2] or "digest.local"
    return RenderSettings(
        digest_name=name,
        title=digest.title,
        from_addr=digest.from_,
        reply_to=digest.reply_to,
        subject_template=digest.subject,
        postal_address=digest.postal_address,
        language=digest.html_lang,
        locale=digest.locale,
        template_dir=config.resolve(digest.template) if digest.template else None,
        size_budget=digest.size_budget,
        images=digest.images,
        unsubscribe_mailto=config.web.unsubscribe_mailto,
        list_id_domain=domain,
        message_id_domain=domain,
    )
