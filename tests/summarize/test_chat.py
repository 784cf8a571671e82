"""The chat summarizer against a fake OpenAI-compatible server on 127.0.0.1 (real HTTP, never
a real service): the request it sends, bounded concurrency, retries with Retry-After, the
timeout, garbage and unfaithful answers, and answers kept in the real store."""

from __future__ import annotations

import time

import pytest

from digest.store import Store
from digest.summarize import ChatSummarizer, LeadSummarizer, Summary, SummaryRequest
from tests.summarize.fake_chat import FakeChat, Reply, answer

LEAD = (
    "The harbor bridge reopened to traffic on Tuesday, ending two years of detours. "
    "City officials cut a ribbon at 6 a.m. and the first cars rolled across minutes later. "
    "The repairs cost $212 million, about $30 million more than planned."
)
FAITHFUL = "The harbor bridge reopened on Tuesday after two years and $212 million of repairs."


def request(n: int = 0, text: str = LEAD, language: str | None = None) -> SummaryRequest:
    return SummaryRequest(f"city:{n}", f"Harbor bridge reopens ({n})", text, 30, language)


def lead(text: str = LEAD, words: int = 30) -> str:
    return LeadSummarizer().summarize(text, words=words)


def summarizer(fake: FakeChat, **settings: object) -> ChatSummarizer:
    options: dict[str, object] = {"timeout": 5.0, "backoff": 0.01, **settings}
    return ChatSummarizer(fake.base_url, "tiny-model", **options)  # type: ignore[arg-type]


async def test_it_posts_an_openai_chat_request(fake_chat: FakeChat) -> None:
    fake_chat.script(answer(f"  “{FAITHFUL}”  "))
    chat = summarizer(fake_chat, api_key="sk-test")
    (summary,) = await chat.summarize_all([request(language="en")])
    assert summary == Summary(FAITHFUL, by_model=True)
    (sent,) = fake_chat.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer sk-test"
    assert sent["model"] == "tiny-model"
    system, user = sent["messages"]
    assert (system["role"], user["role"]) == ("system", "user")
    assert "at most 30 words, in English" in system["content"]
    assert "only names and numbers that appear in the article" in system["content"]
    assert user["content"] == f"Harbor bridge reopens (0)\n\n{LEAD}"


async def test_without_a_key_no_authorization_and_words_from_the_settings(
    fake_chat: FakeChat,
) -> None:
    await summarizer(fake_chat, words=45).summarize_all([request(language="de")])
    (sent,) = fake_chat.requests
    assert sent["auth"] is None
    assert "at most 45 words, in German" in sent["messages"][0]["content"]


async def test_an_overlong_answer_is_cut_to_the_budget(fake_chat: FakeChat) -> None:
    fake_chat.script(answer("The bridge reopened. " + "It is long. " * 30))
    (summary,) = await summarizer(fake_chat).summarize_all([request()])
    assert summary.by_model
    assert len(summary.text.split()) <= 30
    assert summary.text.startswith("The bridge reopened. It is long.")


async def test_no_more_requests_in_flight_than_the_concurrency(fake_chat: FakeChat) -> None:
    fake_chat.script(answer(FAITHFUL, delay=0.05))
    summaries = await summarizer(fake_chat, concurrency=2).summarize_all(
        [request(n) for n in range(6)]
    )
    assert [s.by_model for s in summaries] == [True] * 6
    assert fake_chat.calls == 6
    assert fake_chat.max_in_flight == 2


async def test_a_5xx_is_retried(fake_chat: FakeChat) -> None:
    fake_chat.script(Reply(503, b'{"error": "loading model"}'), answer(FAITHFUL))
    (summary,) = await summarizer(fake_chat).summarize_all([request()])
    assert summary == Summary(FAITHFUL, by_model=True)
    assert fake_chat.calls == 2


async def test_a_429_waits_as_long_as_retry_after_says(fake_chat: FakeChat) -> None:
    fake_chat.script(Reply(429, b"{}", {"Retry-After": "0.3"}), answer(FAITHFUL))
    chat = summarizer(fake_chat, backoff=0.001)
    started = time.monotonic()
    (summary,) = await chat.summarize_all([request()])
    assert summary.by_model
    assert fake_chat.calls == 2
    assert time.monotonic() - started >= 0.3  # the backoff alone would have waited 1 ms


async def test_a_retry_after_past_the_timeout_gives_up_at_once(fake_chat: FakeChat) -> None:
    fake_chat.script(Reply(429, b"{}", {"Retry-After": "120"}))
    started = time.monotonic()
    (summary,) = await summarizer(fake_chat, timeout=5.0).summarize_all([request()])
    assert time.monotonic() - started < 2
    assert fake_chat.calls == 1
    assert summary.text == lead()
    assert summary.reason == "HTTP 429"
    assert "asked to retry after 120 s" in (summary.detail or "")


async def test_retries_are_bounded(fake_chat: FakeChat) -> None:
    fake_chat.script(Reply(500, b'{"error": {"message": "out of memory"}}'))
    (summary,) = await summarizer(fake_chat, retries=2).summarize_all([request()])
    assert fake_chat.calls == 3
    assert (summary.text, summary.reason) == (lead(), "HTTP 500")
    assert "after 3 tries" in (summary.detail or "")


async def test_a_refusal_is_not_retried_and_its_message_is_kept(fake_chat: FakeChat) -> None:
    fake_chat.script(Reply(401, b'{"error": {"message": "Incorrect API key provided"}}'))
    (summary,) = await summarizer(fake_chat).summarize_all([request()])
    assert fake_chat.calls == 1
    assert summary.reason == "HTTP 401"
    assert summary.detail == "HTTP 401 Unauthorized: Incorrect API key provided"


async def test_a_slow_model_times_out_and_the_lead_stands_in(fake_chat: FakeChat) -> None:
    fake_chat.script(answer(FAITHFUL, delay=3.0))
    started = time.monotonic()
    (summary,) = await summarizer(fake_chat, timeout=0.3).summarize_all([request()])
    assert time.monotonic() - started < 1.5  # gave up long before the server answered
    assert (summary.text, summary.reason, summary.by_model) == (lead(), "timed out", False)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "garbage answer"),
        (b"<html><body>502 Bad Gateway</body></html>", "garbage answer"),
        (b"{}", "garbage answer"),
        (b'{"choices": []}', "garbage answer"),
        (b'{"choices": [{"message": {"content": null}}]}', "garbage answer"),
        (b'{"choices": [{"message": {"content": ["a", "b"]}}]}', "garbage answer"),
        (b'{"choices": [{"message": {"content": "  \\"\\"  "}}]}', "empty answer"),
    ],
)
async def test_garbage_answers_fall_back_without_retrying(
    fake_chat: FakeChat, body: bytes, reason: str
) -> None:
    fake_chat.script(Reply(200, body))
    (summary,) = await summarizer(fake_chat).summarize_all([request()])
    assert (summary.text, summary.reason) == (lead(), reason)
    assert fake_chat.calls == 1


async def test_an_unfaithful_answer_is_rejected_for_the_lead(fake_chat: FakeChat) -> None:
    fake_chat.script(
        answer("Mayor Jane Doe reopened the harbor bridge after $250 million of repairs.")
    )
    (summary,) = await summarizer(fake_chat).summarize_all([request(language="en")])
    assert (summary.text, summary.reason, summary.by_model) == (lead(), "unfaithful", False)
    assert summary.detail == "names what the article does not: 250, Jane, Doe"


async def test_a_server_nobody_runs_is_tried_once_for_all_articles() -> None:
    fake = FakeChat().start()
    fake.stop()  # the port is free again: connections are refused
    chat = ChatSummarizer(fake.base_url, "m", concurrency=1, retries=2, backoff=0.01, timeout=5)
    summaries = await chat.summarize_all([request(n) for n in range(5)])
    assert [s.reason for s in summaries] == ["server unreachable"] * 5
    assert [s.text for s in summaries] == [lead()] * 5
    assert chat.calls == 3  # the first article's tries; the others were not sent


async def test_an_article_without_a_lead_asks_nothing(fake_chat: FakeChat) -> None:
    (summary,) = await summarizer(fake_chat).summarize_all([request(text="  ")])
    assert (summary.text, summary.reason) == ("", "no lead")
    assert fake_chat.calls == 0


async def test_answers_are_kept_per_article_and_prompt(
    fake_chat: FakeChat, sqlite_store: Store
) -> None:
    """A second build asks nothing; a changed lead or model asks again, for that one only.
    An unfaithful answer is kept too (the same prompt would get it again) and judged anew."""

    def respond(body: dict[str, object]) -> Reply:
        if "(2)" in str(body["messages"]):  # type: ignore[index]
            return answer("Mayor Jane Doe opened it.")
        return answer(FAITHFUL)

    fake_chat.respond = respond
    requests = [request(n, language="en") for n in range(4)]
    first = await summarizer(fake_chat, cache=sqlite_store).summarize_all(requests)
    assert fake_chat.calls == 4
    assert [(s.by_model, s.reason, s.cached) for s in first] == [
        (True, None, False),
        (True, None, False),
        (False, "unfaithful", False),
        (True, None, False),
    ]

    again = await summarizer(fake_chat, cache=sqlite_store).summarize_all(requests)
    assert fake_chat.calls == 4  # nothing asked
    assert [s.text for s in again] == [s.text for s in first]
    assert [(s.by_model, s.reason, s.cached) for s in again] == [
        (True, None, True),
        (True, None, True),
        (False, "unfaithful", True),
        (True, None, True),
    ]

    changed = [*requests[:3], request(3, text=LEAD + " Tolls stay at $2.", language="en")]
    await summarizer(fake_chat, cache=sqlite_store).summarize_all(changed)
    assert fake_chat.calls == 5
    other_model = ChatSummarizer(fake_chat.base_url, "other-model", cache=sqlite_store)
    await other_model.summarize_all(requests[:1])
    assert fake_chat.calls == 6


async def test_failures_are_not_kept(fake_chat: FakeChat, sqlite_store: Store) -> None:
    fake_chat.script(Reply(200, b"not json"))
    await summarizer(fake_chat, cache=sqlite_store).summarize_all([request()])
    fake_chat.script(answer(FAITHFUL))
    (summary,) = await summarizer(fake_chat, cache=sqlite_store).summarize_all([request()])
    assert fake_chat.calls == 2
    assert summary == Summary(FAITHFUL, by_model=True)
