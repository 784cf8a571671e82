"""A feed item's own body: its lead, or None for a teaser."""

from __future__ import annotations

import pytest

from digest.extract import (
    extract_feed_item,
)
from tests.extract.helpers import (
    FULL_ITEM,
)


def test_feed_item_with_real_content_is_used() -> None:
    article = extract_feed_item(FULL_ITEM, url="https://news.example/ferry", title="More ferries")
    assert article is not None
    assert article.lead is not None and article.lead.startswith("The ferry company added")
    assert article.title == "More ferries"
    assert article.url == "https://news.example/ferry"


@pytest.mark.parametrize(
    "content",
    [
        None,
        "",
        "More ferries",
        "<p>The ferry company added two evening crossings on Friday, answering [&#8230;]</p>",
        "<p>The ferry company added two evening crossings on Friday, answering…</p>"
        "<p><a href='https://news.example/ferry'>Continue reading</a></p>",
        "<p>Short teaser.</p><p>The post <a href='https://b.example/p'>More ferries</a> appeared "
        "first on <a href='https://b.example'>Ferry Blog</a>.</p>",
    ],
)
def test_feed_item_teasers_ask_for_the_page(content: str | None) -> None:
    assert (
        extract_feed_item(content, url="https://news.example/ferry", title="More ferries") is None
    )


def test_feed_item_drops_the_appeared_first_footer() -> None:
    content = FULL_ITEM + "<p>The post More ferries appeared first on Ferry Blog.</p>"
    article = extract_feed_item(content, url=None, title="More ferries")
    assert article is not None and "appeared first" not in (article.text or "")
