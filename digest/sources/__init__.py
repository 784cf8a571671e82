"""The sources stage: gather every source of a digest concurrently; a failing one never stops it.

    gather(config, digest)  ->  GatherResult(items, failures)

Each source kind has its module (feed, folder, page). Errors are values here: a source that
fails is named in `failures` with its reason, recorded in its health, and the issue goes on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from digest.config import Config, SourceConfig
from digest.fetch import Fetcher, FetchError
from digest.models import SourceItem
from digest.sources.feed import parse_feed
from digest.sources.folder import read_folder

log = logging.getLogger(__name__)


@dataclass
class GatherResult:
    items: list[SourceItem] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # source name -> reason
    counts: dict[str, int] = field(default_factory=dict)  # source name -> items


def is_remote(location: str) -> bool:
    return bool(re.match(r"^https?://", location))


async def read_location(
    config: Config, location: str, fetcher: Fetcher, headers: dict[str, str] | None = None
) -> tuple[bytes, str, str | None]:
    """Bytes of a URL or a local path (relative to the config file), its URL and content type."""
    if is_remote(location):
        fetched = await fetcher.get(location, headers=headers)
        return fetched.content, fetched.url, fetched.content_type
    path = config.resolve(location.removeprefix("file://"))
    try:
        return await asyncio.to_thread(path.read_bytes), path.resolve().as_uri(), None
    except OSError as exc:
        raise FetchError(f"{path}: {exc.strerror or exc}") from None


async def gather_source(
    config: Config, name: str, source: SourceConfig, fetcher: Fetcher
) -> list[SourceItem]:
    if source.kind == "folder":
        assert source.path is not None
        return await asyncio.to_thread(
            read_folder, name, config.resolve(source.path), source.max_items
        )
    assert source.url is not None
    content, url, content_type = await read_location(config, source.url, fetcher, source.headers)
    if source.kind == "feed":
        try:
            return parse_feed(name, source, content, url)
        except ValueError as exc:
            raise FetchError(f"{source.url}: {exc}") from None
    if source.kind in ("page", "site"):
        return [
            SourceItem(
                source=name,
                key=url,
                url=url,
                title=None,
                published=None,
                raw=content,
                content_type=content_type or "text/html",
                filename=Path(url).name if not is_remote(url) else None,
            )
        ]
    raise FetchError(f"unknown source kind {source.kind}")


def _matches(pattern: str, values: list[str]) -> bool:
    if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
        regex = re.compile(pattern[1:-1], re.IGNORECASE)
        return any(regex.search(value) for value in values)
    return any(pattern.lower() in value.lower() for value in values)


def passes_filters(source: SourceConfig, item: SourceItem) -> bool:
    """Include/exclude filters on title, URL and categories."""
    values = [item.title or "", item.url or "", *item.categories]
    if source.filters.include and not any(_matches(p, values) for p in source.filters.include):
        return False
    return not any(_matches(p, values) for p in source.filters.exclude)


async def gather(config: Config, source_names: list[str], fetcher: Fetcher) -> GatherResult:
    """Gather the named sources concurrently; each failure is recorded, never raised."""
    result = GatherResult()

    async def one(name: str) -> None:
        source = config.sources[name]
        try:
            items = await gather_source(config, name, source, fetcher)
        except FetchError as exc:
            log.warning("source %s failed: %s", name, exc)
            result.failures[name] = str(exc)
            return
        except Exception as exc:  # a parser bug must not take the issue down; say what it was
            log.exception("source %s failed unexpectedly", name)
            result.failures[name] = f"{type(exc).__name__}: {exc}"
            return
        kept = [item for item in items if passes_filters(source, item)]
        result.counts[name] = len(kept)
        result.items.extend(kept)

    await asyncio.gather(*(one(name) for name in source_names))
    return result
