"""The lead summarizer's cuts, its batch form, and the report of a build's summaries.
Sentence segmentation and the cutter itself are tested in tests/test_text.py."""

from __future__ import annotations

from digest.summarize import LeadSummarizer, Summary, SummaryRequest, summary_report

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


async def test_lead_summarizer_answers_each_request_in_order() -> None:
    requests = [
        SummaryRequest("a", "Bridge", LEAD, words=30),
        SummaryRequest("b", "Empty", "", words=30),
        SummaryRequest("c", "Brücke", "Die Stadt zahlt u. a. 3,5 Mio. Euro. Mehr.", 8, "de"),
    ]
    summaries = await LeadSummarizer().summarize_all(requests)
    assert [s.text for s in summaries] == [
        LeadSummarizer().summarize(LEAD, words=30),
        "",
        "Die Stadt zahlt u. a. 3,5 Mio. Euro.",
    ]
    assert not any(s.by_model or s.fallback for s in summaries)


async def test_a_lead_summarizer_standing_in_for_a_model_says_why() -> None:
    stand_in = LeadSummarizer(reason="no API key", detail="$LLM_KEY is not set")
    (summary,) = await stand_in.summarize_all([SummaryRequest("a", "Bridge", LEAD, words=30)])
    assert summary == Summary(
        LeadSummarizer().summarize(LEAD, words=30),
        reason="no API key",
        detail="$LLM_KEY is not set",
    )


def test_the_report_counts_model_summaries_cached_ones_and_each_fallback() -> None:
    requests = [SummaryRequest(str(n), f"Story {n}", LEAD) for n in range(5)]
    summaries = [
        Summary("m1", by_model=True),
        Summary("m2", by_model=True, cached=True),
        Summary("l1", reason="timed out", detail="no answer within 30 s"),
        Summary("l2", reason="unfaithful", detail="names what the article does not: Jane"),
        Summary("l3", reason="timed out", detail="no answer within 30 s"),
    ]
    assert summary_report("llm", requests, summaries) == {
        "summarizer": "llm",
        "model": 2,
        "cached": 1,
        "fallback": 3,
        "reasons": {"timed out": 2, "unfaithful": 1},
        "fallbacks": [
            {"title": "Story 2", "reason": "timed out", "detail": "no answer within 30 s"},
            {
                "title": "Story 3",
                "reason": "unfaithful",
                "detail": "names what the article does not: Jane",
            },
            {"title": "Story 4", "reason": "timed out", "detail": "no answer within 30 s"},
        ],
    }
