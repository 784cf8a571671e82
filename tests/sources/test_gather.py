"""gather() against a real server on 127.0.0.1: every hostile case in one run, 304s, discovery."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from digest.config import Config
from digest.fetch import Fetcher
from digest.sources import GatherResult, gather
from digest.store import Store
from tests.sources.hostile import (
    Handler,
    HostileServer,
    dripping,
    endless,
    gzip_bomb,
    rss,
    slow_headers,
    story_items,
)


def make_config(tmp_path: Path, sources: dict[str, dict[str, Any]]) -> Config:
    return Config.model_validate({"sources": sources, "path": tmp_path / "digest.toml"})


async def run(
    config: Config, names: list[str] | None = None, store: Store | None = None, **fetch: Any
) -> GatherResult:
    settings: dict[str, Any] = {"timeout": 2.0, "backoff": 0.01, "size_cap": 5 * 1024 * 1024}
    settings["allow_private"] = config.source_hosts()  # as the workspace's fetcher does
    settings.update(fetch)
    async with Fetcher(**settings) as fetcher:
        return await gather(config, names or list(config.sources), fetcher, cache=store)


@pytest.mark.slow
async def test_hostile_sources_are_named_and_the_rest_arrive_once(
    server: HostileServer, tmp_path: Path
) -> None:
    good = rss(story_items(20, prefix="g"))
    body = rss(story_items(5, prefix="m"))
    feeds = {
        "good": server.static("/good.xml", good, "application/rss+xml"),
        "same-stories": server.static("/mirror.xml", good, "application/rss+xml"),
        "json": server.static(
            "/feed.json",
            orjson.dumps(
                {
                    "version": "https://jsonfeed.org/version/1.1",
                    "items": [
                        {
                            "id": "j1",
                            "url": "https://j.example.org/1",
                            "title": "J one",
                            "content_text": "Body.",
                        }
                    ],
                }
            ),
            "application/feed+json",
        ),
        "malformed": server.static("/malformed.xml", body[: body.index(b"<item><title>Story m3")]),
        "latin1": server.static(
            "/latin1.xml",
            rss([{"title": "Caf\xe9", "link": "https://l.example.org/1"}])
            .decode()
            .replace("utf-8", "iso-8859-1")
            .encode("iso-8859-1"),
        ),
        "invalid-utf8": server.static(
            "/bad-utf8.xml",
            good.replace(b"Story g1:", b"Story \xff g1:"),
            "text/xml; charset=utf-8",
        ),
        "ten-thousand": server.static("/huge.xml", rss(story_items(10_000, prefix="h"))),
        "html": server.static("/page.html", b"<!doctype html><p>hello</p>", "text/html"),
        "empty": server.static("/empty.xml", b""),
        "not-found": server.url("/missing.xml"),
        "gone": server.route("/gone.xml", lambda h: h.send(410, b"gone", "text/plain")),
        "broken-server": server.route("/500.xml", lambda h: h.send(500, b"oops", "text/plain")),
        "slow": server.route("/slow.xml", slow_headers(5)),
        "dripping": server.route("/drip.xml", dripping(5)),
        "redirect-loop": server.route(
            "/loop.xml", lambda h: h.send(302, b"", "text/plain", {"Location": "/loop.xml"})
        ),
        "fifty-mb": server.route(
            "/50mb.xml", lambda h: h.stream(endless(50 * 1024 * 1024), "application/xml")
        ),
        "gzip-bomb": server.static(
            "/bomb.xml", gzip_bomb(16 * 1024 * 1024), headers={"Content-Encoding": "gzip"}
        ),
    }
    sources: dict[str, dict[str, Any]] = {
        name: {"kind": "feed", "url": url} for name, url in feeds.items()
    }
    sources["slow"]["timeout"] = 0.5
    sources["dripping"]["timeout"] = 0.5
    config = make_config(tmp_path, sources)
    started = time.perf_counter()
    result = await run(config)
    elapsed = time.perf_counter() - started

    assert set(result.failures) == {
        "html", "empty", "not-found", "gone", "broken-server", "slow", "dripping",
        "redirect-loop", "fifty-mb", "gzip-bomb",
    }  # fmt: skip
    reasons = result.failures
    assert "HTML page, not a feed" in reasons["html"]
    assert "empty response" in reasons["empty"]
    assert "HTTP 404" in reasons["not-found"]
    assert "HTTP 410" in reasons["gone"] and server.hits["/gone.xml"] == 1
    assert "HTTP 500" in reasons["broken-server"] and server.hits["/500.xml"] == 3
    assert "timed out" in reasons["slow"] and "timed out" in reasons["dripping"]
    assert "too many redirects" in reasons["redirect-loop"]
    assert "larger than 5 MB" in reasons["fifty-mb"]
    assert "decompressed response larger than 5 MB" in reasons["gzip-bomb"]
    assert result.counts == {
        "good": 20, "same-stories": 20, "json": 1, "malformed": 3, "latin1": 1,
        "invalid-utf8": 20, "ten-thousand": 50,
    }  # fmt: skip
    assert len({(i.source, i.key) for i in result.items}) == len(result.items)
    titles = {i.title for i in result.items}
    assert "Café" in titles and "J one" in titles
    assert result.reports["slow"].status == "failed"
    # the slow ones cost their own timeout, not more (the server shares this process's CPU)
    assert elapsed < 4.0
    assert max(result.reports[name].seconds for name in ("good", "json", "malformed")) < 1.0


@pytest.mark.slow
async def test_a_slow_feed_does_not_delay_the_others(server: HostileServer, tmp_path: Path) -> None:
    sources: dict[str, dict[str, Any]] = {
        f"f{n}": {"kind": "feed", "url": server.static(f"/f{n}.xml", rss(story_items(3)))}
        for n in range(20)
    }
    sources["slow"] = {"kind": "feed", "url": server.route("/slow.xml", slow_headers(5)),
                       "timeout": 1.0}  # fmt: skip
    result = await run(make_config(tmp_path, sources), per_host=4)
    assert list(result.failures) == ["slow"]
    fast = [r.seconds for name, r in result.reports.items() if name != "slow"]
    assert max(fast) < 0.9  # one per-host slot is the slow feed's; the other three carry on
    assert 0.9 < result.reports["slow"].seconds < 2.0


async def test_304_and_identical_bodies_yield_the_cached_items_without_parsing(
    server: HostileServer, tmp_path: Path, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = {
        "etag": {"kind": "feed", "url": server.static("/e.xml", rss(story_items(4)), etag='"1"')},
        "plain": {"kind": "feed", "url": server.static("/p.xml", rss(story_items(2, prefix="p")))},
    }
    config = make_config(tmp_path, sources)
    first = await run(config, store=sqlite_store)

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed an unchanged document")

    monkeypatch.setattr("digest.sources.parse_document", no_parsing)
    second = await run(config, store=sqlite_store)
    assert server.headers_seen["/e.xml"].get("If-None-Match") == '"1"'
    assert second.reports["etag"].status == "not-modified"
    assert second.reports["plain"].status == "unchanged"
    assert second.items == first.items and second.counts == first.counts == {"etag": 4, "plain": 2}


async def test_changed_settings_or_content_are_parsed_again(
    server: HostileServer, tmp_path: Path, sqlite_store: Store
) -> None:
    url = server.static("/e.xml", rss(story_items(6)), etag='"1"')
    await run(make_config(tmp_path, {"s": {"kind": "feed", "url": url}}), store=sqlite_store)
    fewer = await run(
        make_config(tmp_path, {"s": {"kind": "feed", "url": url, "max_items": 2}}),
        store=sqlite_store,
    )
    assert fewer.reports["s"].status == "fetched" and fewer.counts == {"s": 2}
    server.static("/e.xml", rss(story_items(7)), etag='"2"')
    changed = await run(
        make_config(tmp_path, {"s": {"kind": "feed", "url": url, "max_items": 2}}),
        store=sqlite_store,
    )
    assert changed.reports["s"].status == "fetched"


def site_page(links: str, head: str = "") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{links}</body></html>".encode()


async def test_site_discovers_its_feed_and_remembers_it(
    server: HostileServer, tmp_path: Path, sqlite_store: Store
) -> None:
    server.static("/blog/feed.atom", rss(story_items(3, prefix="b")), etag='"b"')
    home = server.static(
        "/blog/",
        site_page(
            "<a href='/about'>About</a>",
            '<link rel="alternate" type="application/atom+xml" href="feed.atom">',
        ),
        "text/html",
    )
    config = make_config(tmp_path, {"blog": {"kind": "site", "url": home}})
    first = await run(config, store=sqlite_store)
    assert first.counts == {"blog": 3} and "feed" in first.reports["blog"].notes[0]
    second = await run(config, store=sqlite_store)
    assert second.reports["blog"].status == "not-modified" and second.items == first.items
    assert server.hits["/blog/"] == 1  # the known feed is asked directly


async def test_site_finds_a_feed_at_a_common_path(server: HostileServer, tmp_path: Path) -> None:
    server.static("/rss.xml", rss(story_items(2, prefix="c")))
    home = server.static("/news/", site_page("<p>nothing announced</p>"), "text/html")
    result = await run(make_config(tmp_path, {"news": {"kind": "site", "url": home}}))
    assert result.counts == {"news": 2}
    assert result.reports["news"].url == server.url("/rss.xml")


async def test_site_without_feed_lists_its_article_links(
    server: HostileServer, tmp_path: Path
) -> None:
    links = "".join(
        [
            "<nav><a href='/tag/harbour'>Harbour news and more stories</a>",
            "<a href='/about'>About us</a>",
            "<a href='https://elsewhere.org/x-y-z'>Other site</a></nav>",
            "<main><article><h2><a href='/2026/11/20/ferry-returns-to-the-island'>",
            "The ferry returns to the island</a></h2></article>",
            "<article><h2><a href='/stories/new-fish-market-opens'>New fish market opens its "
            "doors</a></h2></article></main>",
            "<footer><a href='/privacy'>Privacy policy</a><a href='/logo.png'>Logo image</a>",
            "</footer>",
        ]
    )
    home = server.static("/", site_page(links), "text/html")
    result = await run(make_config(tmp_path, {"town": {"kind": "site", "url": home}}))
    assert result.failures == {}
    urls = [item.url for item in result.items]
    assert urls == [
        server.url("/2026/11/20/ferry-returns-to-the-island"),
        server.url("/stories/new-fish-market-opens"),
    ]
    first = result.items[0]
    assert first.title == "The ferry returns to the island" and first.fetch_full
    assert first.published is not None and first.published.day == 20


async def test_page_source_yields_its_document(server: HostileServer, tmp_path: Path) -> None:
    def moved(handler: Handler) -> None:
        handler.send(301, b"", "text/plain", {"Location": "/articles/real"})

    server.route("/articles/old", moved)
    server.static("/articles/real", b"<html><body><p>Article</p></body></html>", "text/html")
    config = make_config(tmp_path, {"one": {"kind": "page", "url": server.url("/articles/old")}})
    [item] = (await run(config)).items
    assert item.url == server.url("/articles/real") and item.raw is not None
    assert item.key == f"127.0.0.1:{server.server_address[1]}/articles/old"
    assert item.content_type == "text/html"


async def test_a_feed_announced_on_a_private_host_is_refused_with_its_reason(
    server: HostileServer, tmp_path: Path
) -> None:
    """The site's host is named in the configuration; the host of the feed it announces is
    not: that feed is never asked for, the refusal is noted, discovery goes on."""
    internal = HostileServer("127.0.0.2").start()
    try:
        internal.static("/feed.xml", rss(story_items(2, prefix="i")))
        server.static("/rss.xml", rss(story_items(2, prefix="c")))
        announced = (
            f'<link rel="alternate" type="application/rss+xml" href="{internal.url("/feed.xml")}">'
        )
        home = server.static("/news/", site_page("<p>news</p>", announced), "text/html")
        result = await run(make_config(tmp_path, {"news": {"kind": "site", "url": home}}))
    finally:
        internal.stop()
    assert internal.hits == {}
    assert result.counts == {"news": 2} and result.reports["news"].url == server.url("/rss.xml")
    assert any(
        "refused: 127.0.0.2 is a loopback address" in note for note in result.reports["news"].notes
    )


@pytest.mark.slow
async def test_reading_a_source_is_bounded_by_its_timeout(
    server: HostileServer, tmp_path: Path
) -> None:
    """1,500 items of 3 KB take seconds to sanitize; the source's 0.5 s timeout stops them."""
    body = "<![CDATA[" + "<p>Some <b>bold</b>, <a href='/x'>a link</a>, <em>more</em>.</p>" * 40
    heavy = [
        {
            "title": f"t{n}",
            "link": f"https://e.org/{n}",
            "guid": str(n),
            "description": body + "]]>",
        }
        for n in range(1500)
    ]
    slow = server.static("/heavy.xml", rss(heavy))
    quick = server.static("/quick.xml", rss(story_items(2)))
    config = make_config(
        tmp_path,
        {
            "heavy": {"kind": "feed", "url": slow, "timeout": 0.5, "max_items": 10_000},
            "quick": {"kind": "feed", "url": quick},
        },
    )
    started = time.perf_counter()
    result = await run(config)
    assert time.perf_counter() - started < 2.5
    assert re.fullmatch(
        rf"{re.escape(slow)}: reading (its items|it) took longer than the source's timeout "
        r"\((\d+ done|0.5 s)\)",
        result.failures["heavy"],
    ), result.failures
    assert result.counts == {"quick": 2}
