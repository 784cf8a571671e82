"""What every summarizer shares: requests, results, the protocol, and the lead summarizer
that is the default and every model's fallback."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from digest.text import DEFAULT_WORDS, cut_to_words

__all__ = [
    "DEFAULT_WORDS",
    "LeadSummarizer",
    "Summarizer",
    "Summary",
    "SummaryRequest",
    "summary_report",
]


@dataclass(frozen=True)
class SummaryRequest:
    """One article to summarize: its identity (for the cache), title and lead."""

    article: str  # the story's dedupe key
    title: str
    text: str  # the lead
    words: int = DEFAULT_WORDS  # the digest's budget; the lead is cut to it
    language: str | None = None  # the article's ISO 639-1 code, if known


@dataclass(frozen=True)
class Summary:
    """A summary, and whether a model wrote it or the lead stood in (and why)."""

    text: str
    by_model: bool = False
    reason: str | None = None  # why the lead stood in for the model: "timed out", "HTTP 429"...
    detail: str | None = None  # the particulars, for the log and the report
    cached: bool = False  # the model's answer came from the store, not from a call

    @property
    def fallback(self) -> bool:
        return self.reason is not None


class Summarizer(Protocol):
    """Turns the chosen articles' leads into summaries, one per request, in order."""

    async def summarize_all(self, requests: Sequence[SummaryRequest]) -> list[Summary]:
        """Never raises for a failing service or bad input: the lead stands in."""
        ...


class LeadSummarizer:
    """The default summarizer: the lead, cut to the word budget at a sentence boundary.

    Whole sentences while they fit; when even the first sentence is over budget, it is cut at
    a word boundary and ends with "…". Whitespace is normalized and quotes/brackets balanced
    (`digest.text.cut_to_words`, the one cutter rendering uses too). With a `reason` it
    stands in for a model that cannot be asked (an API key variable that is not set), and
    each of its summaries says so.
    """

    def __init__(self, reason: str | None = None, detail: str | None = None) -> None:
        self.reason = reason
        self.detail = detail

    def summarize(
        self, text: str, *, words: int = DEFAULT_WORDS, language: str | None = None
    ) -> str:
        return cut_to_words(text or "", words, language)

    async def summarize_all(self, requests: Sequence[SummaryRequest]) -> list[Summary]:
        return [
            Summary(
                self.summarize(r.text, words=r.words, language=r.language),
                reason=self.reason,
                detail=self.detail,
            )
            for r in requests
        ]


def summary_report(
    kind: str, requests: Sequence[SummaryRequest], summaries: Sequence[Summary]
) -> dict[str, Any]:
    """What the build's report says of its summaries: how many the model wrote (and how many
    of those came from the cache), how many leads stood in, why, and for which articles."""
    reasons = Counter(s.reason for s in summaries if s.reason is not None)
    return {
        "summarizer": kind,
        "model": sum(1 for s in summaries if s.by_model),
        "cached": sum(1 for s in summaries if s.by_model and s.cached),
        "fallback": sum(reasons.values()),
        "reasons": dict(sorted(reasons.items())),
        "fallbacks": [
            {"title": r.title, "reason": s.reason, "detail": s.detail}
            for r, s in zip(requests, summaries, strict=True)
            if s.reason is not None
        ],
    }
