"""Every setting, declared once: its type, its default and a one-line help text.

`config/reference.toml` is generated from these declarations (`python -m digest.config.reference`)
and a test fails when it is stale or a setting has no help. Unknown keys are errors, so a typo
is never ignored. Secrets never live here: providers name the environment variable that holds them.

It is long and stays one module on purpose: it holds one concept, the declarations, read top to
bottom like the reference file it generates; the validators beside each table check only that
table's own keys (cross-table rules live in loading.py).
"""

from __future__ import annotations

import builtins
import email.policy
import ipaddress
import re
from datetime import timedelta
from email.errors import InvalidHeaderDefect
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from digest.errors import UsageError
from digest.netpolicy import parse_allowance
from digest.schedule import crontab_trigger

__all__ = [
    "Config",
    "DigestConfig",
    "FetchConfig",
    "ListConfig",
    "LogConfig",
    "ProviderConfig",
    "SendConfig",
    "SourceConfig",
    "SourceFilters",
    "StoreConfig",
    "SummarizerConfig",
    "WebConfig",
    "WebhooksConfig",
    "normalize_locale",
    "parse_window",
]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_WINDOW = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_WINDOW_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_window(text: str) -> timedelta:
    """Turn "7d", "36h", "2w" or "90m" into a timedelta."""
    match = _WINDOW.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90m, 36h, 7d or 2w")
    return timedelta(**{_WINDOW_UNITS[match.group(2)]: int(match.group(1))})


def normalize_locale(text: str) -> str:
    """A locale as babel names it ("de_CH", "pt_BR", "en"), from "de-ch", "de_CH" or "DE"."""
    value = text.strip()
    if not re.match(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$", value):
        raise ValueError(f"{text!r} is not a locale like en, de, fr_CA or pt-BR")
    # lazy: babel's locale data costs ~15 ms to import; only configs that name a locale pay it
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError):
        raise ValueError(f"unknown locale {text!r} (try en, de, fr, es, de_CH, en_US...)") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class StoreConfig(_Strict):
    """Where every result of every stage is kept."""

    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default sqlite under the data directory. "
        "PostgreSQL: postgresql+psycopg://user@host/dbname",
    )


def _env_name(value: str | None) -> str | None:
    if value is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


class WebhooksConfig(_Strict):
    """Where each provider's webhook secret lives (environment variables, never the file)."""

    tolerance: int = Field(
        default=300,
        ge=10,
        le=86_400,
        description="seconds a signed timestamp may be off (SendGrid, Mailgun, Resend/Svix)",
    )
    postmark_username_env: str | None = Field(
        default=None, description="env var with the HTTP basic-auth user Postmark calls with"
    )
    postmark_password_env: str | None = Field(
        default=None, description="env var with the HTTP basic-auth password Postmark calls with"
    )
    sendgrid_public_key_env: str | None = Field(
        default=None,
        description="env var with SendGrid's signed-event-webhook public key (base64 or PEM)",
    )
    mailgun_signing_key_env: str | None = Field(
        default=None, description="env var with Mailgun's webhook signing key"
    )
    resend_secret_env: str | None = Field(
        default=None, description="env var with Resend's webhook secret (whsec_...)"
    )
    sns_topic_arns: list[str] = Field(
        default_factory=list,
        description="SNS topics (SES feedback) accepted; the SES endpoint is off while empty",
    )
    sns_certificate_hosts: list[str] = Field(
        default_factory=lambda: ["sns.*.amazonaws.com", "sns.*.amazonaws.com.cn"],
        description="hosts SNS signing certificates may come from (https only; * is one label)",
    )
    sns_max_age: int = Field(
        default=3600, ge=60, le=7 * 86_400, description="seconds an SNS message stays acceptable"
    )
    sns_ca_bundle: str | None = Field(
        default=None,
        description="CA file trusted when fetching SNS certificates (default: the system's)",
    )

    @field_validator(
        "postmark_username_env",
        "postmark_password_env",
        "sendgrid_public_key_env",
        "mailgun_signing_key_env",
        "resend_secret_env",
    )
    @classmethod
    def _env_names(cls, value: str | None) -> str | None:
        return _env_name(value)

    @field_validator("sns_topic_arns")
    @classmethod
    def _arns(cls, value: list[str]) -> list[str]:
        for arn in value:
            if not re.match(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$", arn):
                raise ValueError(f"{arn!r} is not an SNS topic ARN")
        return value

    @field_validator("sns_certificate_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for host in value:
            if not re.match(r"^[A-Za-z0-9*.-]+(:\d+)?$", host):
                raise ValueError(f"{host!r} is not a host name pattern")
        return [host.lower() for host in value]


class WebConfig(_Strict):
    """The web app: sign-up, one-click unsubscribe, the web view of issues, webhooks."""

    base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="public base URL that links in messages (unsubscribe, web view) are built on",
    )
    secret_env: str = Field(
        default="DIGEST_SECRET_KEY",
        description="environment variable holding the key that signs links (at least 32 bytes); "
        "if unset, a random key is kept in <home>/secret.key",
    )
    unsubscribe_mailto: str | None = Field(
        default=None, description="address for mailto: List-Unsubscribe, if any"
    )
    signup_rate: float = Field(
        default=6.0,
        gt=0,
        description="sign-ups (POST /subscribe) allowed per minute from one client address",
    )
    signup_burst: int = Field(
        default=5, ge=1, le=1000, description="sign-ups one client may make at once"
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        description="largest request body accepted (webhooks, forms); larger gets 413",
    )
    max_upload_bytes: int = Field(
        default=200 * 1_048_576,
        ge=1024,
        le=4096 * 1_048_576,
        description="largest CSV file an operator may upload to import from the desk",
    )
    signup_confirm_every: str = Field(
        default="1h",
        description="at most one confirmation message per address in this time (90m, 1h, 1d...), "
        "whoever asks; a sign-up over the limit gets the same answer and nothing is sent",
    )
    signup_confirm_per_day: int = Field(
        default=3,
        ge=1,
        le=100,
        description="at most this many confirmation messages per address in 24 hours",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or CIDR blocks of your reverse proxies; a request from one of "
        "them is taken to come from the right-most X-Forwarded-For hop not in this list. "
        "Empty: X-Forwarded-For is ignored",
    )
    webhooks: WebhooksConfig = Field(
        default_factory=lambda: WebhooksConfig(),
        description="provider feedback endpoints; each is enabled when its secret is configured",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://news.example.org")
        return value.rstrip("/")

    @field_validator("signup_confirm_every")
    @classmethod
    def _confirm_every(cls, value: str) -> str:
        if parse_window(value) <= timedelta(0):
            raise ValueError("must be longer than nothing, like 1h")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or CIDR block") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _trust_forwarded_for(cls, data: object) -> object:
        """`trust_forwarded_for = true` believed any sender's X-Forwarded-For; the proxies are
        named now. `false` (what the default was) is still read."""
        if not isinstance(data, dict) or "trust_forwarded_for" not in data:
            return data
        if data["trust_forwarded_for"] is not False:
            raise ValueError(
                "trust_forwarded_for is replaced by trusted_proxies: list your proxies' "
                'addresses, like trusted_proxies = ["127.0.0.1"]'
            )
        return {k: v for k, v in data.items() if k != "trust_forwarded_for"}


def _one_mailbox(value: str) -> str:
    """A From or Reply-To setting: exactly one address, as the email package reads it.

    An unquoted ":" or "," in the name ("News: Weekly <news@example.org>") makes a group or a
    list, which parseaddr would quietly cut down to part of the name.
    """
    header = email.policy.default.header_factory("From", value)
    addresses = header.addresses
    one = len(header.groups) == 1 and header.groups[0].display_name is None
    if not one or len(addresses) != 1:
        raise ValueError(
            f"{value!r} is not one address like 'Name <news@example.org>' (quote a name "
            'holding ":" or ",": \'"News: Weekly" <news@example.org>\')'
        )
    invalid = any(isinstance(d, InvalidHeaderDefect) for d in header.defects)
    if invalid or not (addresses[0].username and addresses[0].domain):
        raise ValueError(f"{value!r} is not an address like 'Name <news@example.org>'")
    return value


ProviderKind = Literal["outbox", "postmark", "sendgrid", "mailgun", "resend", "ses", "smtp"]


class ProviderConfig(_Strict):
    """An email provider a digest sends through; secrets are named, never written here."""

    kind: ProviderKind = Field(
        description="outbox writes .eml files; the others send through the provider's API or SMTP"
    )
    base_url: str | None = Field(
        default=None, description="HTTP providers: the API's root, to point it at a sandbox"
    )
    token_env: str | None = Field(
        default=None,
        description="postmark, sendgrid, mailgun, resend: env var holding the API token or key",
    )
    rate_limit: float | None = Field(
        default=None, gt=0, description="messages per second at most (default: no limit)"
    )
    message_stream: str = Field(
        default="broadcast", description="postmark: the message stream bulk mail goes to"
    )
    domain: str | None = Field(default=None, description="mailgun: the sending domain")
    region: str | None = Field(default=None, description="ses: the AWS region, e.g. eu-west-1")
    access_key_env: str | None = Field(
        default=None, description="ses: env var holding the AWS access key id"
    )
    secret_key_env: str | None = Field(
        default=None, description="ses: env var holding the AWS secret access key"
    )
    host: str | None = Field(default=None, description="smtp: the server's host name")
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="smtp: the server's port (default: 587 starttls, 465 tls, 25 none)",
    )
    username_env: str | None = Field(
        default=None, description="smtp: env var holding the user name, if the server asks"
    )
    password_env: str | None = Field(
        default=None, description="smtp: env var holding the password, if the server asks"
    )
    tls: Literal["starttls", "tls", "none"] | None = Field(
        default=None,
        description="smtp: starttls (the default; fails if the server does not offer it), "
        "tls (encrypted from the start, port 465) or none (a trusted local relay)",
    )
    security: Literal["starttls", "tls", "none"] | None = Field(
        default=None, description="smtp: the former name of `tls`, still accepted"
    )
    directory: str | None = Field(
        default=None, description="outbox: folder the .eml files go to (default: <home>/outbox)"
    )

    @model_validator(mode="after")
    def _required_per_kind(self) -> ProviderConfig:
        needs: dict[str, tuple[str, ...]] = {
            "postmark": ("token_env",),
            "sendgrid": ("token_env",),
            "resend": ("token_env",),
            "mailgun": ("token_env", "domain"),
            "ses": ("region", "access_key_env", "secret_key_env"),
            "smtp": ("host",),
        }
        missing = [key for key in needs.get(self.kind, ()) if getattr(self, key) is None]
        if missing:
            raise ValueError(f"a {self.kind} provider needs {', '.join(missing)}")
        if self.tls and self.security and self.tls != self.security:
            raise ValueError(
                f"tls = {self.tls!r} and security = {self.security!r} disagree; "
                "keep tls (security is its former name)"
            )
        return self

    @property
    def smtp_tls(self) -> Literal["starttls", "tls", "none"]:
        """How an SMTP connection is encrypted: `tls`, else its former name, else starttls."""
        return self.tls or self.security or "starttls"


class SourceFilters(_Strict):
    """Which of a source's items reach the digest (title, summary and categories are matched)."""

    include: list[str] = Field(
        default_factory=list,
        description="keep only items matching one of these keywords or /regular expressions/",
    )
    exclude: list[str] = Field(
        default_factory=list, description="drop items matching one of these (after include)"
    )


class SourceConfig(_Strict):
    """Where articles come from."""

    kind: Literal["feed", "page", "site", "folder", "opml"] = Field(
        description="feed: RSS, Atom or JSON Feed; page: one article page; site: a site's feed "
        "or, failing that, the articles its page links to; folder: local .html, .md, .txt "
        "files; opml: every feed of an OPML list (a reader's export), one feed per outline"
    )
    url: str | None = Field(
        default=None, description="feed, page, site, opml: the URL, or a local file's path"
    )
    path: str | None = Field(
        default=None, description="folder: the folder to read; opml: the OPML file"
    )
    title: str | None = Field(
        default=None, description="the source's name in the email (default: its key)"
    )
    max_items: int = Field(
        default=50, ge=1, le=10_000, description="newest items kept from one gathering"
    )
    fetch_full: bool = Field(
        default=True, description="fetch the article page for items that are only teasers"
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra HTTP headers sent with every request"
    )
    filters: SourceFilters = Field(
        default_factory=SourceFilters, description="keywords or patterns that keep or drop items"
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        le=300,
        description="seconds one fetch of this source may take, retries included "
        "(default 20; a site's discovery may take twice that)",
    )

    @model_validator(mode="after")
    def _location(self) -> SourceConfig:
        if self.kind == "folder" and not self.path:
            raise ValueError("a folder source needs path")
        if self.kind == "opml":
            if bool(self.path) == bool(self.url):
                raise ValueError("an opml source needs path or url (one of them)")
        elif self.kind != "folder" and not self.url:
            raise ValueError(f"a {self.kind} source needs url")
        return self


class ListConfig(_Strict):
    """A mailing list: who gets the digests that send to it, and how people join."""

    title: str = Field(description="the list's name as subscribers see it")
    subscribers: str | None = Field(
        default=None, description="CSV file of subscribers to import at every run (email,name,...)"
    )
    double_opt_in: bool = Field(
        default=True,
        description="web sign-ups get a confirmation link and stay pending until it is followed; "
        "false (single opt-in) makes anyone who types an address a member, and check warns",
    )
    signup: bool = Field(default=True, description="accept sign-ups through POST /subscribe")
    confirm_provider: str | None = Field(
        default=None,
        description="provider that sends confirmation messages (default: that of the first "
        "digest sending to this list)",
    )
    confirm_from: str | None = Field(
        default=None,
        description="From of confirmation messages (default: that of the first digest sending "
        "to this list)",
    )
    confirm_subject: str = Field(
        default="Please confirm your subscription",
        min_length=1,
        max_length=200,
        description="Subject of confirmation messages",
    )
    confirm_window: str = Field(
        default="3d", description="how long a confirmation link stays valid (90m, 36h, 3d...)"
    )

    @field_validator("confirm_window")
    @classmethod
    def _confirm_window(cls, value: str) -> str:
        parse_window(value)
        return value

    @field_validator("confirm_from")
    @classmethod
    def _confirm_from(cls, value: str | None) -> str | None:
        return None if value is None else _one_mailbox(value)


class DigestConfig(_Strict):
    """A newsletter: its sources, its list, its schedule and how each issue looks."""

    title: str = Field(description="the digest's name, at the top of every issue")
    # builtins.list: the `list` field below shadows the name inside this class
    sources: builtins.list[str] = Field(min_length=1, description="names of the sources it gathers")
    list: str = Field(description="name of the list it is sent to")
    provider: str = Field(description="name of the provider it is sent through")
    from_: str = Field(
        alias="from", description="the From address, like 'The Brief <news@example.org>'"
    )
    reply_to: str | None = Field(default=None, description="a Reply-To address, if any")
    schedule: str = Field(
        default="0 8 * * MON", description="when issues are built: cron, in the digest's timezone"
    )
    timezone: str = Field(default="UTC", description="IANA time zone of the schedule and dates")
    window: str = Field(
        default="7d", description="how recent a story must be to go in (90m, 36h, 7d, 2w)"
    )
    max_articles: int = Field(
        default=12, ge=1, le=200, description="stories shown in full at most; the rest are listed"
    )
    min_articles: int = Field(
        default=1, ge=1, description="fewer new stories than this: the issue is skipped"
    )
    summary_words: int = Field(
        default=60, ge=5, le=500, description="word budget of each story's summary"
    )
    summarizer: Literal["lead", "llm"] = Field(
        default="lead",
        description="lead: each story's lead, cut to summary_words; llm: a model's summary "
        "([summarizer]), the lead where the model fails or names what the article does not",
    )
    template: str | None = Field(
        default=None, description="folder of templates that extend the built-in base.html"
    )
    subject: str = Field(
        default="{{ title }}, {{ date }}: {{ first_headline }}",
        description="Subject, a Jinja template (title, date, first_headline, count)",
    )
    postal_address: str = Field(
        default="", description="postal address in the footer (bulk-sender rules ask for one)"
    )
    locale: str = Field(
        default="en",
        description="language (and region) of the issue: its words (en, de, fr, es shipped; "
        "others in English), its dates and <html lang>, e.g. de, fr_CA, en_US",
    )
    language: str | None = Field(
        default=None, description="the old name of locale, still read (set locale instead)"
    )
    size_budget: int = Field(
        default=100_000,
        ge=10_000,
        description="bytes of HTML an issue may take (Gmail clips at 102 KB); over it, images "
        "go, then summaries shorten, then stories move to the list",
    )
    images: Literal["none", "thumbnail", "lead"] = Field(
        default="lead",
        description="each article's picture in the email: none; thumbnail (small, beside the "
        "title); lead (the column's width, above the title)",
    )
    approval: bool = Field(
        default=False, description="each issue waits as a draft until an editor approves it"
    )
    archive: bool = Field(
        default=True,
        description="sent issues have a public web edition, an index at /archive/NAME/ and an "
        "Atom feed; the email's 'view in your browser' link goes there",
    )
    grace: str = Field(
        default="1h",
        description="how late a missed firing may still be sent when the service starts "
        "(90m, 6h, 2d); older missed periods are logged and skipped",
    )
    approval_deadline: str | None = Field(
        default=None,
        description="with approval: how long a draft waits for an editor after it was built "
        "(e.g. 4h); then on_deadline decides",
    )
    on_deadline: Literal["send", "drop"] = Field(
        default="send",
        description="what happens to a draft nobody approved by approval_deadline: "
        "send it as it is, or drop it",
    )
    local_hour: int | None = Field(
        default=None,
        ge=0,
        le=23,
        description="deliver at this hour in each subscriber's own time zone (their `timezone` "
        "attribute, else the digest's); unset: deliver as soon as the issue is frozen",
    )

    @model_validator(mode="before")
    @classmethod
    def _language_is_locale(cls, data: object) -> object:
        """`language` was the first name of `locale`: alone it sets the locale; both must agree."""
        if not isinstance(data, dict) or data.get("language") is None:
            return data
        if data.get("locale") is None:
            return {**data, "locale": data["language"]}
        try:
            same = normalize_locale(str(data["locale"])) == normalize_locale(str(data["language"]))
        except ValueError:
            return data  # the locale's own validator says what is wrong
        if not same:
            raise ValueError(
                f"language {data['language']!r} and locale {data['locale']!r} disagree: "
                "language is the old name of locale, so set locale only"
            )
        return data

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        return "en" if value == "en" else normalize_locale(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return None if value is None else normalize_locale(value)

    @field_validator("grace", "approval_deadline")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_window(value)
        return value

    @model_validator(mode="after")
    def _deadline_needs_approval(self) -> DigestConfig:
        if self.approval_deadline is not None and not self.approval:
            raise ValueError("approval_deadline is set but approval is false")
        return self

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            crontab_trigger(value, ZoneInfo("UTC"))  # read as the scheduler will read it
        except ValueError as exc:
            raise ValueError(f"bad cron expression {value!r}: {exc}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_window(value)
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        return _one_mailbox(value)

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        return None if value is None else _one_mailbox(value)

    @property
    def window_delta(self) -> timedelta:
        return parse_window(self.window)

    @property
    def grace_delta(self) -> timedelta:
        return parse_window(self.grace)

    @property
    def approval_deadline_delta(self) -> timedelta | None:
        return None if self.approval_deadline is None else parse_window(self.approval_deadline)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def html_lang(self) -> str:
        """The locale as <html lang> wants it (BCP 47): de_CH -> de-CH."""
        return self.locale.replace("_", "-")


class SummarizerConfig(_Strict):
    """The model that writes summaries for digests with summarizer = "llm": any server that
    speaks OpenAI's chat completions (llama.cpp's llama-server, vLLM, Ollama, a hosted API)."""

    base_url: str | None = Field(
        default=None,
        description="the API's root, e.g. http://127.0.0.1:8080/v1 (llama.cpp), "
        "http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8000/v1 (vLLM)",
    )
    model: str | None = Field(default=None, description="the model's name as the server knows it")
    api_key_env: str | None = Field(
        default=None,
        description="env var holding the API key, sent as a bearer token (local servers need none)",
    )
    words: int | None = Field(
        default=None,
        ge=5,
        le=500,
        description="word budget of a model's summary (default: the digest's summary_words)",
    )
    concurrency: int = Field(
        default=4, ge=1, le=64, description="requests to the server in flight at once"
    )
    timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="seconds one article's summary may take, retries included; then its lead "
        "is used",
    )
    retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="retries of a request answered 429 or 5xx, timed out or cut off "
        "(Retry-After honoured)",
    )

    @field_validator("api_key_env")
    @classmethod
    def _env_names(cls, value: str | None) -> str | None:
        return _env_name(value)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8080/v1")
        return None if value is None else value.rstrip("/")


class SendConfig(_Strict):
    """How the delivery ledger is worked: leases, batches, concurrency."""

    lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="how long a claimed batch is a sender's; after that another sender takes it "
        "over (a sender that died leaves its batch to be taken over when the lease ends)",
    )
    concurrency: int = Field(default=3, ge=1, le=32, description="batches in flight at once")
    batch_size: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="messages claimed and sent together (never more than the provider takes); "
        "with 60 KB issues, 100 keeps each request near 6 MB",
    )
    reconcile_after: float | None = Field(
        default=None,
        ge=0,
        description="seconds after an attempt whose answer was lost (or whose sender died) "
        "before Digest asks the provider whether it has the message, for providers it can ask "
        "(default: the provider's own: postmark 60, mailgun 1800, whose events may take half an "
        "hour to be searchable)",
    )


class FetchConfig(_Strict):
    """How gathering uses the network: every source shares one client within these limits."""

    max_connections: int = Field(
        default=64,
        ge=1,
        le=512,
        description="requests in flight at once over all hosts (a slow host holds one slot "
        "for up to its timeout, so many slow feeds need room here)",
    )
    per_host: int = Field(
        default=4, ge=1, le=32, description="requests in flight at once to one host (politeness)"
    )
    timeout: float = Field(
        default=20.0,
        gt=0,
        le=300,
        description="seconds one fetch may take, retries included, unless the source says",
    )
    user_agent: str | None = Field(
        default=None, description="User-Agent header (default: Digest's own, with its URL)"
    )
    allow_private: list[str] = Field(
        default_factory=list,
        description="hosts, addresses or CIDR blocks on a private network (loopback, 10/8, "
        "169.254/16...) that fetches may reach; the hosts of source URLs always may",
    )

    @field_validator("allow_private")
    @classmethod
    def _hosts_or_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            parse_allowance(entry)  # ValueError: neither a host name nor a CIDR block
        return value


class LogConfig(_Strict):
    """How the service and the commands log."""

    format: Literal["text", "json"] = Field(
        default="text",
        description="text lines, or one JSON object per line (with digest, issue and source "
        "fields) for a log collector; --log-format overrides it",
    )


Name = Annotated[str, Field(pattern=_NAME)]


def _hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # "http://[oops": the fetch will say what is wrong with it
        return None


class Config(_Strict):
    """The whole configuration file."""

    home: str | None = Field(
        default=None,
        description="the data directory (the SQLite store, the outbox, the signing key, caches), "
        "relative to this file; --home and $DIGEST_HOME come first; unset: a folder named var "
        "beside this file",
    )
    store: StoreConfig = Field(default_factory=StoreConfig, description="the store")
    web: WebConfig = Field(default_factory=WebConfig, description="the web app")
    send: SendConfig = Field(default_factory=SendConfig, description="delivery")
    fetch: FetchConfig = Field(default_factory=FetchConfig, description="gathering's network use")
    log: LogConfig = Field(default_factory=LogConfig, description="logging")
    summarizer: SummarizerConfig = Field(
        default_factory=SummarizerConfig,
        description='the model that writes summaries for digests with summarizer = "llm"',
    )
    providers: dict[Name, ProviderConfig] = Field(
        default_factory=dict, description="email providers, by name"
    )
    sources: dict[Name, SourceConfig] = Field(
        default_factory=dict, description="sources of articles, by name"
    )
    lists: dict[Name, ListConfig] = Field(default_factory=dict, description="lists, by name")
    digests: dict[Name, DigestConfig] = Field(default_factory=dict, description="digests, by name")

    # Where the file was read from; relative paths in it are relative to its folder.
    path: Path = Field(default=Path("."), exclude=True)

    def resolve(self, location: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        candidate = Path(location).expanduser()
        return candidate if candidate.is_absolute() else self.path.parent / candidate

    def source_hosts(self) -> list[str]:
        """The hosts of the sources' URLs: the operator named them, so fetches may reach them
        even on a private network."""
        hosts = (_hostname(s.url) for s in self.sources.values() if s.url)
        return sorted({host for host in hosts if host})

    def digest(self, name: str) -> DigestConfig:
        try:
            return self.digests[name]
        except KeyError:
            known = ", ".join(sorted(self.digests)) or "none"
            raise UsageError(f"no digest named {name!r} in {self.path} (known: {known})") from None
