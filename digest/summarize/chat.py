"""Summaries from a model: any server that speaks OpenAI's chat completions.

llama.cpp's llama-server, vLLM, Ollama and hosted APIs all answer `POST {base_url}/chat/
completions`. Requests go out asynchronously through one httpx client (`digest.fetch.
http_client`), at most `concurrency` at once; a request answered 429 or 5xx, timed out or cut
off is retried with backoff, `Retry-After` honoured, within the article's `timeout`. Answers
are kept in the store per article and prompt (`SummaryCache`), so building the same issue
again asks nothing. Whatever goes wrong, the article's lead stands in, and its `Summary` says
why: the build's report counts these.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from digest.fetch import TRANSIENT_STATUSES, http_client, parse_retry_after
from digest.summarize.base import LeadSummarizer, Summary, SummaryRequest
from digest.summarize.faithful import unfaithful
from digest.text import cut_to_words

__all__ = ["ChatSummarizer", "SummaryCache"]

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You write the summary of a news article for an email digest. Reply with the summary only: "
    "plain text, one paragraph, at most {words} words, in {language}. State what happened, "
    "using only names and numbers that appear in the article; no preamble, no opinion, no "
    "markdown, no quotation marks around the reply."
)
LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
}
MAX_INPUT_CHARS = 12_000  # a lead is a paragraph; this only guards against a runaway one


class SummaryCache(Protocol):
    """Where answers are kept (the store): by a key naming the article and the prompt."""

    def cached_summaries(self, keys: Iterable[str]) -> dict[str, str]: ...

    def save_summaries(self, entries: Iterable[tuple[str, str, str, str]]) -> None:
        """(key, article, model, answer) each."""
        ...


class _Failed(Exception):
    """The model gave no usable answer: `reason` is counted, `detail` logged and reported."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class _Transient:
    reason: str
    detail: str
    retry_after: float | None = None
    unreachable: bool = False


class ChatSummarizer:
    """Summaries from an OpenAI-compatible chat-completions endpoint; the lead on any failure.

    `base_url` is the API root (".../v1"). `words` is the model's budget (default: each
    request's, the digest's `summary_words`); `timeout` bounds one article, retries included,
    counted from when it gets one of the `concurrency` slots.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        words: int | None = None,
        concurrency: int = 4,
        timeout: float = 30.0,
        retries: int = 2,
        cache: SummaryCache | None = None,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.words = words
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.cache = cache
        self.backoff = backoff
        self.transport = transport
        self.lead = LeadSummarizer()
        self.calls = 0  # requests sent, retries included (for reports and tests)
        self._unreachable: _Transient | None = None

    # -- the prompt ------------------------------------------------------------------------

    def payload(self, request: SummaryRequest) -> dict[str, Any]:
        """The chat-completions request for one article (its title, then its lead)."""
        words = self.words or request.words
        language = LANGUAGE_NAMES.get((request.language or "")[:2], "the article's language")
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT.format(words=words, language=language)},
                {"role": "user", "content": self._article(request)[:MAX_INPUT_CHARS]},
            ],
            "temperature": 0.2,
            "max_tokens": max(64, words * 3),
        }

    @staticmethod
    def _article(request: SummaryRequest) -> str:
        title = " ".join(request.title.split())
        text = " ".join(request.text.split())
        return f"{title}\n\n{text}" if title else text

    def cache_key(self, request: SummaryRequest) -> str:
        """Names the article and everything the model is sent: a changed lead, model, server
        or prompt asks again."""
        described = [request.article, self.base_url, self.payload(request)]
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()

    # -- summarizing -----------------------------------------------------------------------

    async def summarize_all(self, requests: Sequence[SummaryRequest]) -> list[Summary]:
        keys = [self.cache_key(r) for r in requests]
        cached = self.cache.cached_summaries(keys) if self.cache is not None else {}
        known = [self._known(r, cached.get(k)) for r, k in zip(requests, keys, strict=True)]
        if all(summary is not None for summary in known):
            return [summary for summary in known if summary is not None]  # no client needed
        fresh: list[tuple[str, str, str, str]] = []
        slots = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        async with http_client(
            timeout=self.timeout, headers=headers, limits=limits, transport=self.transport
        ) as client:

            async def one(request: SummaryRequest, key: str) -> Summary:
                async with slots:
                    try:
                        if self._unreachable is not None:
                            gone = self._unreachable
                            raise _Failed(gone.reason, gone.detail)
                        answer = await self._ask(client, request)
                    except _Failed as exc:
                        return self._fallback(request, exc.reason, exc.detail)
                fresh.append((key, request.article, self.model, answer))
                return self._judge(request, answer, cached=False)

            asked = await asyncio.gather(
                *(
                    one(r, k)
                    for r, k, summary in zip(requests, keys, known, strict=True)
                    if summary is None
                )
            )
        if fresh and self.cache is not None:
            self.cache.save_summaries(fresh)
        answers = iter(asked)
        return [summary if summary is not None else next(answers) for summary in known]

    def _known(self, request: SummaryRequest, answer: str | None) -> Summary | None:
        """The summary without asking (no lead to summarize, or a kept answer), else None."""
        if not request.text.strip():
            return self._fallback(request, "no lead", "the article has no lead to summarize")
        return None if answer is None else self._judge(request, answer, cached=True)

    def _judge(self, request: SummaryRequest, answer: str, *, cached: bool) -> Summary:
        """The model's answer, if it stays within the article; else the lead, with why."""
        names = unfaithful(answer, self._article(request), request.language)
        if names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            return self._fallback(
                request, "unfaithful", f"names what the article does not: {shown}", cached=cached
            )
        # A model may overshoot the budget; cut it like a lead rather than trust it.
        text = cut_to_words(answer, self.words or request.words, request.language)
        return Summary(text, by_model=True, cached=cached)

    def _fallback(
        self, request: SummaryRequest, reason: str, detail: str, *, cached: bool = False
    ) -> Summary:
        log.warning("summary of %r: %s (%s); using the lead", request.title, reason, detail)
        text = self.lead.summarize(request.text, words=request.words, language=request.language)
        return Summary(text, reason=reason, detail=detail, cached=cached)

    async def _ask(self, client: httpx.AsyncClient, request: SummaryRequest) -> str:
        """The model's answer, retried on transient failures within `timeout`."""
        payload = self.payload(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        attempt = 0
        while True:
            problem = await self._attempt(client, payload, deadline)
            if isinstance(problem, str):
                return problem
            attempt += 1
            tries = f" (after {attempt} tries)" if attempt > 1 else ""
            if attempt > self.retries:
                if problem.unreachable:
                    self._unreachable = problem  # the other articles need not try
                raise _Failed(problem.reason, problem.detail + tries)
            wait = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4)
            if problem.retry_after is not None:
                wait = max(wait, problem.retry_after)
            if loop.time() + wait >= deadline:
                asked = (
                    f"; asked to retry after {problem.retry_after:g} s"
                    if problem.retry_after is not None
                    else ""
                )
                raise _Failed(
                    problem.reason,
                    f"{problem.detail}{asked}, past the {self.timeout:g} s this summary may take",
                )
            log.info("summarizer %s: %s; retrying in %.2f s", self.url, problem.detail, wait)
            await asyncio.sleep(wait)

    async def _attempt(
        self, client: httpx.AsyncClient, payload: dict[str, Any], deadline: float
    ) -> str | _Transient:
        """One request: the answer, a transient problem, or `_Failed` for a permanent one."""
        self.calls += 1
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.post(self.url, json=payload)
        except TimeoutError:
            raise _Failed("timed out", f"no answer within {self.timeout:g} s") from None
        except httpx.TimeoutException:
            return _Transient("timed out", "the server stopped answering")
        except httpx.ConnectError as exc:
            return _Transient(
                "server unreachable", f"cannot connect to {self.url}: {exc}", None, True
            )
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            return _Transient("connection broken", str(exc) or type(exc).__name__)
        except httpx.HTTPError as exc:
            raise _Failed("request failed", f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if status in TRANSIENT_STATUSES:
            return _Transient(
                f"HTTP {status}",
                f"HTTP {status} {response.reason_phrase}".rstrip(),
                parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400:
            raise _Failed(f"HTTP {status}", _error_text(response))
        return _answer(response)


def _answer(response: httpx.Response) -> str:
    """The reply's text, cleaned; anything else is a `garbage answer`."""
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _Failed("garbage answer", _describe(response, exc)) from None
    if not isinstance(content, str):
        raise _Failed("garbage answer", f"the message content is {type(content).__name__}")
    answer = " ".join(content.split()).strip("\"'“”„«» ")
    if not answer:
        raise _Failed("empty answer", "the model replied with nothing")
    return answer


def _describe(response: httpx.Response, exc: Exception) -> str:
    body = " ".join(response.text[:80].split())
    if isinstance(exc, ValueError):
        return f"not JSON: {body!r}"
    return f"no choices[0].message.content in {body!r}"


def _error_text(response: httpx.Response) -> str:
    """The server's own words for a refusal (OpenAI-style {"error": {"message": ...}})."""
    try:
        error = response.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        message = None
    said = f": {' '.join(str(message).split())[:200]}" if message else ""
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip() + said
