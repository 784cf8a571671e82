"""Text and Markdown files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.errors import ExtractionError
from digest.extract import (
    extract_file,
    extract_text,
)
from tests.extract.helpers import (
    DATA,
)


def test_saved_text_page_with_top_and_bottom_of_page_lines() -> None:
    article = extract_file(DATA / "saved_page.txt")
    assert article.title == "Town votes to keep its last bookshop open"
    assert article.lead is not None
    assert article.lead.startswith("Residents of Millbrook voted on Saturday")
    assert "top of page" not in (article.text or "").lower()
    assert "bottom of page" not in (article.text or "").lower()


def test_markdown_front_matter_is_honoured() -> None:
    article = extract_file(DATA / "post.md")
    assert article.title == "Why we moved our servers to the basement"
    assert article.url == "https://blog.example/basement"
    assert article.published == datetime(2024, 2, 1, 8, 0, tzinfo=UTC)
    assert article.lead == (
        "Last winter our cloud bill doubled, so we bought three used servers and put them in "
        "the basement next to the boiler, where it is warm and dry."
    )


def test_markdown_without_front_matter_uses_first_heading() -> None:
    text = (
        "# Notes from the field\n\n![map](map.png)\n\nWe spent **two weeks** walking the "
        "[old railway line](https://x.example) from the coast to the hills, counting birds "
        "and talking to farmers along the way.\n\n## Day one\n\nRain."
    )
    article = extract_text(text, markdown=True)
    assert article.title == "Notes from the field"
    assert article.lead == (
        "We spent two weeks walking the old railway line from the coast to the hills, counting "
        "birds and talking to farmers along the way."
    )


def test_text_with_only_chrome_has_no_article() -> None:
    with pytest.raises(ExtractionError):
        extract_text("top of page\n\n---\n\nbottom of page\n")


def test_markdown_is_read_by_a_markdown_parser() -> None:
    """What regular expressions got wrong: reference links, code spans with underscores and
    asterisks, escapes, setext headings, HTML, code blocks and YAML front matter."""
    text = """---
title: 'Tides: a field guide'
date: 2026-03-01
author:
  - Ada Lovelace
  - Bo Diddley
tags: [sea, moon]
---
Tides
=====

<div class="note">A note in HTML.</div>

The `snake_case_name` and `2 * 3 * 4` stay as written, while the *moon* and the **sun**
pull the sea, as [the almanac][almanac] explains \\*with care\\* at <https://tides.example>.

```python
def not_prose():
    return "this is code, never a lead paragraph even though it is long enough to be one"
```

[almanac]: https://almanac.example/tides "The Almanac"
"""
    article = extract_text(text, markdown=True)
    assert article.title == "Tides: a field guide"
    assert article.author == "Ada Lovelace"
    assert article.published == datetime(2026, 3, 1, tzinfo=UTC)
    assert article.lead == (
        "The snake_case_name and 2 * 3 * 4 stay as written, while the moon and the sun pull "
        "the sea, as the almanac explains *with care* at https://tides.example."
    )
    assert "not_prose" not in (article.text or "") and "A note in HTML" not in (article.text or "")


def test_markdown_without_a_title_in_front_matter_takes_the_setext_heading() -> None:
    text = "Harbour news\n============\n\nThe ferry timetable changes on Monday, and the " + (
        "council asks travellers to check the new times before they set out for the islands."
    )
    article = extract_text(text, markdown=True)
    assert article.title == "Harbour news"
    assert article.lead is not None and article.lead.startswith("The ferry timetable")


def test_front_matter_that_is_not_yaml_is_ignored() -> None:
    text = "---\ntitle: [unclosed\n---\n# Heading\n\n" + "Words of a real paragraph " * 4 + "."
    assert extract_text(text, markdown=True).title == "Heading"
