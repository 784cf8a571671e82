"""Page sources: one article URL, fetched whole and handed to extraction as it is."""

from __future__ import annotations

from digest.fetch import Fetched
from digest.identity import item_key
from digest.models import SourceItem


def page_item(name: str, fetched: Fetched, *, key_url: str) -> SourceItem:
    """The one item of a page source; its identity is the configured URL, so a page that
    moves behind a redirect is still the same article."""
    content_type = (fetched.content_type or "text/html").split(";")[0].strip().lower()
    return SourceItem(
        source=name,
        key=item_key(None, key_url, None, None),
        url=fetched.url,
        title=None,
        published=None,
        raw=fetched.content,
        content_type=content_type
        if content_type in ("text/plain", "text/markdown")
        else "text/html",
        fetch_full=False,
    )
