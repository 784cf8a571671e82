"""Realistic issues for the render tests and bench/render.py (fixed, so golden files hold)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from lxml import etree

from digest.models import Article, Recipient
from digest.render import IssueContent, RenderSettings

_STORIES = [
    (
        "city-desk",
        "Council approves the new riverside cycle path after a two-year wait",
        "The city council voted 9–2 on Tuesday to fund a 4.2 km cycle path along the river, "
        "linking the old harbour with the university campus. Construction starts in March and "
        "should take eighteen months; residents on Quay Street asked for the lane to be separated "
        "from traffic by planters rather than kerbs.",
    ),
    (
        "science-weekly",
        "Why the Zürich lake warmed faster than the models said",
        "Researchers at ETH found that fewer days of winter ice let the lake absorb more heat "
        "early in the year. The effect adds up over a decade and explains most of the gap "
        "between forecasts and measurements, according to the study published on Monday.",
    ),
    (
        "city-desk",
        'Bakery owners say "no" to the Sunday opening rule',
        "A group of 40 independent bakeries wrote to the mayor asking her to drop the plan to "
        "require Sunday opening in the old town. They say the rule favours chains that can staff "
        "seven days a week & would push small shops out within a year.",
    ),
    (
        "tech-notes",
        "The <details> element finally works in every email client that matters",
        "After years of hacks, the disclosure widget renders in Apple Mail and Gmail's web "
        "client. Outlook still shows everything expanded, which turns out to be a reasonable "
        "fallback for newsletters that hide long quotes.",
    ),
    (
        "science-weekly",
        "A café in Lyon runs entirely on heat from its neighbour's servers",
        "The owners pipe warm water from a small data centre next door into their espresso "
        "machines and radiators. Their gas bill fell to zero last winter; the data centre "
        "saves on cooling. Both want the city to make such deals easier to sign.",
    ),
    (
        "culture",
        "O'Neil & Sons close their 120-year-old bookshop, then reopen it as a co-op",
        "Customers raised €180,000 in six weeks to buy the shop's stock and lease. The family "
        "stays on as staff; members get a 10% discount and a vote on which events to host.",
    ),
]


def sample_articles(count: int = 30, *, images: bool = True) -> list[Article]:
    """`count` articles cycling through realistic stories, with every third one illustrated."""
    published = datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
    articles = []
    for i in range(count):
        source, title, summary = _STORIES[i % len(_STORIES)]
        n = i // len(_STORIES)
        articles.append(
            Article(
                source=source,
                key=f"{source}-{i}",
                url=f"https://news.example.org/{source}/2026/11/story-{i}?utm_source=digest&ref=a{i}",
                title=title if n == 0 else f"{title} (part {n + 1})",
                lead=summary,
                summary=summary,
                published=published - timedelta(hours=7 * i),
                image=f"https://img.example.org/{source}/{i}.jpg"
                if images and i % 3 == 0
                else None,
            )
        )
    return articles


def sample_content(count: int = 6, *, images: bool = True) -> IssueContent:
    articles = sample_articles(count, images=images)
    return IssueContent(
        issue_id=42,
        issue_date=date(2026, 11, 26),
        articles=articles,
        source_titles={
            "city-desk": "City Desk",
            "science-weekly": "Science Weekly",
            "tech-notes": "Tech Notes",
            "culture": "Culture",
        },
        image_sizes={
            a.image: (1200, 675) for i, a in enumerate(articles) if a.image and i % 2 == 0
        },
    )


def sample_settings(**changes: object) -> RenderSettings:
    settings = RenderSettings(
        digest_name="example",
        title="The Example Brief",
        from_addr="The Example Brief <news@example.org>",
        reply_to="Editors <editors@example.org>",
        subject_template="{{ title }} — {{ date }}: {{ first_headline }}",
        postal_address="Example Media Ltd\n12 Harbour Road\nSpringfield 40512",
        unsubscribe_mailto="unsubscribe@example.org",
        list_id_domain="lists.example.org",
        message_id_domain="mail.example.org",
    )
    for key, value in changes.items():
        setattr(settings, key, value)
    return settings


def sample_recipient(delivery_id: int = 1, **changes: object) -> Recipient:
    recipient = Recipient(
        delivery_id=delivery_id,
        subscriber_id=1000 + delivery_id,
        email=f"reader{delivery_id}@example.com",
        name="Ada Lovelace",
        attributes={"city": "Springfield"},
        unsubscribe_url=f"https://digest.example.org/u/{delivery_id}.sig-AbC_9",
        preferences_url=f"https://digest.example.org/preferences/{delivery_id}.sig-PrF_2",
        web_url=f"https://digest.example.org/issues/42?d={delivery_id}&s=xYz",
    )
    for key, value in changes.items():
        setattr(recipient, key, value)
    return recipient


def parse_html(html: str) -> etree._Element:
    return etree.fromstring(html.encode(), etree.HTMLParser(encoding="utf-8"))
