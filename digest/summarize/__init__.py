"""Summaries: the lead cut to the digest's word budget, or a model's summary over HTTP.

The default needs no service: an article's lead already says what happened, so the summary is
that lead cut at a sentence boundary by `digest.text.cut_to_words` (a real sentence segmenter
that knows "U.S.", "Sen.", "z. B." and "3,5 Mrd." do not end sentences).

A digest with `summarizer = "llm"` asks a model instead (`ChatSummarizer`, any
OpenAI-compatible chat-completions server) and uses the lead wherever the model fails or its
summary names a number or a proper noun that the article does not (`faithful.unfaithful`),
so a flaky or inventive model never empties or falsifies an issue. Each summary says which it
is (`Summary`); `summary_report` counts them for the build's report.

    base       the Summarizer protocol, requests and results, LeadSummarizer, the report
    chat       ChatSummarizer: async httpx, retries, bounded concurrency, cached answers
    faithful   the check of numbers and proper nouns against the article
"""

from digest.summarize.base import (
    DEFAULT_WORDS,
    LeadSummarizer,
    Summarizer,
    Summary,
    SummaryRequest,
    summary_report,
)
from digest.summarize.chat import ChatSummarizer, SummaryCache
from digest.summarize.faithful import unfaithful

__all__ = [
    "DEFAULT_WORDS",
    "ChatSummarizer",
    "LeadSummarizer",
    "Summarizer",
    "Summary",
    "SummaryCache",
    "SummaryRequest",
    "summary_report",
    "unfaithful",
]
