"""What the email templates see, and the Jinja environment they are rendered in.

The file to open to change the email: templates live in `DEFAULT_TEMPLATE_DIR` (the
repository's templates/email/, or a digest's own folder in front of it); `template_context` is
every variable they get, `article_view` each article as they see it, and `environment` the
filters they may use. Outside text is made safe here: links are limited to absolute http(s),
and text is autoescaped (Jinja's autoescape is on for HTML). Words and dates follow the
digest's locale (`digest.render.i18n`): one environment per template folder and locale.

`recipient` is a `TemplateRecipient` (digest.render.placeholders): its fields render as
placeholder tokens, so only the filters personalization can replay apply to them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from digest.errors import RenderError
from digest.models import Article
from digest.render.i18n import format_date, install, translations
from digest.render.inputs import IssueContent, RenderSettings
from digest.render.placeholders import (
    PLACEHOLDER_FILTERS,
    TOKEN_PREFIX,
    Placeholder,
    RecipientValue,
    TemplateRecipient,
    apply_ops,
    clean_value,
)
from digest.text import cut_to_words

__all__ = [
    "CONTENT_WIDTH",
    "DEFAULT_TEMPLATE_DIR",
    "THUMBNAIL_WIDTH",
    "Plan",
    "article_view",
    "environment",
    "format_date",
    "render_subject",
    "safe_url",
    "template_context",
]

# digest/templates links to the repository's templates/, so a wheel carries them in the package.
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"

CONTENT_WIDTH = 552  # 600 px container minus 24 px padding on each side
THUMBNAIL_WIDTH = 120  # a thumbnail beside the title: a quarter of a phone's column at most


# --------------------------------------------------------------------------------------------
# What templates see
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What the size budget left in: images or not, summary length, articles shown in full."""

    images: bool = True
    summary_words: int | None = None
    full_count: int | None = None  # None: all


def article_view(
    a: Article, content: IssueContent, plan: Plan, style: str = "lead", locale: str = "en"
) -> dict[str, Any]:
    """One article as templates see it: links made safe, the image sized, the summary cut
    when the size budget asks (with `digest.text.cut_to_words`, the summarizer's own cut),
    the date in the digest's locale.

    The picture (`style` lead or thumbnail) is shown only with its size known: width and height
    attributes keep its box while it loads or when the client blocks images, and it is never
    wider than the column (lead) or than THUMBNAIL_WIDTH (thumbnail)."""
    image = safe_url(a.image) if plan.images and style in ("lead", "thumbnail") else None
    width = height = None
    if image and image in content.image_sizes:
        w, h = content.image_sizes[image]
        if w > 0 and h > 0:
            width = min(w, THUMBNAIL_WIDTH if style == "thumbnail" else CONTENT_WIDTH)
            height = max(1, round(h * width / w))
    if height is None:
        image = None
    summary = a.summary or a.lead
    if plan.summary_words is not None:
        summary = cut_to_words(summary, plan.summary_words, a.language)
    return {
        "title": " ".join(a.title.split()),
        "url": safe_url(a.url),
        "source": content.source_titles.get(a.source, a.source),
        "date": format_date(a.published, locale) if a.published else "",
        "published": a.published,
        "author": a.author,
        "summary": summary,
        "image": image,
        "image_width": width,
        "image_height": height,
        "image_style": style if image else None,
        "image_alt": " ".join(a.title.split()),
    }


def template_context(
    content: IssueContent, settings: RenderSettings, plan: Plan, recipient: TemplateRecipient
) -> dict[str, Any]:
    """Every variable issue.html and issue.txt get; articles past `plan.full_count` go to
    `more` (the "more stories" list, without images)."""
    count = len(content.articles) if plan.full_count is None else plan.full_count
    full, more = content.articles[:count], content.articles[count:]
    locale = settings.locale
    articles = [article_view(a, content, plan, settings.images, locale) for a in full]
    more_views = [
        article_view(a, content, replace(plan, images=False), locale=locale) for a in more
    ]
    preheader = content.preheader or "; ".join(a["title"] for a in (articles + more_views)[:3])
    why = settings.why_text or translations(locale, settings.template_dir).gettext(
        "You get this email because you subscribed to %(title)s."
    ) % {"title": settings.title}
    return {
        "title": settings.title,
        "digest_name": settings.digest_name,
        "issue_id": content.issue_id,
        "issue_date": content.issue_date,
        "date": format_date(content.issue_date, locale),
        "language": settings.language,
        "locale": locale,
        "direction": "rtl" if settings.direction == "rtl" else "ltr",
        "preheader": preheader,
        "intro": content.intro,
        "intro_html": note_html(content.intro),
        "public": content.public,
        "subscribe_url": settings.subscribe_url or "",
        "articles": articles,
        "more": more_views,
        "count": len(articles) + len(more_views),
        "postal_address": settings.postal_address,
        "why_text": why,
        "recipient": recipient,
        "content_width": CONTENT_WIDTH,
    }


_NOTE_TAGS = {"p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "blockquote", "code"}
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_NOTE_CLEANER = nh3.Cleaner(
    tags=_NOTE_TAGS,
    attributes={"a": {"href"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer",
)


def note_html(markdown: str | None) -> Markup:
    """An editor's note, written in Markdown, as HTML the email may carry: CommonMark without
    raw HTML, then only paragraphs, emphasis, lists, quotes, code and http(s)/mailto links."""
    if not markdown or not markdown.strip():
        return Markup("")
    return Markup(_NOTE_CLEANER.clean(_MARKDOWN.render(markdown)))


def safe_url(url: str | None) -> str | None:
    """Only absolute http(s) links reach the email: no javascript:, data: or relative URLs."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(c in url for c in "\x00\r\n\t "):
        return None
    return url


# --------------------------------------------------------------------------------------------
# The Jinja environment and its filters
# --------------------------------------------------------------------------------------------


_ENVS: dict[tuple[Path | None, str], jinja2.Environment] = {}


def environment(template_dir: Path | None, locale: str = "en") -> jinja2.Environment:
    """One cached environment per template directory and locale (templates compile once):
    `_`, `gettext` and `ngettext` translate into the locale, `format_date` writes its dates."""
    env = _ENVS.get((template_dir, locale))
    if env is not None:
        return env
    if template_dir is not None and not Path(template_dir).is_dir():
        raise RenderError(f"template folder {template_dir} does not exist")
    paths = [str(template_dir)] if template_dir else []
    paths.append(str(DEFAULT_TEMPLATE_DIR))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(paths),
        autoescape=jinja2.select_autoescape(["html", "htm"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    install(env, translations(locale, template_dir))
    for name, original in PLACEHOLDER_FILTERS.items():
        env.filters[name] = _placeholder_aware(name, original)
    env.filters["wrap"] = _refusing_placeholders("wrap", wrap_text)
    env.filters["softwrap"] = _refusing_placeholders("softwrap", soft_wrap)
    env.filters["nl2br"] = nl2br
    env.filters["format_date"] = lambda value: format_date(value, locale)
    _ENVS[(template_dir, locale)] = env
    return env


def _placeholder_aware(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that, given a recipient field, records itself for personalization to replay."""

    def apply(value: Any, *args: Any) -> Any:
        if isinstance(value, Placeholder):
            return value.with_op((name, *args))
        if isinstance(value, RecipientValue):
            return RecipientValue(apply_ops(str(value), [(name, *args)]))
        return original(value, *args)

    apply.__name__ = f"do_{name}"
    return apply


def _refusing_placeholders(what: str, apply: Callable[..., Any]) -> Callable[..., Any]:
    """A text filter that refuses this issue's recipient fields (its result would vary)."""

    @jinja2.pass_context
    def checked(ctx: jinja2.runtime.Context, value: Any, *args: Any) -> Any:
        recipient = ctx.get("recipient")
        nonce = getattr(recipient, "_nonce", None)
        if isinstance(value, Placeholder | RecipientValue) or (
            nonce and f"{TOKEN_PREFIX}{nonce}" in str(value)
        ):
            raise RenderError(
                f"the {what} filter was applied to text holding a recipient field; its result "
                "would depend on each recipient's value, so keep recipient fields out of it"
            )
        return apply(value, *args)

    return checked


def wrap_text(
    value: Any, width: int = 72, indent: str = "", first_indent: str | None = None
) -> str:
    """Wrap plain text for the text part; never splits words, URLs or placeholders."""
    text = str(value)
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    wrapped = []
    for i, para in enumerate(paragraphs):
        wrapped.append(
            textwrap.fill(
                " ".join(para.split()),
                width=width,
                initial_indent=indent if i or first_indent is None else first_indent,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n\n".join(wrapped)


def soft_wrap(value: Any, width: int = 76) -> Markup:
    """Escape text for HTML and put newlines at some spaces so no source line gets long.

    A newline renders exactly like a space outside <pre>, and keeping lines short keeps the
    8bit MIME body under the 998-byte line limit without per-recipient work.
    """
    text = str(value)
    words = " ".join(text.split())
    if len(words) <= width:
        return escape(words)
    return escape(
        "\n".join(textwrap.wrap(words, width, break_long_words=False, break_on_hyphens=False))
    )


def nl2br(value: Any) -> Markup:
    """Postal addresses are written on several lines in config."""
    return Markup("<br>\n").join(
        escape(line.strip()) for line in str(value).splitlines() if line.strip()
    )


# --------------------------------------------------------------------------------------------
# The subject line
# --------------------------------------------------------------------------------------------


_SUBJECT_ENV = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)


def render_subject(settings: RenderSettings, content: IssueContent, articles: list[Article]) -> str:
    """The subject line: plain text for a header, on one line, never empty."""
    first = articles[0].title if articles else ""
    try:
        raw = _SUBJECT_ENV.from_string(settings.subject_template).render(
            title=settings.title,
            date=format_date(content.issue_date, settings.locale),
            issue_date=content.issue_date,
            first_headline=clean_value(first),
            articles=articles,
            count=len(articles),
        )
    except jinja2.TemplateError as exc:
        raise RenderError(f"subject template: {exc}") from exc
    subject = " ".join(clean_value(content.subject or raw).split())
    return subject or settings.title
