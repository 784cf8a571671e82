"""Summaries: the lead cut to the digest's word budget, or a model's summary over HTTP.

The default needs no service: an article's lead already says what happened, so the summary is
that lead cut at a sentence boundary by `digest.text.cut_to_words` (a real sentence segmenter
that knows "U.S.", "Sen.", "z. B." and "3,5 Mrd." do not end sentences).

The chat summarizer calls any OpenAI-compatible /chat/completions endpoint and falls back to
the lead summarizer on any error, so a flaky model never empties an issue.
"""

from __future__ import annotations

__all__ = ["DEFAULT_WORDS", "ChatSummarizer", "LeadSummarizer", "Summarizer"]

import logging
import os
from typing import Any, Protocol

import httpx

from digest.fetch import sync_http_client
from digest.text import DEFAULT_WORDS, cut_to_words

LOGGER = logging.getLogger(__name__)


class Summarizer(Protocol):
    """Turns an article's text (its lead, usually) into a summary of at most `words` words."""

    def summarize(
        self, text: str, *, words: int = DEFAULT_WORDS, language: str | None = None
    ) -> str:
        """Return the summary; never raises for bad input, returns "" for empty text."""
        ...


class LeadSummarizer:
    """The default summarizer: the lead, cut to the word budget at a sentence boundary.

    Whole sentences while they fit; when even the first sentence is over budget, it is cut at
    a word boundary and ends with "…". Whitespace is normalized and quotes/brackets balanced
    (`digest.text.cut_to_words`, the one cutter rendering uses too).
    """

    def summarize(
        self, text: str, *, words: int = DEFAULT_WORDS, language: str | None = None
    ) -> str:
        return cut_to_words(text or "", words, language)


# --------------------------------------------------------------------------------------------
# An OpenAI-compatible model over HTTP

_SYSTEM_PROMPT = (
    "You write the summary of a news article for an email digest. Reply with the summary only: "
    "plain text, one paragraph, at most {words} words, in {language}. State what happened; "
    "no preamble, no opinion, no markdown, no quotation marks around the reply."
)
_LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
}


class ChatSummarizer:
    """Summaries from an OpenAI-compatible chat-completions endpoint, the lead summarizer as
    the fallback on any error, timeout or empty answer.

    `base_url` is the API root (".../v1"); the request goes to `{base_url}/chat/completions`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        *,
        fallback: Summarizer | None = None,
        timeout: float = 20.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.fallback: Summarizer = fallback or LeadSummarizer()
        self.timeout = timeout
        self._client = client

    @classmethod
    def from_settings(
        cls,
        base_url: str,
        model: str,
        api_key_env: str | None = None,
        *,
        timeout: float = 20.0,
        fallback: Summarizer | None = None,
    ) -> ChatSummarizer:
        """Build from configuration, which names the environment variable holding the key."""
        key = os.environ.get(api_key_env) if api_key_env else None
        return cls(base_url, model, key, timeout=timeout, fallback=fallback)

    def summarize(
        self, text: str, *, words: int = DEFAULT_WORDS, language: str | None = None
    ) -> str:
        text = " ".join((text or "").split())
        if not text or words <= 0:
            return ""
        try:
            answer = self._ask(text, words, language)
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            LOGGER.warning("summarizer %s failed (%s); using the lead", self.url, _describe(exc))
            return self.fallback.summarize(text, words=words, language=language)
        answer = " ".join(answer.split()).strip("\"'“”")
        if not answer:
            LOGGER.warning("summarizer %s returned nothing; using the lead", self.url)
            return self.fallback.summarize(text, words=words, language=language)
        # A model may overshoot the budget; cut it like a lead rather than trust it.
        return cut_to_words(answer, words, language)

    def _ask(self, text: str, words: int, language: str | None) -> str:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {
                    "role": "system",
                    "content": _SYSTEM_PROMPT.format(
                        words=words,
                        language=_LANGUAGE_NAMES.get(
                            (language or "")[:2], "the article's language"
                        ),
                    ),
                },
                {"role": "user", "content": text[:12000]},
            ],
            "temperature": 0.2,
            "max_tokens": max(64, words * 3),
        }
        if self._client is not None:
            response = self._client.post(
                self.url, json=payload, headers=headers, timeout=self.timeout
            )
        else:
            with sync_http_client(timeout=self.timeout) as client:
                response = client.post(self.url, json=payload, headers=headers)
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("message content is not text")
        return content


def _describe(exc: Exception) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
