"""Summaries: the lead summarizer's cuts, and the chat summarizer against a real local fake
of an OpenAI-compatible endpoint (never a real service). Sentence segmentation and the cutter
itself are tested in tests/test_text.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from digest.summarize import ChatSummarizer, LeadSummarizer

# --- the lead summarizer ------------------------------------------------------------------

LEAD = (
    "The harbor bridge reopened to traffic on Tuesday, ending two years of detours. "
    "City officials cut a ribbon at 6 a.m. and the first cars rolled across minutes later. "
    "The repairs cost $212 million, about $30 million more than planned."
)


def test_lead_summarizer_keeps_whole_sentences_within_budget() -> None:
    summary = LeadSummarizer().summarize(LEAD, words=30)
    assert summary == (
        "The harbor bridge reopened to traffic on Tuesday, ending two years of detours. "
        "City officials cut a ribbon at 6 a.m. and the first cars rolled across minutes later."
    )


def test_lead_summarizer_returns_short_text_whole() -> None:
    assert LeadSummarizer().summarize(LEAD, words=60) == LEAD


def test_first_sentence_over_budget_is_cut_at_a_word_with_ellipsis() -> None:
    text = (
        "Officials said on Tuesday that the bridge, closed since 2022, would reopen next week, "
        "weather permitting."
    )
    assert (
        LeadSummarizer().summarize(text, words=8)
        == "Officials said on Tuesday that the bridge, closed…"
    )


def test_whitespace_is_normalized() -> None:
    assert LeadSummarizer().summarize("  A   short\n\nlead.\t", words=60) == "A short lead."


def test_no_dangling_quotes_or_brackets() -> None:
    text = (
        "“This bridge (the oldest in the state is finally safe again for every driver and "
        "cyclist”, the mayor said."
    )
    summary = LeadSummarizer().summarize(text, words=10)
    assert summary.endswith("…”)") or summary.endswith("…)”")
    assert summary.count("“") == summary.count("”")
    assert summary.count("(") == summary.count(")")


def test_quote_spanning_sentences_is_closed() -> None:
    text = (
        "“We came. We saw. We fixed the bridge,” the mayor said on Tuesday at the ceremony by "
        "the water."
    )
    summary = LeadSummarizer().summarize(text, words=5)
    assert summary.count("“") == summary.count("”")


def test_stray_closing_quote_is_dropped() -> None:
    assert (
        LeadSummarizer().summarize("done.” The bridge reopened.", words=60)
        == "done. The bridge reopened."
    )


def test_empty_and_zero_budget() -> None:
    assert LeadSummarizer().summarize("", words=60) == ""
    assert LeadSummarizer().summarize("Text.", words=0) == ""


def test_language_aware_cut() -> None:
    text = (
        "Die Stadt zahlt u. a. 3,5 Mio. Euro für die Brücke. Sie öffnet am 3. Oktober wieder "
        "für alle."
    )
    assert LeadSummarizer().summarize(text, words=12, language="de") == (
        "Die Stadt zahlt u. a. 3,5 Mio. Euro für die Brücke."
    )


# --- the chat summarizer, against a local fake endpoint ------------------------------------


@dataclass
class FakeChat:
    """A tiny OpenAI-compatible server on 127.0.0.1: records requests, answers as told."""

    reply: Callable[[dict[str, Any]], tuple[int, bytes]]
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""


@pytest.fixture
def fake_chat() -> Iterator[FakeChat]:
    fake = FakeChat(reply=lambda body: (500, b"{}"))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            )
            if fake.delay:
                time.sleep(fake.delay)
            status, payload = fake.reply(body)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _answer(text: str) -> Callable[[dict[str, Any]], tuple[int, bytes]]:
    payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}
    return lambda body: (200, json.dumps(payload).encode())


def test_chat_summarizer_posts_an_openai_request(fake_chat: FakeChat) -> None:
    fake_chat.reply = _answer("  The harbor bridge reopened after a $212 million repair.  ")
    summarizer = ChatSummarizer(fake_chat.base_url, "tiny-model", "sk-test", timeout=5)
    assert summarizer.summarize(LEAD, words=40, language="en") == (
        "The harbor bridge reopened after a $212 million repair."
    )
    (request,) = fake_chat.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "tiny-model"
    roles = [m["role"] for m in request["body"]["messages"]]
    assert roles == ["system", "user"]
    assert "40 words" in request["body"]["messages"][0]["content"]
    assert "English" in request["body"]["messages"][0]["content"]
    assert request["body"]["messages"][1]["content"] == LEAD


def test_chat_summarizer_without_key_sends_no_authorization(fake_chat: FakeChat) -> None:
    fake_chat.reply = _answer("Short.")
    ChatSummarizer(fake_chat.base_url, "m", None, timeout=5).summarize(LEAD)
    assert fake_chat.requests[0]["auth"] is None


def test_chat_summarizer_falls_back_on_500(fake_chat: FakeChat) -> None:
    fake_chat.reply = lambda body: (500, b'{"error": "boom"}')
    summarizer = ChatSummarizer(fake_chat.base_url, "m", "k", timeout=5)
    assert summarizer.summarize(LEAD, words=30) == LeadSummarizer().summarize(LEAD, words=30)
    assert len(fake_chat.requests) == 1


@pytest.mark.slow
def test_chat_summarizer_falls_back_on_timeout(fake_chat: FakeChat) -> None:
    fake_chat.reply = _answer("Too late.")
    fake_chat.delay = 3.0
    summarizer = ChatSummarizer(fake_chat.base_url, "m", "k", timeout=0.3)
    started = time.monotonic()
    assert summarizer.summarize(LEAD, words=30) == LeadSummarizer().summarize(LEAD, words=30)
    assert time.monotonic() - started < 2.5  # gave up long before the server answered


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"{}", b'{"choices": []}', b'{"choices": [{"message": {"content": null}}]}'],
)
def test_chat_summarizer_falls_back_on_malformed_answers(
    fake_chat: FakeChat, payload: bytes
) -> None:
    fake_chat.reply = lambda body: (200, payload)
    summarizer = ChatSummarizer(fake_chat.base_url, "m", "k", timeout=5)
    assert summarizer.summarize(LEAD, words=30) == LeadSummarizer().summarize(LEAD, words=30)


def test_chat_summarizer_falls_back_on_empty_answer(fake_chat: FakeChat) -> None:
    fake_chat.reply = _answer("   ")
    summarizer = ChatSummarizer(fake_chat.base_url, "m", "k", timeout=5)
    assert summarizer.summarize(LEAD, words=30) == LeadSummarizer().summarize(LEAD, words=30)


def test_chat_summarizer_falls_back_when_nothing_listens() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as server:
        port = server.server_address[1]
    summarizer = ChatSummarizer(f"http://127.0.0.1:{port}/v1", "m", "k", timeout=2)
    assert summarizer.summarize(LEAD, words=30) == LeadSummarizer().summarize(LEAD, words=30)


def test_chat_summarizer_trims_an_overlong_answer(fake_chat: FakeChat) -> None:
    fake_chat.reply = _answer("The bridge reopened. " + "It is long. " * 30)
    summary = ChatSummarizer(fake_chat.base_url, "m", "k", timeout=5).summarize(LEAD, words=10)
    assert len(summary.split()) <= 10
    assert summary.startswith("The bridge reopened.")


def test_chat_summarizer_uses_an_injected_client() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"choices": [{"message": {"content": "Via the client."}}]})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        summarizer = ChatSummarizer("https://llm.invalid/v1/", "m", "k", client=client)
        assert summarizer.summarize(LEAD) == "Via the client."
    assert str(seen[0].url) == "https://llm.invalid/v1/chat/completions"


def test_chat_summarizer_reads_key_from_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_TEST_LLM_KEY", "sk-from-env")
    summarizer = ChatSummarizer.from_settings("http://127.0.0.1:9/v1", "m", "DIGEST_TEST_LLM_KEY")
    assert summarizer.api_key == "sk-from-env"
    assert ChatSummarizer.from_settings("http://127.0.0.1:9/v1", "m", None).api_key is None
