"""What rendering is given: the issue's content and the digest's render settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from digest.models import Article

__all__ = ["IssueContent", "RenderSettings"]


@dataclass
class RenderSettings:
    """What rendering needs from a digest's configuration (built by the config layer)."""

    digest_name: str
    title: str
    from_addr: str
    reply_to: str | None
    subject_template: str
    postal_address: str
    why_text: str | None = None
    language: str = "en"  # <html lang>, BCP 47 ("de-CH")
    locale: str = "en"  # words and dates, as babel names it ("de_CH"); see digest.render.locale
    direction: str = "ltr"
    template_dir: Path | None = None
    size_budget: int = 100_000
    images: str = "lead"  # none | thumbnail | lead: each article's picture, and how
    unsubscribe_mailto: str | None = None
    list_id_domain: str = "digest.local"
    message_id_domain: str = "digest.local"
    subscribe_url: str | None = None  # where the web edition sends readers who want the email


@dataclass
class IssueContent:
    """The articles of one issue, in order, with their summaries already made."""

    issue_id: int | None
    issue_date: date
    articles: list[Article]
    preheader: str | None = None
    # Optional extras the templates use when present.
    source_titles: dict[str, str] = field(default_factory=dict)  # source name -> display name
    image_sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # image URL -> (w, h)
    intro: str | None = None  # an editor's note shown above the articles (Markdown)
    subject: str | None = None  # the subject an editor wrote, instead of the digest's template
    public: bool = False  # the web edition: nobody's data in it, a subscribe link instead
