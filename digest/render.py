"""Render one issue once: Jinja -> premailer -> frozen HTML and text, under a size budget.

Per-recipient values never reach this stage. Templates see a `recipient` whose fields are
placeholder tokens; the tokens survive Jinja escaping, premailer and lxml untouched, and
`digest.personalize` later substitutes each recipient's values into the frozen output, escaped
for the context each token landed in. `render_issue(..., recipient=r)` renders the same issue
with real values instead; it is the reference the substitution is tested against.

    content + settings
      -> view model (outside text made safe: URLs limited to http(s), text autoescaped)
      -> Jinja (issue.html, issue.txt; StrictUndefined) -> premailer (media queries keep !important)
      -> size budget: drop images, then shorten summaries, then move the last articles to "more"
      -> RenderedIssue (frozen html/text with placeholder tokens)
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import textwrap
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jinja2
from jinja2 import filters as jinja_filters
from lxml import etree
from markupsafe import Markup, escape

from digest.errors import RenderError
from digest.models import Article, Recipient

if TYPE_CHECKING:
    from digest.personalize import MessageTemplate, personalize_all, render_preview

__all__ = [
    "DEFAULT_TEMPLATE_DIR",
    "IssueContent",
    "MessageTemplate",
    "RenderSettings",
    "RenderedIssue",
    "lint_email_html",
    "personalize_all",
    "render_issue",
    "render_preview",
    "render_report",
    "render_subject",
]

log = logging.getLogger(__name__)

# digest/templates links to the repository's templates/, so a wheel carries them in the package.
DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "email"

CONTENT_WIDTH = 552  # 600 px container minus 24 px padding on each side
SUMMARY_STEPS = (40, 20)  # word limits tried, in order, when the issue is over budget
HTML_LINE_LIMIT = 990  # RFC 5322 allows 998 bytes a line; keep a margin for CRLF


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
    language: str = "en"
    direction: str = "ltr"
    template_dir: Path | None = None
    size_budget: int = 100_000
    unsubscribe_mailto: str | None = None
    list_id_domain: str = "digest.local"
    message_id_domain: str = "digest.local"


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
    intro: str | None = None  # an editor's note shown above the articles


@dataclass
class RenderedIssue:
    """The frozen issue: subject, HTML and text with recipient placeholders, stored as is."""

    subject: str
    html: str
    text: str
    html_size: int
    warnings: list[str]
    articles: list[Article]
    more: list[Article]
    nonce: str = ""  # identifies this issue's placeholder tokens (see `Placeholder`)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form for the store; `from_json` reads it back."""
        return {
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "html_size": self.html_size,
            "warnings": self.warnings,
            "articles": [_article_to_json(a) for a in self.articles],
            "more": [_article_to_json(a) for a in self.more],
            "nonce": self.nonce,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderedIssue:
        return cls(
            subject=data["subject"],
            html=data["html"],
            text=data["text"],
            html_size=data["html_size"],
            warnings=list(data["warnings"]),
            articles=[_article_from_json(a) for a in data["articles"]],
            more=[_article_from_json(a) for a in data["more"]],
            nonce=data["nonce"],
        )


def _article_to_json(a: Article) -> dict[str, Any]:
    return {
        "source": a.source,
        "key": a.key,
        "url": a.url,
        "title": a.title,
        "lead": a.lead,
        "summary": a.summary,
        "published": a.published.isoformat() if a.published else None,
        "author": a.author,
        "image": a.image,
        "language": a.language,
        "words": a.words,
    }


def _article_from_json(d: dict[str, Any]) -> Article:
    published = datetime.fromisoformat(d["published"]) if d.get("published") else None
    return Article(**{**d, "published": published})


# --------------------------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------------------------
#
# A token is `DgsT<nonce>_<hex>_`: letters, digits and underscores only, so Jinja's escaping,
# lxml's text/attribute/URL serialization, premailer and textwrap leave it alone. <hex> is the
# UTF-8 JSON of the field and the filters the template applied, so the frozen HTML and text
# describe themselves. The nonce is random per issue and absent from the issue's text, so
# outside text cannot forge a token, and a token a filter mangled is noticed (_check_tokens).

TOKEN_PREFIX = "DgsT"
RECIPIENT_FIELDS = ("name", "email", "unsubscribe_url", "web_url")
# Filters a template may apply to a recipient field; they are replayed per recipient.
PLACEHOLDER_FILTERS: dict[str, Callable[..., Any]] = {
    "default": jinja_filters.do_default,
    "d": jinja_filters.do_default,
    "urlencode": jinja_filters.do_urlencode,
    "upper": jinja_filters.do_upper,
    "lower": jinja_filters.do_lower,
    "title": jinja_filters.do_title,
    "capitalize": jinja_filters.do_capitalize,
    "trim": jinja_filters.do_trim,
}


def token_pattern(nonce: str) -> re.Pattern[str]:
    return re.compile(rf"{TOKEN_PREFIX}{re.escape(nonce)}_([0-9a-f]+)_")


@dataclass(frozen=True)
class FieldSpec:
    """One recipient value as a template asked for it: which field, then which filters."""

    field: str  # "name", "email", "unsubscribe_url", "web_url" or "attr:<key>"
    ops: tuple[tuple[Any, ...], ...] = ()  # (filter name, *args)

    def encode(self) -> str:
        raw = json.dumps(
            [self.field, [list(op) for op in self.ops]], ensure_ascii=False, separators=(",", ":")
        )
        return raw.encode().hex()

    @classmethod
    def decode(cls, hexed: str) -> FieldSpec:
        name, ops = json.loads(bytes.fromhex(hexed).decode())
        return cls(name, tuple(tuple(op) for op in ops))

    def value(self, recipient: Recipient) -> str:
        """The field's value for one recipient, cleaned, with the template's filters applied."""
        if self.field.startswith("attr:"):
            raw = recipient.attributes.get(self.field[5:], "")
        else:
            raw = getattr(recipient, self.field)
        value = clean_value(raw)
        return apply_ops(value, self.ops) if self.ops else value


def apply_ops(value: str, ops: Iterable[tuple[Any, ...]]) -> str:
    for name, *args in ops:
        if name in ("default", "d"):
            # A recipient field is never undefined, only empty: `default` means "if empty".
            value = value or str(args[0] if args else "")
        else:
            value = str(PLACEHOLDER_FILTERS[name](value, *args))
    return value


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff\ud800-\udfff]+")


def clean_value(raw: object) -> str:
    """Recipient values as every template sees them: one line, no control characters.

    This keeps a name from injecting headers or MIME boundaries, and makes the substituted
    output byte-identical to a direct render (the HTML parser would rewrite CR and NUL).
    """
    text = str(raw) if raw is not None else ""
    if text.isascii() and text.isprintable():
        return text.strip()
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text)).strip()


class Placeholder(str):
    """A recipient field in placeholder mode: renders as its token, refuses to be tested."""

    spec: FieldSpec

    def __new__(cls, spec: FieldSpec, nonce: str) -> Placeholder:
        obj = super().__new__(cls, f"{TOKEN_PREFIX}{nonce}_{spec.encode()}_")
        obj.spec = spec
        return obj

    def with_op(self, op: tuple[Any, ...]) -> Placeholder:
        nonce = str(self)[len(TOKEN_PREFIX) :].split("_", 1)[0]
        return Placeholder(FieldSpec(self.spec.field, (*self.spec.ops, op)), nonce)

    def __html__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        raise RenderError(
            f"a template tests the recipient field {self.spec.field!r}; the issue is rendered "
            "once for everyone, so use `| default(...)` instead of `if`/`or`"
        )

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise RenderError(
            f"a template computes with the recipient field {self.spec.field!r}; the issue is "
            "rendered once for everyone, so only these filters can be applied: "
            + ", ".join(sorted(PLACEHOLDER_FILTERS))
        )


# Anything that would compute with the token instead of the value is refused.
_REFUSED_STR_METHODS = (  # noqa: SIM905 (a word list reads better than 57 quoted items)
    "__getitem__ __len__ __iter__ __contains__ __mod__ __mul__ __rmul__ __lt__ __le__ __gt__ "
    "__ge__ capitalize casefold center count encode endswith expandtabs find format format_map "
    "index isalnum isalpha isascii isdecimal isdigit isidentifier islower isnumeric isprintable "
    "isspace istitle isupper join ljust lower lstrip partition removeprefix removesuffix replace "
    "rfind rindex rjust rpartition rsplit rstrip split splitlines startswith strip swapcase "
    "title translate upper zfill"
).split()
for _name in _REFUSED_STR_METHODS:
    setattr(Placeholder, _name, Placeholder._refuse)


class RecipientValue(str):
    """A recipient field in direct mode; lets the filter wrappers know it is one."""


class _Attributes:
    """`recipient.attributes.<key>` / `["key"]` / `.get("key", fallback)` in templates."""

    def __init__(self, make: Callable[[str], str]) -> None:
        self._make = make

    def __getattr__(self, key: str) -> str:
        if key.startswith("_"):
            raise AttributeError(key)
        return self._make(key)

    def __getitem__(self, key: str) -> str:
        return self._make(key)

    def get(self, key: str, fallback: str = "") -> str:
        value = self._make(key)
        if isinstance(value, Placeholder):
            return value.with_op(("default", fallback))
        return value or RecipientValue(fallback)


class TemplateRecipient:
    """What templates see as `recipient`: placeholders, or real values for a direct render."""

    def __init__(self, nonce: str, recipient: Recipient | None = None) -> None:
        self._nonce = nonce
        self._recipient = recipient
        self.attributes = _Attributes(lambda key: self._field(f"attr:{key}"))

    def _field(self, name: str) -> str:
        spec = FieldSpec(name)
        if self._recipient is None:
            return Placeholder(spec, self._nonce)
        return RecipientValue(spec.value(self._recipient))

    @property
    def name(self) -> str:
        return self._field("name")

    @property
    def email(self) -> str:
        return self._field("email")

    @property
    def unsubscribe_url(self) -> str:
        return self._field("unsubscribe_url")

    @property
    def web_url(self) -> str:
        return self._field("web_url")


def _placeholder_aware(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def apply(value: Any, *args: Any) -> Any:
        if isinstance(value, Placeholder):
            return value.with_op((name, *args))
        if isinstance(value, RecipientValue):
            return RecipientValue(apply_ops(str(value), [(name, *args)]))
        return original(value, *args)

    apply.__name__ = f"do_{name}"
    return apply


# --------------------------------------------------------------------------------------------
# Jinja environment and filters
# --------------------------------------------------------------------------------------------

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def format_date(value: date | datetime | None) -> str:
    """`26 November 2026`: unambiguous in every English-reading country."""
    if value is None:
        return ""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


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


_ENVS: dict[Path | None, jinja2.Environment] = {}


def environment(template_dir: Path | None) -> jinja2.Environment:
    """One cached environment per template directory (templates compile once)."""
    env = _ENVS.get(template_dir)
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
    for name, original in PLACEHOLDER_FILTERS.items():
        env.filters[name] = _placeholder_aware(name, original)
    env.filters["wrap"] = _refusing_placeholders("wrap", wrap_text)
    env.filters["softwrap"] = _refusing_placeholders("softwrap", soft_wrap)
    env.filters["nl2br"] = nl2br
    env.filters["format_date"] = format_date
    _ENVS[template_dir] = env
    return env


_SUBJECT_ENV = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)


def render_subject(settings: RenderSettings, content: IssueContent, articles: list[Article]) -> str:
    """The subject line: plain text for a header, on one line, never empty."""
    first = articles[0].title if articles else ""
    try:
        raw = _SUBJECT_ENV.from_string(settings.subject_template).render(
            title=settings.title,
            date=format_date(content.issue_date),
            issue_date=content.issue_date,
            first_headline=clean_value(first),
            articles=articles,
            count=len(articles),
        )
    except jinja2.TemplateError as exc:
        raise RenderError(f"subject template: {exc}") from exc
    subject = " ".join(clean_value(raw).split())
    return subject or settings.title


# --------------------------------------------------------------------------------------------
# View model: outside text made safe for the templates
# --------------------------------------------------------------------------------------------


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


def shorten(text: str, words: int) -> str:
    """Cut to `words` words, at the last sentence end when there is one in the second half."""
    parts = text.split()
    if len(parts) <= words:
        return " ".join(parts)
    cut = " ".join(parts[:words])
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "), cut.rfind("."))
    if end >= len(cut) // 2 and cut[: end + 1].rstrip()[-1:] in ".!?":
        return cut[: end + 1]
    return cut.rstrip(",;:-–—") + "…"


@dataclass(frozen=True)
class Plan:
    """What the size budget left in: images or not, summary length, articles shown in full."""

    images: bool = True
    summary_words: int | None = None
    full_count: int | None = None  # None: all


def _article_view(a: Article, content: IssueContent, plan: Plan) -> dict[str, Any]:
    image = safe_url(a.image) if plan.images else None
    width, height = CONTENT_WIDTH, None
    if image and image in content.image_sizes:
        w, h = content.image_sizes[image]
        if w > 0 and h > 0:
            width = min(w, CONTENT_WIDTH)
            height = round(h * width / w)
    summary = a.summary or a.lead
    if plan.summary_words is not None:
        summary = shorten(summary, plan.summary_words)
    return {
        "title": " ".join(a.title.split()),
        "url": safe_url(a.url),
        "source": content.source_titles.get(a.source, a.source),
        "date": format_date(a.published) if a.published else "",
        "published": a.published,
        "author": a.author,
        "summary": summary,
        "image": image,
        "image_width": width,
        "image_height": height,
    }


def _context(
    content: IssueContent, settings: RenderSettings, plan: Plan, recipient: TemplateRecipient
) -> dict[str, Any]:
    count = len(content.articles) if plan.full_count is None else plan.full_count
    full, more = content.articles[:count], content.articles[count:]
    articles = [_article_view(a, content, plan) for a in full]
    more_views = [_article_view(a, content, replace(plan, images=False)) for a in more]
    preheader = content.preheader or "; ".join(a["title"] for a in (articles + more_views)[:3])
    why = settings.why_text or (f"You get this email because you subscribed to {settings.title}.")
    return {
        "title": settings.title,
        "digest_name": settings.digest_name,
        "issue_id": content.issue_id,
        "issue_date": content.issue_date,
        "date": format_date(content.issue_date),
        "language": settings.language,
        "direction": "rtl" if settings.direction == "rtl" else "ltr",
        "preheader": preheader,
        "intro": content.intro,
        "articles": articles,
        "more": more_views,
        "count": len(articles) + len(more_views),
        "postal_address": settings.postal_address,
        "why_text": why,
        "recipient": recipient,
        "content_width": CONTENT_WIDTH,
    }


def inline_css(html: str) -> str:
    """Inline the <style> rules into style attributes (see `digest.inline`, imported on use)."""
    from digest.inline import inline_css as inline

    return inline(html)


def fold_long_lines(html: str, keep: re.Pattern[str], guide: str | None = None) -> str:
    """Break lines longer than HTML_LINE_LIMIT bytes at spaces between attributes in tags.

    Such a newline changes nothing a browser shows and keeps the 8bit MIME part legal. Lines
    holding a recipient placeholder (matched by `keep` in `guide`, the placeholder render of
    the same issue) are never folded, so where folds go does not depend on anyone's values
    and a direct render for one recipient folds exactly like the frozen issue. Lines that
    cannot be folded are left to personalization's quoted-printable fallback.
    """
    guide_lines = (guide if guide is not None else html).split("\n")
    out = []
    for line, reference in zip(html.split("\n"), guide_lines, strict=True):
        if keep.search(reference) is None:
            while len(line.encode()) > HTML_LINE_LIMIT:
                cut = _attribute_gap(line, HTML_LINE_LIMIT)
                if cut is None:
                    break
                out.append(line[:cut])
                line = line[cut + 1 :]
        out.append(line)
    return "\n".join(out)


def _attribute_gap(line: str, limit: int) -> int | None:
    """Index of the last space between two attributes within the first `limit` bytes."""
    best = None
    in_tag = False
    quote = ""
    size = 0
    for i, ch in enumerate(line):
        size += len(ch.encode())
        if size > limit and best is not None:
            break
        if quote:
            if ch == quote:
                quote = ""
        elif in_tag:
            if ch in "\"'":
                quote = ch
            elif ch == ">":
                in_tag = False
            elif ch == " " and i > 0 and i + 1 < len(line) and line[i + 1] not in " />":
                best = i
        elif ch == "<":
            in_tag = True
    return best


def tidy_text(text: str) -> str:
    """The text part: no trailing spaces, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return tidy + "\n"


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _render_once(
    content: IssueContent,
    settings: RenderSettings,
    plan: Plan,
    recipient: TemplateRecipient,
) -> tuple[str, str]:
    env = environment(settings.template_dir)
    ctx = _context(content, settings, plan, recipient)
    try:
        raw_html = env.get_template("issue.html").render(ctx)
        text = env.get_template("issue.txt").render(ctx)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"email template not found: {exc.name}") from exc
    except jinja2.UndefinedError as exc:
        raise RenderError(f"email template: {exc.message}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise RenderError(f"email template {exc.filename}:{exc.lineno}: {exc.message}") from exc
    return inline_css(raw_html), tidy_text(text)


def _check_tokens(output: str, nonce: str, where: str) -> None:
    """Every token fragment must still be a whole, decodable token (no filter mangled it).

    A fragment is the first 6 characters of the random nonce, in any case: a cut, a case
    change or a replace leaves them behind, and outside text cannot contain them by chance or
    design (the nonce is chosen not to occur in the content). Placeholder refuses most such
    operations itself; this catches the ones done on a string the placeholder was joined into.
    """
    pattern = token_pattern(nonce)
    spans = [(m.start(), m.end()) for m in pattern.finditer(output)]
    fragments = re.compile(re.escape(nonce[:6]), re.IGNORECASE)
    for m in fragments.finditer(output):
        if not any(a <= m.start() < b for a, b in spans):
            raise RenderError(
                f"the {where} template changed a recipient field with a filter personalization "
                f"cannot replay (allowed: {', '.join(sorted(PLACEHOLDER_FILTERS))})"
            )
    for m in pattern.finditer(output):
        try:
            spec = FieldSpec.decode(m.group(1))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RenderError(f"the {where} template cut a recipient field short") from exc
        if spec.field not in RECIPIENT_FIELDS and not spec.field.startswith("attr:"):
            raise RenderError(f"unknown recipient field {spec.field!r}")


def _nonce_for(content: IssueContent, settings: RenderSettings) -> str:
    """Random per issue, and absent from all its text: nothing outside can forge or trip it."""
    blob = json.dumps(
        [[asdict(a) for a in content.articles], asdict(content), asdict(settings)], default=str
    ).lower()
    while True:
        nonce = secrets.token_hex(5)
        if nonce[:6] not in blob:
            return nonce


def render_issue(
    content: IssueContent,
    settings: RenderSettings,
    *,
    recipient: Recipient | None = None,
    nonce: str | None = None,
) -> RenderedIssue:
    """Render the issue once, fitting the size budget; see the module docstring.

    With `recipient`, the same issue is rendered directly with that recipient's values (the
    budget decisions are still made on the placeholder render, so both agree); it is the
    reference personalization is checked against, and too slow to use per recipient.
    `nonce` fixes the placeholder tokens, for golden files.
    """
    if not content.articles:
        raise RenderError("an issue needs at least one article")
    nonce = nonce or _nonce_for(content, settings)
    placeholders = TemplateRecipient(nonce)
    plan, html, text, warnings = _fit(content, settings, placeholders)
    _check_tokens(html, nonce, "HTML")
    _check_tokens(text, nonce, "text")
    size = len(html.encode())
    pattern = token_pattern(nonce)
    # Where each placeholder landed must be a context personalization can escape for;
    # finding out now makes a template mistake a render error, not a send-time one.
    from digest.personalize import FrozenBody, SpecTable

    FrozenBody.from_html(html, pattern, SpecTable())
    if recipient is None:
        html = fold_long_lines(html, pattern)
    else:
        guide = html
        html, text = _render_once(content, settings, plan, TemplateRecipient(nonce, recipient))
        html = fold_long_lines(html, pattern, guide)
    count = len(content.articles) if plan.full_count is None else plan.full_count
    articles, more = list(content.articles[:count]), list(content.articles[count:])
    return RenderedIssue(
        subject=render_subject(settings, content, list(content.articles)),
        html=html,
        text=text,
        html_size=size,
        warnings=warnings,
        articles=articles,
        more=more,
        nonce=nonce,
    )


class RenderCache:
    """The last rendering of each digest, kept in a file and reused while nothing it depends on
    has changed.

    A run whose sources all answered 304 composes the same issue as the run before; rendering
    and inlining it again (and importing premailer to do so) would be most of that run's work.
    The key covers everything the output depends on: the content (articles with their
    summaries, date, extras), the settings, every template file's bytes, and the rendering
    code's own files (size and modification time), so an edit anywhere renders afresh. One
    file per digest; a damaged or foreign file is ignored and replaced.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def render(self, content: IssueContent, settings: RenderSettings) -> RenderedIssue:
        key = render_key(content, settings)
        path = self.folder / f"render-{re.sub(r'[^A-Za-z0-9_.-]', '_', settings.digest_name)}.json"
        try:
            stored = json.loads(path.read_bytes())
            if stored.get("key") == key:
                return RenderedIssue.from_json(stored["rendered"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # nothing cached yet, or unreadable: render afresh
        rendered = render_issue(content, settings)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{secrets.token_hex(4)}.tmp")
            partial.write_text(json.dumps({"key": key, "rendered": rendered.to_json()}))
            partial.replace(path)  # atomic: a concurrent reader sees the old file or the new
        except OSError as exc:
            log.warning("could not keep the rendered issue in %s: %s", self.folder, exc)
        return rendered


def render_key(content: IssueContent, settings: RenderSettings) -> str:
    """A digest of everything `render_issue(content, settings)` depends on (see RenderCache)."""
    import hashlib

    from digest import __version__

    described = {
        "version": __version__,
        "content": {
            "issue_id": content.issue_id,
            "issue_date": content.issue_date.isoformat(),
            "articles": [_article_to_json(a) for a in content.articles],
            "preheader": content.preheader,
            "source_titles": content.source_titles,
            "image_sizes": content.image_sizes,
            "intro": content.intro,
        },
        "settings": asdict(settings),
    }
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode())
    here = Path(__file__).resolve().parent
    for module in ("render.py", "personalize.py", "inline.py", "models.py"):
        info = (here / module).stat()
        digest.update(f"\0{module}:{info.st_size}:{info.st_mtime_ns}".encode())
    folders = [Path(settings.template_dir)] if settings.template_dir else []
    for folder in [*folders, DEFAULT_TEMPLATE_DIR]:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                digest.update(f"\0{path.relative_to(folder)}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _fit(
    content: IssueContent, settings: RenderSettings, recipient: TemplateRecipient
) -> tuple[Plan, str, str, list[str]]:
    """Render, then give things up in the issue's order of least harm until it fits.

    Gmail clips HTML over about 102 KB and hides the rest (unsubscribe link included).
    """
    budget = settings.size_budget
    plan = Plan()
    html, text = _render_once(content, settings, plan, recipient)

    def size_of(h: str) -> int:
        return len(h.encode())

    if size_of(html) <= budget:
        return plan, html, text, []
    warnings = [f"HTML is {size_of(html):,} bytes, over the {budget:,}-byte budget"]
    if any(safe_url(a.image) for a in content.articles):
        plan = replace(plan, images=False)
        html, text = _render_once(content, settings, plan, recipient)
        warnings.append(f"dropped images: {size_of(html):,} bytes")
    for words in SUMMARY_STEPS:
        if size_of(html) <= budget:
            break
        plan = replace(plan, summary_words=words)
        html, text = _render_once(content, settings, plan, recipient)
        warnings.append(f"shortened summaries to {words} words: {size_of(html):,} bytes")
    if size_of(html) > budget:
        # The largest number of full articles that fits, by bisection (few renders).
        lo, hi = 0, len(content.articles) - 1
        best: tuple[Plan, str, str] | None = None
        while lo <= hi:
            mid = (lo + hi) // 2
            trial = replace(plan, full_count=mid)
            h, t = _render_once(content, settings, trial, recipient)
            if size_of(h) <= budget:
                best, lo = (trial, h, t), mid + 1
            else:
                hi = mid - 1
        if best is None:
            best_plan = replace(plan, full_count=0)
            best = (best_plan, *_render_once(content, settings, best_plan, recipient))
        plan, html, text = best
        moved = len(content.articles) - (plan.full_count or 0)
        warnings.append(f"moved the last {moved} articles to the more-stories list")
    if size_of(html) > budget:
        warnings.append(f"still over budget at {size_of(html):,} bytes; Gmail will clip it")
    else:
        warnings.append(f"now {size_of(html):,} bytes, within budget")
    return plan, html, text, warnings


# --------------------------------------------------------------------------------------------
# Lint
# --------------------------------------------------------------------------------------------


def render_report(rendered: RenderedIssue, settings: RenderSettings) -> list[str]:
    """Lines for `digest check` / `digest preview`: size against budget, fitting, lint."""
    budget = settings.size_budget
    state = "OVER BUDGET" if rendered.html_size > budget else "within budget"
    lines = [
        f"HTML {rendered.html_size:,} bytes of a {budget:,}-byte budget ({state}); "
        f"{len(rendered.articles)} articles in full, {len(rendered.more)} in more stories"
    ]
    lines += [f"warning: {w}" for w in rendered.warnings]
    lines += [f"lint: {p}" for p in lint_email_html(rendered.html)]
    return lines


def lint_email_html(html: str) -> list[str]:
    """Problems that make an email inaccessible or break in clients; empty when clean."""
    problems: list[str] = []
    try:
        root = etree.fromstring(html.encode(), etree.HTMLParser(encoding="utf-8"))
    except etree.ParserError as exc:
        return [f"HTML does not parse: {exc}"]
    if root is None:
        return ["HTML is empty"]
    if not (root.get("lang") or "").strip():
        problems.append("<html> has no lang attribute")
    if not root.get("dir"):
        problems.append("<html> has no dir attribute")
    if not root.xpath("//meta[@name='viewport']"):
        problems.append("no viewport meta")
    for i, img in enumerate(root.iter("img"), 1):
        if img.get("alt") is None:
            problems.append(f"image {i} ({img.get('src', '?')[:60]}) has no alt attribute")
    for i, table in enumerate(root.iter("table"), 1):
        if table.get("role") != "presentation":
            problems.append(f'table {i} has no role="presentation"')
    if list(root.iter("script")):
        problems.append("contains <script>")
    for link in root.iter("link"):
        if "stylesheet" in (link.get("rel") or "").lower():
            problems.append(f"external stylesheet {link.get('href')}")
    for style in root.iter("style"):
        if "@import" in (style.text or ""):
            problems.append("a <style> imports an external stylesheet")
    for a in root.iter("a"):
        if not "".join(a.itertext()).strip() and not a.xpath(".//img[@alt!='']"):
            problems.append(f"link {a.get('href', '?')[:60]} has no text")
    return problems


def __getattr__(name: str) -> Any:
    """`MessageTemplate`, `personalize_all` and `render_preview` live in digest.personalize
    (which builds on this module); they are importable from here too, without a cycle."""
    if name in ("MessageTemplate", "personalize_all", "render_preview"):
        from digest import personalize

        return getattr(personalize, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
