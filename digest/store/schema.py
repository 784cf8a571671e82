"""The tables, as SQLAlchemy Core metadata. Alembic migrations create and change them.

An issue's life is one row in `issues`; its deliveries are the ledger, one row per (issue,
subscriber); a membership says whether one subscriber gets one list. What each of their
`status` values means is written once, in `digest.models` (`IssueStatus`, `DeliveryStatus`,
`MembershipStatus`). A `draft` issue holds its rendered HTML and text and can be previewed and
edited; `frozen` is the point after which nothing about the issue changes but its deliveries.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer(), "sqlite")


def _ts(name: str, nullable: bool = True) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


lists = Table(
    "lists",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("title", String(500), nullable=False, default=""),
    _ts("created_at", nullable=False),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # normalized
    Column("name", String(500), nullable=False, default=""),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("timezone", String(64)),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
)

# One subscriber on one list, with a MembershipStatus. `origin` says where they came from
# (import:file.csv, web, cli...).
memberships = Table(
    "memberships",
    metadata,
    Column("id", Id, primary_key=True),
    Column("list_id", Id, ForeignKey("lists.id", ondelete="CASCADE"), nullable=False),
    Column("subscriber_id", Id, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(20), nullable=False),  # a MembershipStatus
    Column("origin", String(200), nullable=False, default=""),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    # Why the status last changed ("one-click unsubscribe", "hard bounce (postmark)", "cli"...),
    # and the proof of consent for double opt-in: when it was confirmed and from which address.
    Column("status_reason", Text),
    _ts("confirmed_at"),
    Column("consent_ip", String(64)),
    # The subscriber paused the list until then: no issue frozen (or sent) before it is theirs.
    # The status stays `active`; a pause that has ended is just a past moment.
    _ts("paused_until"),
    UniqueConstraint("list_id", "subscriber_id", name="uq_memberships_list_subscriber"),
    Index("ix_memberships_list_status", "list_id", "status"),
)

# Addresses nobody may send to, whatever the list (hard bounces, complaints, manual).
suppressions = Table(
    "suppressions",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("reason", String(50), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    _ts("created_at", nullable=False),
)

# Articles seen in sources, keyed by (source, item key); `url_key` is the canonical link with
# tracking parameters removed, used to recognize one story carried by several feeds.
articles = Table(
    "articles",
    metadata,
    Column("id", Id, primary_key=True),
    Column("source", String(200), nullable=False),
    Column("key", String(1000), nullable=False),
    Column("url", Text),
    Column("url_key", String(1000)),
    Column("title", Text, nullable=False),
    Column("lead", Text, nullable=False, default=""),
    Column("author", Text),
    Column("image", Text),
    Column("language", String(20)),
    Column("words", Integer, nullable=False, default=0),
    _ts("published"),
    _ts("first_seen", nullable=False),
    Column("content_hash", String(64), nullable=False, default=""),
    UniqueConstraint("source", "key", name="uq_articles_source_key"),
    Index("ix_articles_url_key", "url_key"),
)

issues = Table(
    "issues",
    metadata,
    Column("id", Id, primary_key=True),
    Column("digest", String(200), nullable=False),
    Column("period", String(100), nullable=False),  # claim key: one issue per (digest, period)
    Column("status", String(20), nullable=False),  # an IssueStatus
    Column("subject", Text, nullable=False, default=""),
    Column("html", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("content", JSON, nullable=False, default=dict),  # articles, more stories, settings
    Column("report", JSON, nullable=False, default=dict),  # failed sources, warnings, reasons
    Column("claimed_by", String(200), nullable=False, default=""),
    _ts("created_at", nullable=False),
    _ts("built_at"),
    _ts("approved_at"),
    _ts("frozen_at"),
    _ts("completed_at"),
    UniqueConstraint("digest", "period", name="uq_issues_digest_period"),
    Index("ix_issues_status", "status"),
)

# Which articles a digest has sent, so none is ever sent twice in that digest.
sent_articles = Table(
    "sent_articles",
    metadata,
    Column("id", Id, primary_key=True),
    Column("digest", String(200), nullable=False),
    Column("article_key", String(1000), nullable=False),  # url_key, else source:key
    Column("issue_id", Id, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("digest", "article_key", name="uq_sent_articles_digest_key"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("issue_id", Id, ForeignKey("issues.id", ondelete="CASCADE"), nullable=False),
    Column("subscriber_id", Id, ForeignKey("subscribers.id"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("status", String(20), nullable=False),  # a DeliveryStatus
    Column("attempts", Integer, nullable=False, default=0),
    _ts("next_attempt_at"),
    _ts("not_before"),  # pending until then: delivery at a local hour in the subscriber's zone
    _ts("lease_until"),
    Column("lease_owner", String(200)),
    Column("provider_message_id", String(500)),
    Column("error", Text),
    _ts("updated_at", nullable=False),
    # Set when the last attempt's answer was lost (timeout, dropped connection, 5xx), so the
    # provider may have accepted it (a lease that expired means the same, from its claim time):
    # the delivery is looked for at the provider before it is sent again, where it can be asked.
    _ts("in_doubt_since"),
    UniqueConstraint("issue_id", "subscriber_id", name="uq_deliveries_issue_subscriber"),
    Index("ix_deliveries_issue_status", "issue_id", "status"),
    Index("ix_deliveries_subscriber_id", "subscriber_id"),  # a subscriber's last deliveries
)

# Conditional GET: the validators last seen for each URL.
fetch_cache = Table(
    "fetch_cache",
    metadata,
    Column("url", String(2000), primary_key=True),
    Column("etag", String(500)),
    Column("last_modified", String(100)),
    Column("content_hash", String(64)),
    _ts("fetched_at", nullable=False),
)

source_health = Table(
    "source_health",
    metadata,
    Column("source", String(200), primary_key=True),
    _ts("last_success"),
    _ts("last_attempt"),
    Column("last_error", Text),
    _ts("last_error_at"),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("items_seen", Integer, nullable=False, default=0),
    _ts("last_new_item"),
    Column("last_items", Integer),  # items its last successful fetch returned
)

# Everything providers and subscribers told us from outside: webhooks, unsubscribes, opt-ins.
events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("provider", String(50), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("email", String(320)),
    Column("payload", JSON, nullable=False, default=dict),
    _ts("received_at", nullable=False),
    Index("ix_events_email", "email"),
)

# Confirmation messages sent to each address lately: the sign-up limit per address (one an
# hour, a few a day, whoever asks) holds across processes and restarts. Rows older than the
# longest window are pruned as new ones are written, so it holds about a day of sign-ups.
confirmation_sends = Table(
    "confirmation_sends",
    metadata,
    Column("id", Id, primary_key=True),
    Column("email", String(320), nullable=False),  # normalized, as in subscribers
    _ts("sent_at", nullable=False),
    Index("ix_confirmation_sends_email", "email"),
    Index("ix_confirmation_sends_sent_at", "sent_at"),
)

# What each source yielded last time, so an unchanged source (a 304, or the same bytes again)
# gives the same items without being parsed. `url` is what was fetched (a site's discovered
# feed); `fingerprint` covers the settings that shape parsing, so changing them re-parses.
# `items` is the zlib-compressed JSON of the items.
source_cache = Table(
    "source_cache",
    metadata,
    Column("source", String(200), primary_key=True),
    Column("url", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("etag", String(500)),
    Column("last_modified", String(100)),
    Column("content_hash", String(64)),
    Column("items", LargeBinary, nullable=False),
    Column("item_count", Integer, nullable=False, default=0),
    _ts("fetched_at", nullable=False),
)

# Webhook deliveries already seen (Mailgun tokens, Svix ids, SNS message ids, event ids): a replay
# is recognized even across processes. Old rows are pruned; stale timestamps are refused anyway.
webhook_receipts = Table(
    "webhook_receipts",
    metadata,
    Column("provider", String(50), primary_key=True),
    Column("key", String(300), primary_key=True),
    _ts("received_at", nullable=False),
    Index("ix_webhook_receipts_received_at", "received_at"),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),  # digest.models.Role
    Column("password_hash", String(500), nullable=False),  # Argon2 (pwdlib)
    _ts("created_at", nullable=False),
    _ts("password_changed_at", nullable=False),  # sessions older than this are refused
)

# Who did what, from the desk or the command line: adding, unsubscribing, resubscribing,
# importing, exporting. Kept when the subscriber is deleted (email and id are copied, no key).
audit = Table(
    "audit",
    metadata,
    Column("id", Id, primary_key=True),
    _ts("at", nullable=False),
    Column("actor", String(200), nullable=False),  # "desk:ada", "cli:root"
    Column("action", String(50), nullable=False),  # "subscribe", "unsubscribe", "import"...
    Column("subscriber_id", Id),
    Column("email", String(320)),
    Column("list_id", Id),
    Column("detail", JSON, nullable=False, default=dict),  # reason, file, counts...
    Index("ix_audit_subscriber_id", "subscriber_id"),
    Index("ix_audit_at", "at"),
)

# A model's answers, one per (article, prompt): `key` is a hash of the story's identity and of
# everything sent to the model (server, model, instructions, text), so a second build of the
# same issue asks nothing, and a changed lead, model or prompt asks again. The answer is kept
# as the model gave it; the faithfulness check runs again on every use.
summaries = Table(
    "summaries",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("article", String(2000), nullable=False),  # the story's dedupe key, for people
    Column("model", String(200), nullable=False),
    Column("answer", Text, nullable=False),
    _ts("created_at", nullable=False),
)
