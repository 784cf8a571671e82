"""The compose stage: which articles go into an issue, and in what order.

Pure decisions, no I/O: given the candidate articles, what the digest already sent and when each
was first seen, pick those inside the window, never sent before, one per story, newest first, up
to the digest's limit. Every article left out carries its reason, for the editor and the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from digest.identity import dedupe_key
from digest.models import Article

OLDER_THAN_WINDOW = "older than the digest's window"


@dataclass
class Selection:
    chosen: list[Article] = field(default_factory=list)
    left_out: list[tuple[Article, str]] = field(default_factory=list)
    why: list[str] = field(default_factory=list)  # why each chosen article is in, in order

    def keys(self) -> list[str]:
        return [dedupe_key(a.source, a.key, a.url) for a in self.chosen]


def select_articles(
    candidates: list[Article],
    *,
    now: datetime,
    window: timedelta,
    max_articles: int,
    already_sent: set[str],
) -> Selection:
    """Choose an issue's articles; `published` must already be set (first-seen when unknown)."""
    selection = Selection()
    future_limit = now + timedelta(hours=1)
    seen: dict[str, Article] = {}
    ordered = sorted(candidates, key=lambda a: (a.published or now, a.title), reverse=True)
    for article in ordered:
        key = dedupe_key(article.source, article.key, article.url)
        published = article.published or now
        if published > future_limit:
            article.published = published = now  # a date in the future is clamped
        if key in already_sent:
            selection.left_out.append((article, "sent in an earlier issue"))
        elif key in seen:
            selection.left_out.append((article, f"same story as {seen[key].source!r}"))
        elif published < now - window:
            selection.left_out.append((article, OLDER_THAN_WINDOW))
        elif len(selection.chosen) >= max_articles:
            selection.left_out.append((article, f"over the limit of {max_articles} articles"))
        else:
            seen[key] = article
            selection.chosen.append(article)
            selection.why.append(_why(article, published, now, window, len(selection.chosen)))
    return selection


def _why(article: Article, published: datetime, now: datetime, window: timedelta, rank: int) -> str:
    """Why an article is in, in an editor's words: new, recent enough, and its rank."""
    age = now - published
    hours = age.total_seconds() / 3600
    when = f"{hours:.0f} h ago" if hours < 48 else f"{age.days} days ago"
    return f"not sent before, published {when} (inside the window), number {rank} by recency"
