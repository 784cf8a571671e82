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
from digest.summarize import LeadSummarizer
from digest.workspace import Workspace
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
