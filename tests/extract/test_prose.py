"""What counts as prose."""

from __future__ import annotations

import pytest

from digest.extract import (
    is_prose,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The council voted on Tuesday to build a new bridge over the river, the mayor said.",
            True,
        ),
        (
            "By Jane Smith and John Doe, Staff Writers for the paper, with reporting by others",
            False,
        ),
        ("Sign up for our newsletter to get the best stories of the week delivered to you.", False),
        ("We use cookies to give you the best experience on our website and to show ads.", False),
        (
            "Commuters finally get their shortcut back though tolls are higher than before",
            False,
        ),
        ("Too short.", False),
    ],
)
def test_is_prose(text: str, expected: bool) -> None:
    assert is_prose(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "Customers could not log in to the bank's app for six hours on Tuesday, the company said.",
        "The bill, sponsored by two senators from each party, passed the finance committee on "
        "Monday.",
        "The company told staff in its weekly newsletter that the office would close in May.",
        "The band lost a copyright case over the song on Friday and will appeal, its lawyer said.",
    ],
)
def test_news_that_mentions_chrome_words_is_prose(text: str) -> None:
    assert is_prose(text)
