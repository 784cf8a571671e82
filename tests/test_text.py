"""digest.text: sentence splitting, word counts, and the one cutter every summary goes through."""

from __future__ import annotations

import pytest

from digest.text import balance_quotes, count_words, cut_to_words, split_sentences, trim_to_words

# --- sentence segmentation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        (
            "The U.S. Senate voted on Tuesday. Sen. Martin Heinrich (D-N.M.) said it was late.",
            "en",
            [
                "The U.S. Senate voted on Tuesday.",
                "Sen. Martin Heinrich (D-N.M.) said it was late.",
            ],
        ),
        (
            "Prices rose 3.5 percent in the U.S. The Fed was surprised. John F. Kennedy Jr. was "
            "not.",
            "en",
            [
                "Prices rose 3.5 percent in the U.S.",
                "The Fed was surprised.",
                "John F. Kennedy Jr. was not.",
            ],
        ),
        (
            "The Dept. of Energy paid $1.2 billion at 3 p.m. on Friday. Nobody objected.",
            "en",
            ["The Dept. of Energy paid $1.2 billion at 3 p.m. on Friday.", "Nobody objected."],
        ),
        (
            "Die Firma hat u. a. Autos verkauft, z. B. 3,5 Mrd. Euro mehr. Am 3. Oktober war "
            "Feiertag.",
            "de",
            [
                "Die Firma hat u. a. Autos verkauft, z. B. 3,5 Mrd. Euro mehr.",
                "Am 3. Oktober war Feiertag.",
            ],
        ),
        (
            "M. Dupont est arrivé. Il a dit « Bonjour ! » et il est parti. Mme Martin aussi.",
            "fr",
            [
                "M. Dupont est arrivé.",
                "Il a dit « Bonjour ! » et il est parti.",
                "Mme Martin aussi.",
            ],
        ),
        (
            "El Sr. García llegó a EE.UU. el lunes. ¿Qué pasó? Nadie lo sabe.",
            "es",
            ["El Sr. García llegó a EE.UU. el lunes.", "¿Qué pasó?", "Nadie lo sabe."],
        ),
        (
            "Is it over? “Yes,” she said. It is.",
            "en",
            ["Is it over?", "“Yes,” she said.", "It is."],
        ),
        ("日本の首相が辞任した。後任は未定。", "ja", ["日本の首相が辞任した。", "後任は未定。"]),
        (
            "The vote is at 10 a.m. The council meets at 9 a.m. Eastern time. See Fig. 3 here.",
            "en",
            [
                "The vote is at 10 a.m.",
                "The council meets at 9 a.m. Eastern time.",
                "See Fig. 3 here.",
            ],
        ),
        ("He was born in 1990. He moved.", "en", ["He was born in 1990.", "He moved."]),
        ("  No   final stop  ", None, ["No final stop"]),
        ("", None, []),
    ],
)
def test_split_sentences(text: str, language: str | None, expected: list[str]) -> None:
    assert split_sentences(text, language) == expected


def test_trim_to_words() -> None:
    assert trim_to_words("one two three four", 2) == "one two…"
    assert trim_to_words("one two", 5) == "one two"


# --- the cutter ---------------------------------------------------------------------------


def test_count_words() -> None:
    assert count_words("  one two\n\tthree ") == 3
    assert count_words("") == 0


def test_cut_keeps_whole_sentences_while_they_fit() -> None:
    text = "One two three four five. Six seven eight nine ten eleven."
    assert cut_to_words(text, 8) == "One two three four five."
    assert cut_to_words(text, 11) == text
    assert cut_to_words(text, 50) == text


def test_cut_never_ends_at_an_abbreviation() -> None:
    text = "The U.S. Senate voted on Tuesday after a long night. It passed."
    assert cut_to_words(text, 11) == "The U.S. Senate voted on Tuesday after a long night."
    assert cut_to_words(text, 3) == "The U.S. Senate…"


def test_a_first_sentence_over_budget_is_cut_at_a_word() -> None:
    assert cut_to_words("a b c d e f g h", 4) == "a b c d…"
    assert cut_to_words("One, two, three, four.", 2) == "One, two…"  # no "two,…"


def test_cut_uses_the_language_for_abbreviations() -> None:
    text = "Sie zahlt 3,5 Mio. Euro für die Brücke. Sie öffnet am 3. Oktober."
    assert cut_to_words(text, 9, "de") == "Sie zahlt 3,5 Mio. Euro für die Brücke."
    assert cut_to_words(text, 5, "de") == "Sie zahlt 3,5 Mio. Euro…"


def test_cut_normalizes_whitespace_and_balances_quotes() -> None:
    assert cut_to_words("  A   short\n\nlead.\t", 60) == "A short lead."
    assert cut_to_words("“Open (never closed and more words here", 3) == "“Open (never closed…)”"


def test_cut_of_nothing_is_nothing() -> None:
    assert cut_to_words("", 5) == ""
    assert cut_to_words("   ", 5) == ""
    assert cut_to_words("Text.", 0) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("“Open (never closed", "“Open (never closed)”"),
        ("done.” The bridge", "done. The bridge"),  # a closer with no opener is dropped
        ("They don’t stop", "They don’t stop"),  # an apostrophe is no closer
        ('He said "yes', 'He said "yes"'),
        ('"Hello', "Hello"),  # an odd straight quote at the very start is dropped
        ("„Guten Tag“ sagte er", "„Guten Tag“ sagte er"),
        ("¿Qué pasó", "¿Qué pasó"),  # Spanish openers need no closing
    ],
)
def test_balance_quotes(text: str, expected: str) -> None:
    assert balance_quotes(text) == expected
