"""The sources stage: gather every source of a digest concurrently; a failing one never stops it.

    gather(config, names, fetcher, cache=store)  ->  GatherResult(items, failures, reports)

    for each source, concurrently, within its own time budget:
        feed    GET with the cached ETag/Last-Modified -> 304 or same bytes: last items, no parsing
                                                       -> else parse (lxml / orjson / feedparser)
        site    the feed found last time, else discover it (<link rel=alternate>, common paths),
                else the article links the page lists
        page    the page itself, for extraction
        folder  local .html/.md/.txt files
        opml    the list (a file, or a URL fetched like a feed), then every feed it names, each
                as a feed source of its own (`NAME/outline`), its outline's title kept
    filters and max_items are applied while parsing; what was parsed is cached for next time

Errors are values here: a source that fails is named in `failures` with its reason (and logged),
and the issue goes on with the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from digest.config import Config, SourceConfig
from digest.fetch import AddressRefused, Fetched, Fetcher, FetchError
from digest.logs import log_context
from digest.models import SourceItem
from digest.sources.cache import decode_items, encode_items, fingerprint
from digest.sources.feed import FeedError, keep_by_filters, log_reading, parse_document
from digest.sources.folder import read_folder
from digest.sources.normalize import build_items
from digest.sources.page import page_item
from digest.store import CachedSource

__all__ = ["GatherResult", "SourceCache", "SourceReport", "gather", "is_remote", "passes_filters"]

log = logging.getLogger(__name__)

BIG_DOCUMENT = 512 * 1024  # parse larger bodies in a thread so the event loop keeps fetching


class SourceCache(Protocol):
    """Where the last result of each source is kept (the store implements it)."""

    def load_source_cache(self, sources: Iterable[str]) -> dict[str, CachedSource]: ...

    def save_source_cache(self, entries: Iterable[CachedSource]) -> None: ...


@dataclass
class SourceReport:
    """How one source went: `status` is fetched, not-modified, unchanged, local or failed."""

    name: str
    kind: str
    status: str
    items: int = 0
    error: str | None = None
    url: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class GatherResult:
    items: list[SourceItem] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # source name -> reason
    counts: dict[str, int] = field(default_factory=dict)  # source name -> items
    reports: dict[str, SourceReport] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)  # an OPML outline's source -> title
    # Items the sources' include/exclude filters left out in this run (title, url, published),
    # by source; those read from the cache were reported when they were read.
    filtered: dict[str, list[tuple[str, str | None, datetime | None]]] = field(default_factory=dict)


def is_remote(location: str) -> bool:
    return bool(re.match(r"^https?://", location, re.IGNORECASE))


def passes_filters(source: SourceConfig, item: SourceItem) -> bool:
    """Include/exclude filters (keywords or /regex/) on title, URL and categories."""
    return keep_by_filters(source, item.title or "", item.url, item.categories)


MAX_FILTERED_NOTED = 100  # filtered items listed per source and run; a feed's history is long


class _Gatherer:
    """One gathering run: shared fetcher, cached results in, cache updates out."""

    def __init__(
        self,
        config: Config,
        fetcher: Fetcher,
        cached: dict[str, CachedSource],
        now: datetime,
        failing: frozenset[str],
    ) -> None:
        self.failing = failing
        self.config = config
        self.fetcher = fetcher
        self.cached = cached
        self.now = now
        self.updates: list[CachedSource] = []
        self.titles: dict[str, str] = {}
        self.filtered: dict[str, list[tuple[str, str | None, datetime | None]]] = {}

    def passing(self, name: str, source: SourceConfig, items: list[SourceItem]) -> list[SourceItem]:
        """The items the source's filters keep; the others are noted as filtered."""
        kept = []
        for item in items:
            if passes_filters(source, item):
                kept.append(item)
            else:
                self.note_filtered(name, item.title or "", item.url, item.published)
        return kept

    def note_filtered(
        self, name: str, title: str, url: str | None, published: datetime | None
    ) -> None:
        noted = self.filtered.setdefault(name, [])
        if len(noted) < MAX_FILTERED_NOTED:
            noted.append((title, url, published))

    async def read(
        self, name: str, source: SourceConfig, location: str, validators: CachedSource | None
    ) -> Fetched:
        """A URL (conditional when there is a cached result) or a local file, as `Fetched`.

        A source that failed last time gets no retries: the next run is its retry.
        """
        if is_remote(location):
            return await self.fetcher.get(
                location,
                headers=source.headers,
                etag=validators.etag if validators else None,
                last_modified=validators.last_modified if validators else None,
                timeout=source.timeout,
                retries=0 if name in self.failing else None,
            )
        path = self.config.resolve(location.removeprefix("file://"))
        try:
            content = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise FetchError(f"{path}: {exc.strerror or exc}") from None
        return Fetched(path.resolve().as_uri(), 200, content, None)

    def usable(
        self, name: str, source: SourceConfig, url: str | None = None
    ) -> CachedSource | None:
        cached = self.cached.get(name)
        if cached is None or cached.fingerprint != fingerprint(source):
            return None
        if url is not None and cached.url != url:
            return None
        return cached

    async def feed(
        self, name: str, source: SourceConfig, url: str, report: SourceReport
    ) -> list[SourceItem]:
        """A feed's items: the cached ones if unchanged, else freshly parsed (and cached)."""
        cached = self.usable(name, source, url)
        fetched = await self.read(name, source, url, cached)
        report.url = fetched.url
        if cached is not None and (
            fetched.not_modified or fetched.content_hash == cached.content_hash
        ):
            report.status = "not-modified" if fetched.not_modified else "unchanged"
            if not fetched.not_modified and (fetched.etag, fetched.last_modified) != (
                cached.etag,
                cached.last_modified,
            ):
                self.remember(name, source, url, fetched, cached.items, cached.item_count)
            return decode_items(cached.items)
        if fetched.not_modified:
            raise FetchError(f"{url}: answered 304 Not Modified to a request without validators")
        items = await self.parse(name, source, fetched)
        payload = encode_items(items)
        self.remember(name, source, url, fetched, payload, len(items))
        return items

    async def parse(self, name: str, source: SourceConfig, fetched: Fetched) -> list[SourceItem]:
        """The document's items, within the source's timeout (its own budget, after the fetch):
        a big document is read in a thread that is waited for no longer, and the items stop
        being built at the deadline either way."""
        budget = source.timeout or self.fetcher.timeout
        deadline = time.monotonic() + budget

        def work() -> list[SourceItem]:
            document = parse_document(fetched.content, fetched.url, fetched.content_type)
            log_reading(name, document)
            return build_items(
                name,
                document.entries,
                max_items=source.max_items,
                fetch_full=source.fetch_full,
                base_url=fetched.url,
                now=self.now,
                keep=lambda title, link, categories: keep_by_filters(
                    source, title, link, categories
                ),
                deadline=deadline,
                dropped=lambda title, link, published: self.note_filtered(
                    name, title, link, published
                ),
            )

        try:
            if len(fetched.content) > BIG_DOCUMENT:
                return await asyncio.wait_for(asyncio.to_thread(work), budget)
            return work()
        except TimeoutError:
            raise FetchError(
                f"{fetched.url}: reading it took longer than the source's timeout ({budget:g} s)"
            ) from None
        except FeedError as exc:
            raise FetchError(f"{fetched.url}: {exc}") from None

    def remember(
        self,
        name: str,
        source: SourceConfig,
        url: str,
        fetched: Fetched,
        payload: bytes,
        count: int,
    ) -> None:
        if not is_remote(url):
            return  # local files are cheap to read again; caching them would only grow the store
        self.updates.append(
            CachedSource(
                source=name,
                url=url,
                fingerprint=fingerprint(source),
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                content_hash=fetched.content_hash,
                items=payload,
                item_count=count,
            )
        )

    async def page(self, name: str, source: SourceConfig, report: SourceReport) -> list[SourceItem]:
        assert source.url is not None
        cached = self.usable(name, source, source.url)
        fetched = await self.read(name, source, source.url, cached)
        report.url = fetched.url
        if cached is not None and (
            fetched.not_modified or fetched.content_hash == cached.content_hash
        ):
            report.status = "not-modified" if fetched.not_modified else "unchanged"
            return decode_items(cached.items)
        if fetched.not_modified:
            raise FetchError(f"{source.url}: answered 304 Not Modified without validators")
        if not fetched.content.strip():
            raise FetchError(f"{fetched.url}: empty page")
        item = page_item(name, fetched, key_url=source.url)
        self.remember(name, source, source.url, fetched, encode_items([item]), 1)
        return [item]

    async def site(self, name: str, source: SourceConfig, report: SourceReport) -> list[SourceItem]:
        """The site's known feed, else discovery, else the articles its page links to."""
        from digest.sources import site as discovery  # lazy: lxml, 30 ms, for site sources only

        assert source.url is not None
        cached = self.usable(name, source)
        if cached is not None and cached.url != source.url:
            try:
                items = await self.feed(name, source, cached.url, report)
                report.notes.append(f"feed {cached.url}")
                return items
            except FetchError as exc:
                log.info("source %s: known feed failed (%s); discovering again", name, exc)
        page = await self.read(name, source, source.url, None)
        report.url = page.url
        try:  # the URL may itself be a feed
            items = await self.parse(name, source, page)
            self.remember(name, source, source.url, page, encode_items(items), len(items))
            return items
        except FetchError:
            pass
        html, _ = page.text()
        announced = discovery.feed_links(html, page.url)
        for candidates in (announced, discovery.common_feed_urls(page.url)):
            found = await self._first_feed(name, source, candidates, report)
            if found is not None:
                return found
        items = discovery.listing_items(name, html, page.url, source.max_items)
        items = self.passing(name, source, items)
        if not items:
            raise FetchError(f"{page.url}: no feed found and no article links on the page")
        report.notes.append("no feed: article links from the page")
        return items

    async def _first_feed(
        self, name: str, source: SourceConfig, candidates: list[str], report: SourceReport
    ) -> list[SourceItem] | None:
        """The items of the first candidate URL that is a working feed (tried concurrently)."""
        if not candidates:
            return None

        async def attempt(url: str) -> list[SourceItem] | None:
            try:
                return await self.feed(name, source, url, SourceReport(name, "feed", "fetched"))
            except AddressRefused as exc:  # a page announcing a feed on a private host
                log.warning("source %s: %s", name, exc)
                report.notes.append(str(exc))
                return None
            except FetchError:
                return None

        results = await asyncio.gather(*(attempt(url) for url in candidates))
        for url, items in zip(candidates, results, strict=True):
            if items is not None:
                report.notes.append(f"feed {url}")
                report.url = url
                # keep only the chosen feed's cache entry
                self.updates = [u for u in self.updates if u.source != name or u.url == url]
                return items
        self.updates = [u for u in self.updates if u.source != name]
        return None

    async def opml(self, name: str, source: SourceConfig, report: SourceReport) -> list[SourceItem]:
        """Every feed of an OPML list, gathered as feed sources of their own; a feed that fails
        is a note, the list fails only when all of them do (or the list itself)."""
        from digest.sources.opml import Outline, read_opml, sub_source_name  # lazy: lxml

        location = source.url or source.path
        assert location is not None
        fetched = await self.read(name, source, location, None)
        report.url = fetched.url
        try:
            outlines = read_opml(fetched.content)
        except FeedError as exc:
            raise FetchError(f"{fetched.url}: {exc}") from None
        for problem in outlines.problems:
            log.warning("source %s: %s; skipped", name, problem)
            report.notes.append(f"skipped {problem}")
        if not outlines.feeds:
            raise FetchError(f"{fetched.url}: the OPML list names no feed")

        async def one(outline: Outline) -> tuple[str, list[SourceItem] | str]:
            sub = sub_source_name(name, outline)
            feed = source.model_copy(
                update={"kind": "feed", "url": outline.url, "path": None, "title": outline.title}
            )
            try:
                return sub, await self.feed(sub, feed, outline.url, SourceReport(sub, "feed", ""))
            except FetchError as exc:
                return sub, str(exc)

        results = await asyncio.gather(*(one(outline) for outline in outlines.feeds))
        items: list[SourceItem] = []
        failed = 0
        for outline, (sub, outcome) in zip(outlines.feeds, results, strict=True):
            self.titles[sub] = outline.title or outline.url
            if isinstance(outcome, str):
                failed += 1
                log.warning("source %s: feed %s failed: %s", name, outline.url, outcome)
                report.notes.append(f"feed {outline.url} failed: {outcome}")
            else:
                items.extend(outcome)
        if failed == len(results):
            raise FetchError(f"{fetched.url}: every feed of the list failed")
        report.notes.append(f"{len(results) - failed} of {len(results)} feeds read")
        return items

    async def source(
        self, name: str, source: SourceConfig
    ) -> tuple[list[SourceItem], SourceReport]:
        report = SourceReport(name, source.kind, "fetched", url=source.url)
        started = time.perf_counter()
        try:
            # Every fetch is bounded by the source's timeout (the clock starts once a
            # connection slot is free), so no overall timer here: waiting politely behind
            # other feeds of the same host must not count against this one.
            if source.kind == "folder":
                assert source.path is not None
                report.status = "local"
                found = await asyncio.to_thread(
                    read_folder, name, self.config.resolve(source.path), source.max_items
                )
                items = self.passing(name, source, found)
            elif source.kind == "feed":
                assert source.url is not None
                items = await self.feed(name, source, source.url, report)
            elif source.kind == "opml":
                items = await self.opml(name, source, report)
            elif source.kind == "page":
                items = await self.page(name, source, report)
            else:
                items = await self.site(name, source, report)
        except FetchError as exc:
            report.status, report.error = "failed", str(exc)
            items = []
        except Exception as exc:  # a parser bug must not take the issue down; say what it was
            log.exception("source %s failed unexpectedly", name)
            report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
            items = []
        report.seconds = time.perf_counter() - started
        report.items = len(items)
        return items, report


async def gather(
    config: Config,
    source_names: list[str],
    fetcher: Fetcher,
    *,
    cache: SourceCache | None = None,
    now: datetime | None = None,
    failing: Iterable[str] = (),
    on_source: Callable[[str], None] | None = None,
) -> GatherResult:
    """Gather the named sources concurrently; each failure is recorded, never raised.

    `failing` names sources that failed last time: they are tried once, without retries.
    `on_source` is told the name of each source as it is done (for a progress bar).
    """
    names = list(dict.fromkeys(source_names))
    cached = cache.load_source_cache(names) if cache is not None else {}
    run = _Gatherer(config, fetcher, cached, now or datetime.now(UTC), frozenset(failing))

    async def one(name: str) -> tuple[list[SourceItem], SourceReport]:
        with log_context(source=name):
            outcome = await run.source(name, config.sources[name])
        if on_source is not None:
            on_source(name)
        return outcome

    outcomes = await asyncio.gather(*(one(name) for name in names))
    result = GatherResult()
    seen: set[tuple[str, str]] = set()
    for name, (items, report) in zip(names, outcomes, strict=True):
        result.reports[name] = report
        if report.error is not None:
            # INFO: the failure is in the result's report, which the CLI prints and the
            # service logs at WARNING; logging it here too would say it twice.
            with log_context(source=name):
                log.info("source %s failed: %s", name, report.error)
            result.failures[name] = report.error
            continue
        result.counts[name] = len(items)
        for item in items:
            if (item.source, item.key) not in seen:
                seen.add((item.source, item.key))
                result.items.append(item)
    result.titles = run.titles
    result.filtered = run.filtered
    if cache is not None and run.updates:
        cache.save_source_cache(run.updates)
    return result


def content_hash(item: SourceItem) -> str:
    """What an item's extraction depends on: unchanged hash, unchanged article."""
    text = "\x00".join(
        (
            item.url or "",
            item.title or "",
            item.content_html or "",
            item.content_type or "",
            item.filename or "",
            item.published.isoformat() if item.published else "-",
        )
    )
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False)
    if item.raw is not None:
        digest.update(item.raw)
    return digest.hexdigest()
