"""compose_issue: a digest built over real local feeds, broken ones included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest import extract
from digest.config import load_config
from digest.identity import url_key, url_key_v1
from digest.models import ExtractedArticle
from digest.pipeline import compose_issue
from digest.summarize import LeadSummarizer
from digest.workspace import Workspace
from tests.extract.helpers import png
from tests.sources.hostile import HostileServer, rss
from tests.summarize.fake_chat import FakeChat, Reply, answer, article_of, first_sentence

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


# -- sources faithfully: blemishes, pictures, OPML lists -----------------------------------------

REAL_FEED = Path(__file__).resolve().parents[1] / "data" / "feeds" / "tails-feed.rss"


def one_feed_config(tmp_path: Path, feed: str, *, fetch_full: bool = False, **digest: Any) -> Path:
    settings = {"max_articles": 8, "images": '"none"', "window": '"3650d"', **digest}
    path = tmp_path / "digest.toml"
    path.write_text(
        '[providers.outbox]\nkind = "outbox"\n[lists.readers]\ntitle = "Readers"\n'
        f'[sources.news]\nkind = "feed"\nurl = "{feed}"\nfetch_full = {str(fetch_full).lower()}\n'
        '[digests.daily]\ntitle = "Daily"\nsources = ["news"]\nlist = "readers"\n'
        'provider = "outbox"\nfrom = "Daily <daily@example.org>"\n'
        + "".join(f"{key} = {value}\n" for key, value in settings.items())
    )
    return path


@pytest.mark.slow
async def test_a_real_feed_with_a_stray_nbsp_makes_the_same_issue(tmp_path: Path) -> None:
    """libxml2's recover mode, after one `&nbsp;`, dropped every later `&amp;` of the feed."""
    clean = REAL_FEED.read_bytes()
    assert clean.count(b"&amp;") > 20
    first_title = clean.index(b"<title>") + len(b"<title>")
    issues = []
    for name, body in (
        ("clean", clean),
        ("blemished", clean[:first_title] + b"Tails&nbsp;" + clean[first_title:]),
    ):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "feed.rss").write_bytes(body)
        config = load_config(one_feed_config(folder, "feed.rss"))
        with Workspace.open(config, folder / "home") as ws:
            draft = await compose_issue(ws, "daily", now=datetime(2021, 1, 1, tzinfo=UTC))
        assert draft.rendered is not None
        issues.append(draft)
    assert len(issues[0].selection.chosen) == 8
    for part in ("html", "text"):  # the same, but for each rendering's own placeholder nonce
        clean_part, blemished_part = (
            re.sub(r"DgsT[0-9a-f]+_", "DgsT_", getattr(i.rendered, part)) for i in issues
        )
        assert blemished_part == clean_part


@pytest.mark.slow
async def test_feed_pictures_reach_the_email_sized(tmp_path: Path, server: HostileServer) -> None:
    picture = server.static("/pics/harbour.png", png(480, 320), "image/png")
    listed = [
        {**item, "media:thumbnail": ""} for item in items("pics", 2)
    ]  # placeholders, replaced below
    body = (
        rss(listed, extra=' xmlns:media="http://search.yahoo.com/mrss/"')
        .replace(
            b"<media:thumbnail></media:thumbnail>",
            f'<media:thumbnail url="{picture}"/>'.encode(),
            1,
        )
        .replace(b"<media:thumbnail></media:thumbnail>", b"")
    )
    feed = server.static("/pics.xml", body)
    for images, width, height in (("thumbnail", 120, 80), ("lead", 480, 320)):
        folder = tmp_path / images
        folder.mkdir()
        config = load_config(one_feed_config(folder, feed, images=f'"{images}"'))
        with Workspace.open(config, folder / "home") as ws:
            draft = await compose_issue(ws, "daily")
        assert draft.rendered is not None
        chosen = {a.title: a.image for a in draft.selection.chosen}
        assert chosen == {"pics story 0": picture, "pics story 1": None}
        html = draft.rendered.html
        assert html.count("<img") == 1
        assert f'src="{picture}" width="{width}" height="{height}" alt="pics story 0"' in html
    assert server.hits["/pics/harbour.png"] == 2  # its size read once per issue
    assert server.headers_seen["/pics/harbour.png"].get("Range") == "bytes=0-65535"


@pytest.mark.slow
async def test_a_teasers_picture_is_its_pages_og_image(
    tmp_path: Path, server: HostileServer
) -> None:
    picture = server.static("/pics/page.png", png(1000, 500), "image/png")
    page = server.static(
        "/articles/teased",
        (
            f'<html><head><title>Teased</title><meta property="og:image" content="{picture}">'
            f"</head><body><article><h1>Teased story</h1><p>{LEAD.format(n='t')}</p>"
            "</article></body></html>"
        ).encode(),
        "text/html",
    )
    when = (NOW - timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    teaser = {"title": "Teased story", "link": page, "guid": "t", "pubDate": when,
              "description": "The council met… Continue reading"}  # fmt: skip
    feed = server.static("/teasers.xml", rss([teaser]))
    config = load_config(one_feed_config(tmp_path, feed, fetch_full=True, images='"lead"'))
    with Workspace.open(config, tmp_path / "home") as ws:
        draft = await compose_issue(ws, "daily")
    assert draft.rendered is not None
    assert [a.image for a in draft.selection.chosen] == [picture]
    assert f'src="{picture}" width="552" height="276"' in draft.rendered.html


@pytest.mark.slow
async def test_an_opml_list_gathers_each_feed_under_its_outline_title(
    tmp_path: Path, server: HostileServer
) -> None:
    first = server.static("/first.xml", rss(items("first", 2)))
    second = server.static("/second.xml", rss(items("second", 2)))
    (tmp_path / "reader.opml").write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>Mine</title></head><body>'
        f'<outline text="News"><outline type="rss" text="First Gazette" xmlUrl="{first}"/>'
        f'<outline text="Deeper"><outline type="rss" title="Second Times" xmlUrl="{second}"/>'
        "</outline></outline>"
        f'<outline type="rss" text="First again" xmlUrl="{first}"/>'
        '<outline text="A bookmark, not a feed" htmlUrl="https://example.org/"/>'
        "</body></opml>"
    )
    path = one_feed_config(tmp_path, "unused")
    path.write_text(
        path.read_text().replace(
            '[sources.news]\nkind = "feed"\nurl = "unused"',
            '[sources.news]\nkind = "opml"\npath = "reader.opml"',
        )
        # the list's feeds are on this machine: private, so the operator allows them
        + '[fetch]\nallow_private = ["127.0.0.1"]\n'
    )
    config = load_config(path)
    with Workspace.open(config, tmp_path / "home") as ws:
        draft = await compose_issue(ws, "daily")
    assert draft.rendered is not None
    assert sorted(a.title for a in draft.selection.chosen) == [
        "first story 0",
        "first story 1",
        "second story 0",
        "second story 1",
    ]
    assert "First Gazette" in draft.rendered.html and "Second Times" in draft.rendered.html
    assert server.hits["/first.xml"] == 1  # listed twice, gathered once


@pytest.mark.slow
async def test_stories_sent_before_an_upgrade_of_the_keys_are_not_sent_again(
    workspace: Workspace,
) -> None:
    """A store written by version 1 keeps its stories' keys as version 1 made them."""
    first = await compose_issue(workspace, "daily")
    sent = first.selection.chosen[:3]
    issue_id = workspace.store.claim_issue("daily", "2026-W01", "version-1")
    assert issue_id is not None
    workspace.store.save_draft(issue_id, subject="s", html="h", text="t", content={}, report={})
    version_1_keys = [url_key_v1(a.url) or "" for a in sent]
    assert all(key and not key.startswith("u2:") for key in version_1_keys)
    workspace.store.freeze_issue(issue_id, "daily", 0, version_1_keys)

    again = await compose_issue(workspace, "daily")
    titles = {a.title for a in again.selection.chosen}
    assert titles and not titles & {a.title for a in sent}
    left_out = {entry["title"]: entry["reason"] for entry in again.report["left_out"]}
    assert all(left_out[a.title] == "sent in an earlier issue" for a in sent)


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


async def test_items_the_filters_left_out_are_listed_with_why(tmp_path: Path) -> None:
    old = {
        "title": "sponsored: an old one",
        "link": "https://news.example.org/old",
        "guid": "old",
        "pubDate": (NOW - timedelta(days=400)).strftime("%a, %d %b %Y %H:%M:%S +0000"),
        "description": "<p>Old.</p>",
    }
    fresh = items("news", 3)
    fresh[1]["title"] = "sponsored: buy this"
    (tmp_path / "feed.rss").write_bytes(rss([*fresh, old]))
    path = one_feed_config(tmp_path, "feed.rss", window='"7d"')
    path.write_text(
        path.read_text().replace(
            "fetch_full = false\n", 'fetch_full = false\nfilters = { exclude = ["sponsored"] }\n'
        )
    )
    with Workspace.open(load_config(path), tmp_path / "home") as ws:
        draft = await compose_issue(ws, "daily")
    assert sorted(a.title for a in draft.selection.chosen) == ["news story 0", "news story 2"]
    filtered = [e for e in draft.report["left_out"] if e["reason"].startswith("filtered")]
    assert filtered == [
        {
            "title": "sponsored: buy this",
            "source": "news",
            "url": "https://news.example.org/news/1?utm_source=rss",
            "reason": "filtered out by the source's include/exclude filters",
        }
    ]  # the one older than the window is not listed


# -- summaries by a model ----------------------------------------------------------------------


def summarizing_config(tmp_path: Path, server: HostileServer, fake: FakeChat, **extra: str) -> Path:
    path = write_config(tmp_path, server, summarizer='"llm"', summary_words=20)
    settings = {"base_url": f'"{fake.base_url}"', "model": '"tiny-model"', "timeout": "5", **extra}
    table = "".join(f"{key} = {value}\n" for key, value in settings.items())
    path.write_text(path.read_text() + f"\n[summarizer]\n{table}")
    return path


@pytest.fixture
def fake_chat() -> Iterator[FakeChat]:
    fake = FakeChat().start()
    yield fake
    fake.stop()


@pytest.mark.slow
async def test_a_model_summarizes_and_a_second_build_asks_nothing(
    tmp_path: Path, server: HostileServer, home: Path, fake_chat: FakeChat
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if article_of(body).startswith("alpha story 1\n"):
            return answer("Mayor Jane Doe closed the fish market for 3 weeks.")
        return first_sentence(body)

    fake_chat.respond = respond
    config = load_config(summarizing_config(tmp_path, server, fake_chat))
    with Workspace.open(config, home) as ws:
        cold = await compose_issue(ws, "daily")
        chosen = cold.selection.chosen
        assert fake_chat.calls == len(chosen) == 5
        assert cold.report["summaries"] == {
            "summarizer": "llm",
            "model": 4,
            "cached": 0,
            "fallback": 1,
            "reasons": {"unfaithful": 1},
            "fallbacks": [
                {
                    "title": "alpha story 1",
                    "reason": "unfaithful",
                    "detail": "names what the article does not: 3, Jane, Doe",
                }
            ],
        }
        for article in chosen:
            first = article.lead.split(". ")[0] + "."
            if article.title == "alpha story 1":  # the lead, cut to summary_words
                assert article.summary == LeadSummarizer().summarize(article.lead, words=20)
            else:
                assert article.summary == first
        assert cold.rendered is not None
        assert "Jane Doe" not in cold.rendered.html
        assert chosen[0].summary in " ".join(cold.rendered.text.split())

        warm = await compose_issue(ws, "daily")
        assert fake_chat.calls == 5  # every answer was kept
        assert [a.summary for a in warm.selection.chosen] == [a.summary for a in chosen]
        assert warm.report["summaries"]["cached"] == 4
        assert warm.report["summaries"]["fallback"] == 1


@pytest.mark.slow
async def test_an_unset_api_key_variable_asks_nothing_and_says_so(
    tmp_path: Path,
    server: HostileServer,
    home: Path,
    fake_chat: FakeChat,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DIGEST_TEST_LLM_KEY", raising=False)
    path = summarizing_config(tmp_path, server, fake_chat, api_key_env='"DIGEST_TEST_LLM_KEY"')
    with Workspace.open(load_config(path), home) as ws:
        draft = await compose_issue(ws, "daily")
        summaries = draft.report["summaries"]
        assert (summaries["model"], summaries["fallback"]) == (0, 5)
        assert summaries["reasons"] == {"no API key": 5}
        assert summaries["fallbacks"][0]["detail"] == "$DIGEST_TEST_LLM_KEY is not set"
        assert fake_chat.calls == 0

        monkeypatch.setenv("DIGEST_TEST_LLM_KEY", "sk-local")
        draft = await compose_issue(ws, "daily")
        assert draft.report["summaries"]["model"] == 5
        assert {r["auth"] for r in fake_chat.requests} == {"Bearer sk-local"}


async def test_a_lead_digest_reports_its_summaries_as_leads(workspace: Workspace) -> None:
    draft = await compose_issue(workspace, "daily")
    assert draft.report["summaries"] == {
        "summarizer": "lead",
        "model": 0,
        "cached": 0,
        "fallback": 0,
        "reasons": {},
        "fallbacks": [],
    }
    assert all(
        a.summary == LeadSummarizer().summarize(a.lead, words=60, language=a.language)
        for a in draft.selection.chosen
    )
