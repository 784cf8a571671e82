"""Typed configuration, read from one TOML file and validated where it enters.

Every problem is reported at once, each naming the file, the key path (for example
`digests.weekly.schedule`) and what is wrong. Unknown keys are errors, so a typo is never ignored.
Secrets never live here: providers name the environment variable that holds them.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from digest.errors import ConfigError, ConfigProblem

__all__ = [
    "Config",
    "DigestConfig",
    "ListConfig",
    "ProviderConfig",
    "SourceConfig",
    "find_config",
    "load_config",
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class StoreConfig(_Strict):
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
    base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="public base URL that links in messages (unsubscribe, web view) are built on",
    )
    secret_env: str = Field(
        default="DIGEST_SECRET_KEY",
        description="environment variable holding the key that signs links; if unset, a random "
        "key is kept in <home>/secret.key",
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
    trust_forwarded_for: bool = Field(
        default=False,
        description="take the client address from X-Forwarded-For (only behind a proxy you run)",
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


ProviderKind = Literal["outbox", "postmark", "sendgrid", "mailgun", "resend", "ses", "smtp"]


class ProviderConfig(_Strict):
    kind: ProviderKind
    base_url: str | None = Field(default=None, description="point an HTTP provider at a sandbox")
    token_env: str | None = Field(default=None, description="env var holding the API token/key")
    rate_limit: float | None = Field(default=None, gt=0, description="messages per second")
    message_stream: str = "broadcast"  # postmark
    domain: str | None = None  # mailgun
    region: str | None = None  # ses
    access_key_env: str | None = None  # ses
    secret_key_env: str | None = None  # ses
    host: str | None = None  # smtp
    port: int | None = Field(default=None, ge=1, le=65535)  # smtp
    username_env: str | None = None  # smtp
    password_env: str | None = None  # smtp
    security: Literal["starttls", "tls", "none"] = "starttls"  # smtp
    directory: str | None = None  # outbox; default <home>/outbox

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
        return self


class SourceFilters(_Strict):
    include: list[str] = Field(default_factory=list, description="keywords or /regex/")
    exclude: list[str] = Field(default_factory=list)


class SourceConfig(_Strict):
    kind: Literal["feed", "page", "site", "folder"]
    url: str | None = Field(default=None, description="URL or local path (feed, page, site)")
    path: str | None = Field(default=None, description="folder to read (folder)")
    title: str | None = None
    max_items: int = Field(default=50, ge=1, le=10_000)
    fetch_full: bool = Field(default=True, description="fetch the article page for teaser items")
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra HTTP headers sent with every request"
    )
    filters: SourceFilters = Field(default_factory=SourceFilters)
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
        if self.kind != "folder" and not self.url:
            raise ValueError(f"a {self.kind} source needs url")
        return self


class ListConfig(_Strict):
    title: str
    subscribers: str | None = Field(
        default=None, description="CSV file of subscribers to import at every run (email,name,...)"
    )
    double_opt_in: bool = Field(
        default=False,
        description="web sign-ups get a confirmation link and stay pending until it is followed",
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
        default="Please confirm your subscription", min_length=1, max_length=200
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
        from email.utils import parseaddr

        if value is not None and "@" not in parseaddr(value)[1]:
            raise ValueError(f"{value!r} is not an address like 'Name <news@example.org>'")
        return value


class DigestConfig(_Strict):
    title: str
    sources: list[str] = Field(min_length=1)
    list: str
    provider: str
    from_: str = Field(alias="from")
    reply_to: str | None = None
    schedule: str = "0 8 * * MON"
    timezone: str = "UTC"
    window: str = "7d"
    max_articles: int = Field(default=12, ge=1, le=200)
    min_articles: int = Field(default=1, ge=1)
    summary_words: int = Field(default=60, ge=5, le=500)
    template: str | None = Field(default=None, description="folder of templates that extend base")
    subject: str = "{{ title }}, {{ date }}: {{ first_headline }}"
    postal_address: str = ""
    language: str = "en"
    size_budget: int = Field(default=100_000, ge=10_000)
    approval: bool = False
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
        from digest.schedule import crontab_trigger

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
        from email.utils import parseaddr

        if "@" not in parseaddr(value)[1]:
            raise ValueError(f"{value!r} is not an address like 'Name <news@example.org>'")
        return value

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


class SendConfig(_Strict):
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


Name = Annotated[str, Field(pattern=_NAME)]


class Config(_Strict):
    store: StoreConfig = Field(default_factory=StoreConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    send: SendConfig = Field(default_factory=SendConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    providers: dict[Name, ProviderConfig] = Field(default_factory=dict)
    sources: dict[Name, SourceConfig] = Field(default_factory=dict)
    lists: dict[Name, ListConfig] = Field(default_factory=dict)
    digests: dict[Name, DigestConfig] = Field(default_factory=dict)

    # Where the file was read from; relative paths in it are relative to its folder.
    path: Path = Field(default=Path("."), exclude=True)

    def resolve(self, location: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        candidate = Path(location).expanduser()
        return candidate if candidate.is_absolute() else self.path.parent / candidate

    def digest(self, name: str) -> DigestConfig:
        from digest.errors import UsageError

        try:
            return self.digests[name]
        except KeyError:
            known = ", ".join(sorted(self.digests)) or "none"
            raise UsageError(f"no digest named {name!r} in {self.path} (known: {known})") from None


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config to read: --config, $DIGEST_CONFIG, config/digest.toml, else the example."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("DIGEST_CONFIG"):
        return Path(env)
    for candidate in (Path("config/digest.toml"), Path("config/example.toml")):
        if candidate.exists():
            return candidate
    return Path("config/digest.toml")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a configuration file; raise ConfigError listing every problem."""
    file = find_config(path)
    shown = str(file)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(shown, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(shown, "", f"cannot read: {exc}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([ConfigProblem(shown, "", f"not valid TOML: {exc}")]) from None

    if "path" in raw:
        raise ConfigError([ConfigProblem(shown, "path", "unknown key (check its spelling)")])
    try:
        config = Config.model_validate({**raw, "path": file})
    except ValidationError as exc:
        raise ConfigError([_problem(shown, err) for err in exc.errors()]) from None
    problems = _cross_check(config, shown)
    if problems:
        raise ConfigError(problems)
    return config


def _problem(file: str, error: Any) -> ConfigProblem:
    loc = [str(part) for part in error["loc"]]
    # pydantic puts the failing validator's kind at the end of model-level errors
    if loc and loc[-1] in {"function-after", "function-before"}:
        loc = loc[:-1]
    key = ".".join("from" if part == "from_" else part for part in loc)
    if error["type"] == "extra_forbidden":
        return ConfigProblem(file, key, "unknown key (check its spelling)")
    if error["type"] == "missing":
        return ConfigProblem(file, key, "required key is missing")
    message = str(error["msg"]).removeprefix("Value error, ")
    return ConfigProblem(file, key, message)


def _cross_check(config: Config, file: str) -> list[ConfigProblem]:
    """What a single key cannot know: references between tables, files and folders."""
    problems: list[ConfigProblem] = []
    for name, digest in config.digests.items():
        for index, source_name in enumerate(digest.sources):
            if source_name not in config.sources:
                problems.append(
                    ConfigProblem(
                        file,
                        f"digests.{name}.sources[{index}]",
                        f"no source named {source_name!r}",
                    )
                )
        if digest.list not in config.lists:
            problems.append(ConfigProblem(file, f"digests.{name}.list", f"no list {digest.list!r}"))
        if digest.provider not in config.providers:
            problems.append(
                ConfigProblem(
                    file, f"digests.{name}.provider", f"no provider named {digest.provider!r}"
                )
            )
        if digest.template and not config.resolve(digest.template).is_dir():
            problems.append(
                ConfigProblem(
                    file,
                    f"digests.{name}.template",
                    f"folder {config.resolve(digest.template)} does not exist",
                )
            )
    for name, source in config.sources.items():
        if source.kind == "folder" and source.path and not config.resolve(source.path).is_dir():
            problems.append(
                ConfigProblem(
                    file,
                    f"sources.{name}.path",
                    f"folder {config.resolve(source.path)} does not exist",
                )
            )
        if source.url and not re.match(r"^https?://", source.url):
            local = config.resolve(source.url.removeprefix("file://"))
            if not local.exists():
                problems.append(
                    ConfigProblem(file, f"sources.{name}.url", f"file {local} does not exist")
                )
        for which in ("include", "exclude"):
            for index, pattern in enumerate(getattr(source.filters, which)):
                if len(pattern) > 1 and pattern.startswith("/") and pattern.endswith("/"):
                    try:
                        re.compile(pattern[1:-1])
                    except re.error as exc:
                        problems.append(
                            ConfigProblem(
                                file,
                                f"sources.{name}.filters.{which}[{index}]",
                                f"bad regular expression: {exc}",
                            )
                        )
    for name, mailing_list in config.lists.items():
        if mailing_list.confirm_provider and mailing_list.confirm_provider not in config.providers:
            problems.append(
                ConfigProblem(
                    file,
                    f"lists.{name}.confirm_provider",
                    f"no provider named {mailing_list.confirm_provider!r}",
                )
            )
        elif mailing_list.double_opt_in and mailing_list.signup:
            senders = [d for d in config.digests.values() if d.list == name]
            if not mailing_list.confirm_provider and not senders:
                problems.append(
                    ConfigProblem(
                        file,
                        f"lists.{name}.confirm_provider",
                        "double opt-in needs a provider to send confirmations "
                        "(set it, or send a digest to this list)",
                    )
                )
            elif not mailing_list.confirm_from and not senders:
                problems.append(
                    ConfigProblem(
                        file, f"lists.{name}.confirm_from", "double opt-in needs a From address"
                    )
                )
        if mailing_list.subscribers and not config.resolve(mailing_list.subscribers).is_file():
            problems.append(
                ConfigProblem(
                    file,
                    f"lists.{name}.subscribers",
                    f"file {config.resolve(mailing_list.subscribers)} does not exist",
                )
            )
    return problems
