"""compose_issue: a digest built over real local feeds, broken ones included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import extract
from digest.config import load_config
from digest.identity import url_key
from digest.models import ExtractedArticle
from digest.pipeline import compose_issue
from digest.workspace import Workspace
from tests.sources.hostile import HostileServer, rss

NOW = datetime.now(UTC).replace(microsecond=0)
LEAD = (
    "The council met on Tuesday to discuss the future of the fish market in story {n}. "
    "Residents filled the hall and asked about costs, timing and the shops on the quay."
)


def items(feed: str, count: int, *, shared_link: str | None = None) -> list[dict[str, str]]:
    found = []
    for n in range(count):
        when = NOW - timedelta(hours=n + 1, minutes=ord(feed[-1]) % 30)
        link = f"https://news.example.org/{feed}/{n}?utm_source=rss"
        if n == 0 and shared_link:
            link = shared_link
        found.append(
            {
                "title": f"{feed} story {n}",
                "link": link,
                "guid": f"{feed}-{n}",
                "pubDate": when.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                "description": f"<![CDATA[<p>{LEAD.format(n=n)}</p><p>More.</p>]]>",
            }
        )
    return found


def write_config(tmp_path: Path, server: HostileServer, **digest: Any) -> Path:
    teaser_page = (
        "<html><head><title>Teased</title></head><body><article><h1>Teased story</h1>"
        f"<p>{LEAD.format(n='teased')}</p></article></body></html>"
    ).encode()
    server.static("/articles/teased", teaser_page, "text/html")
    feeds = {
        "alpha": rss(items("alpha", 6), title="Alpha"),
        # beta's first story is alpha's first one under another tracking parameter
        "beta": rss(
            items("beta", 6, shared_link="https://news.example.org/alpha/0?utm_medium=email")
        ),
        "teasers": rss(
            [
                {
                    "title": "Teased story",
                    "link": server.url("/articles/teased"),
                    "guid": "t-1",
                    "pubDate": (NOW - timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT"),
                    "description": "The council met… Continue reading",
                }
            ]
        ),
    }
    lines = ['[providers.outbox]\nkind = "outbox"\n', '[lists.readers]\ntitle = "Readers"\n']
    for name, body in feeds.items():
        url = server.static(f"/{name}.xml", body, etag=f'"{name}"')
        lines.append(f'[sources.{name}]\nkind = "feed"\nurl = "{url}"\n')
    lines.append(f'[sources.gone]\nkind = "feed"\nurl = "{server.url("/gone.xml")}"\n')
    settings = {"max_articles": 5, **digest}
    lines.append(
        '[digests.daily]\ntitle = "Daily"\n'
        'sources = ["alpha", "beta", "teasers", "gone"]\nlist = "readers"\n'
        'provider = "outbox"\nfrom = "Daily <daily@example.org>"\nwindow = "7d"\n'
        + "".join(f"{key} = {value}\n" for key, value in settings.items())
    )
    path = tmp_path / "digest.toml"
    path.write_text("\n".join(lines))
    return path


class CountingExtractor:
    """The real extractor, counting the feed items it is asked to read."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []

    def extract_document(self, data: bytes, **where: Any) -> ExtractedArticle:
        return extract.extract_document(data, **where)

    def extract_feed_item(
        self, content_html: str | None, *, url: str | None, title: str | None
    ) -> ExtractedArticle | None:
        self.calls.append(title)
        return extract.extract_feed_item(content_html, url=url, title=title)


@pytest.fixture
def extractor() -> CountingExtractor:
    return CountingExtractor()


@pytest.fixture
def server() -> Iterator[HostileServer]:
    """Feeds and pages on 127.0.0.1, broken ones included."""
    running = HostileServer().start()
    yield running
    running.stop()


@pytest.fixture
def workspace(
    tmp_path: Path, server: HostileServer, home: Path, extractor: CountingExtractor
) -> Iterator[Workspace]:
    config = load_config(write_config(tmp_path, server))
    with Workspace.open(config, home, extractor=extractor) as ws:
        yield ws


@pytest.mark.slow
async def test_cold_then_warm_issue_has_the_same_articles_once(
    workspace: Workspace, server: HostileServer, extractor: CountingExtractor
) -> None:
    calls = extractor.calls
    cold = await compose_issue(workspace, "daily")
    assert cold.report["failed_sources"] == {
        "gone": f"{server.url('/gone.xml')}: HTTP 404 Not Found"
    }
    chosen = [(a.title, a.url) for a in cold.selection.chosen]
    assert len(chosen) == 5
    assert len({url_key(url) for _, url in chosen}) == 5  # alpha 0 and beta 0: one story
    teased = next(a for a in cold.selection.chosen if a.title == "Teased story")
    assert teased.lead.startswith("The council met on Tuesday") and "teased" in teased.lead
    assert all(a.lead for a in cold.selection.chosen)
    assert len(calls) < 10  # 13 items, 5 chosen: only what selection could take is extracted

    calls.clear()
    warm = await compose_issue(workspace, "daily")
    assert [(a.title, a.url) for a in warm.selection.chosen] == chosen
    assert [a.lead for a in warm.selection.chosen] == [a.lead for a in cold.selection.chosen]
    assert calls == []  # unchanged items reuse their stored articles
    assert server.headers_seen["/alpha.xml"].get("If-None-Match") == '"alpha"'
    assert server.hits["/articles/teased"] == 1
    assert server.hits["/gone.xml"] == 2

    health = workspace.store.source_health()
    assert health["gone"]["consecutive_failures"] == 2
    assert health["alpha"]["consecutive_failures"] == 0 and health["alpha"]["items_seen"] == 12
    assert health["alpha"]["last_new_item"] is not None


@pytest.mark.slow
async def test_item_links_to_private_hosts_are_refused_and_the_issue_goes_on(
    tmp_path: Path, server: HostileServer, home: Path
) -> None:
    """The feed's host is named in the configuration; the hosts its items link to are not."""
    internal = HostileServer("127.0.0.2").start()
    page = f"<html><body><article><h1>Inside</h1><p>{LEAD.format(n='inside')}</p></article>"
    internal.static("/secret", page.encode(), "text/html")
    server.route("/go", lambda h: h.send(302, b"", "text/plain", {"Location": internal.url("/")}))
    when = (NOW - timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    links = {
        "Internal page": internal.url("/secret"),
        "Metadata": "http://169.254.169.254/latest/meta-data/",
        "Bounced": server.url("/go"),
    }
    teasers = [
        {"title": title, "link": link, "guid": title, "pubDate": when, "description": "More…"}
        for title, link in links.items()
    ]
    feed = server.static("/feed.xml", rss([*teasers, *items("alpha", 2)]))
    path = tmp_path / "digest.toml"
    path.write_text(
        '[providers.outbox]\nkind = "outbox"\n[lists.readers]\ntitle = "Readers"\n'
        f'[sources.mixed]\nkind = "feed"\nurl = "{feed}"\n'
        '[digests.daily]\ntitle = "Daily"\nsources = ["mixed"]\nlist = "readers"\n'
        'provider = "outbox"\nfrom = "Daily <daily@example.org>"\nwindow = "7d"\n'
    )
    try:
        with Workspace.open(load_config(path), home) as ws:
            draft = await compose_issue(ws, "daily")
        errors = {e["item"]: e["error"] for e in draft.report["extraction_errors"]}
        assert "refused: 127.0.0.2 is a loopback address" in errors[links["Internal page"]]
        assert "refused: 169.254.169.254 is a link-local address" in errors[links["Metadata"]]
        assert f"redirect to {internal.url('/')} refused" in errors[links["Bounced"]]
        assert internal.hits == {}
        assert draft.report["failed_sources"] == {}
        assert {a.title for a in draft.selection.chosen} == {"alpha story 0", "alpha story 1"}

        # the operator allows the internal host: its page is read like any other
        path.write_text(path.read_text() + '[fetch]\nallow_private = ["127.0.0.2"]\n')
        with Workspace.open(load_config(path), home / "again") as ws:
            draft = await compose_issue(ws, "daily")
        inside = next(a for a in draft.selection.chosen if a.title == "Internal page")
        assert "inside" in inside.lead and internal.hits["/secret"] == 1
    finally:
        internal.stop()
