"""Plain records that flow between the pipeline stages.

They carry data only; the stages that make and consume them live in their own modules
(sources -> extract -> summarize -> compose -> render -> send).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formataddr
from enum import StrEnum
from typing import Any, ClassVar


@dataclass(slots=True)  # tens of thousands live at once in a large gather
class ExtractedArticle:
    """What extraction finds in one document (HTML page, text/Markdown file, feed item body).

    `lead` is the first real paragraph of the article body, as plain text; everything that is
    not the article (navigation, bylines, captions, ads...) is left out. Unknown fields are None.
    """

    url: str | None = None
    title: str | None = None
    lead: str | None = None
    author: str | None = None
    published: datetime | None = None  # timezone-aware, UTC
    image: str | None = None
    language: str | None = None
    words: int = 0  # words in the main text
    text: str | None = None  # the main text, plain, paragraphs separated by blank lines


@dataclass(frozen=True, slots=True)
class Enclosure:
    """A file an item carries: a podcast episode, a video, an image (RSS enclosure, Atom
    rel="enclosure" link, media:content, JSON Feed attachment)."""

    url: str
    type: str | None = None
    length: int | None = None


@dataclass(slots=True)  # tens of thousands live at once in a large gather
class SourceItem:
    """One item a source yielded, before extraction: a feed entry, a page, a local file."""

    source: str  # the source's configured name
    key: str  # stable identity: guid/id, else canonical link, else a hash of title and date
    url: str | None
    title: str | None
    published: datetime | None  # UTC; None when the source gave none
    content_html: str | None = None  # feed item body, already sanitized
    raw: bytes | None = None  # a fetched page or a local file, for extraction
    content_type: str | None = None  # "text/html", "text/markdown", "text/plain"
    author: str | None = None
    categories: tuple[str, ...] = ()
    fetch_full: bool = False  # the source allows fetching the linked page for teasers
    filename: str | None = None  # a local file's name, which tells its format
    image: str | None = None  # the item's own picture, absolute http(s)
    image_size: tuple[int, int] | None = None  # (width, height) when the source says
    enclosures: tuple[Enclosure, ...] = ()


@dataclass(slots=True)  # tens of thousands live at once in a large gather
class Article:
    """An article ready to be composed into an issue."""

    source: str
    key: str
    url: str | None
    title: str
    lead: str
    summary: str = ""
    published: datetime | None = None
    author: str | None = None
    image: str | None = None
    language: str | None = None
    words: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "published": self.published.isoformat() if self.published else None,
            "summary": self.summary,
        }


@dataclass
class Recipient:
    """One subscriber as one message needs them: the values substituted into the frozen issue."""

    delivery_id: int
    subscriber_id: int
    email: str
    name: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    unsubscribe_url: str = ""
    preferences_url: str = ""  # the subscriber's page: their lists, leave, pause
    web_url: str = ""


class OutgoingMessage:
    """One personalized message for one recipient, in the forms the transports need.

    HTTP providers take `subject`, `html`, `text` and `headers` as fields; SMTP, SES raw and
    the outbox take `mime`, the complete RFC 5322 message. `html_json` and `text_json`, when
    given, are the bodies already encoded as JSON string literals, for JSON APIs to splice in.

    The large forms may be given as zero-argument callables: each is built the first time a
    transport asks for it, so a JSON API never pays for the MIME form, nor SMTP for the JSON.
    """

    __slots__ = (
        "_html",
        "_html_json",
        "_mime",
        "_text",
        "_text_json",
        "delivery_id",
        "from_addr",
        "headers",
        "reply_to",
        "subject",
        "tag",
        "to_email",
        "to_name",
    )

    def __init__(
        self,
        *,
        delivery_id: int,
        to_email: str,
        to_name: str,
        from_addr: str,
        reply_to: str | None,
        subject: str,
        html: str | Callable[[], str],
        text: str | Callable[[], str],
        headers: dict[str, str],
        mime: bytes | Callable[[], bytes],
        tag: str | None = None,
        html_json: bytes | Callable[[], bytes] | None = None,
        text_json: bytes | Callable[[], bytes] | None = None,
    ) -> None:
        self.delivery_id = delivery_id
        self.to_email = to_email
        self.to_name = to_name
        self.from_addr = from_addr
        self.reply_to = reply_to
        self.subject = subject
        self.headers = headers  # List-Unsubscribe, List-Unsubscribe-Post, List-Id, Message-ID...
        self.tag = tag  # the digest name, for providers that tag messages
        self._html = html
        self._text = text
        self._mime = mime
        self._html_json = html_json
        self._text_json = text_json

    @property
    def html(self) -> str:
        if callable(self._html):
            self._html = self._html()
        return self._html

    @property
    def text(self) -> str:
        if callable(self._text):
            self._text = self._text()
        return self._text

    @property
    def mime(self) -> bytes:
        if callable(self._mime):
            self._mime = self._mime()
        return self._mime

    @property
    def html_json(self) -> bytes | None:
        """The HTML body as a JSON string literal (quotes included), if prepared.

        Not kept once made: a JSON transport reads it once into its request body, and keeping
        60 KB per message of a batch in flight would double the memory a batch needs.
        """
        return self._html_json() if callable(self._html_json) else self._html_json

    @property
    def text_json(self) -> bytes | None:
        """The text body as a JSON string literal, if prepared (not kept, like `html_json`)."""
        return self._text_json() if callable(self._text_json) else self._text_json

    @property
    def to_header(self) -> str:
        return formataddr((self.to_name, self.to_email)) if self.to_name else self.to_email

    def __repr__(self) -> str:
        return f"OutgoingMessage(delivery_id={self.delivery_id!r}, to={self.to_email!r})"


# -- statuses ---------------------------------------------------------------------------------
# The values are what the store keeps in its `status` columns; a StrEnum member equals its
# string, so rows read back compare equal to these without conversion.


class IssueStatus(StrEnum):
    """Where an issue is in its life; one row of `issues` per (digest, period).

        building -> draft [-> approved] -> frozen -> sending -> complete | partial
                \\-> skipped
                         \\-> dropped (not approved in time)
        missed: its firing could not claim the period before the grace window ended

    A draft can be previewed, edited and approved; once frozen, nothing about the issue changes
    but its deliveries.
    """

    BUILDING = "building"  # claimed for its period; its builder is gathering and rendering
    DRAFT = "draft"  # built and stored, waiting to be frozen (or for an editor's approval)
    APPROVED = "approved"  # an editor approved the draft; the next settling pass freezes it
    FROZEN = "frozen"  # content fixed and deliveries planned; nothing sent yet
    SENDING = "sending"  # its deliveries are being worked
    COMPLETE = "complete"  # every delivery is done and none failed
    PARTIAL = "partial"  # every delivery is done and some failed
    SKIPPED = "skipped"  # never sent: too few new articles, or its period's grace window passed
    FAILED = "failed"  # a run's verdict only: sending stopped (the issue itself stays `sending`)
    DROPPED = "dropped"  # a draft an editor dropped, or nobody approved before its deadline
    MISSED = "missed"  # never built: its firing could not claim the period in its grace window

    # Groups, set below the class (a value in the class body would become a member).
    EDITABLE: ClassVar[tuple[IssueStatus, ...]]  # may still be frozen
    UNFINISHED: ClassVar[tuple[IssueStatus, ...]]  # frozen, with deliveries still to work
    PUBLISHED: ClassVar[tuple[IssueStatus, ...]]  # went (or is going) out: the web view shows it
    ENDED: ClassVar[tuple[IssueStatus, ...]]  # nothing more happens to it (`completed_at` set)


IssueStatus.EDITABLE = (IssueStatus.DRAFT, IssueStatus.APPROVED)
IssueStatus.UNFINISHED = (IssueStatus.FROZEN, IssueStatus.SENDING)
IssueStatus.PUBLISHED = (*IssueStatus.UNFINISHED, IssueStatus.COMPLETE, IssueStatus.PARTIAL)
IssueStatus.ENDED = (
    IssueStatus.COMPLETE,
    IssueStatus.PARTIAL,
    IssueStatus.SKIPPED,
    IssueStatus.FAILED,
    IssueStatus.DROPPED,
    IssueStatus.MISSED,
)


class DeliveryStatus(StrEnum):
    """Where one delivery (one issue to one subscriber) is in the ledger.

        pending -> sending (leased) -> sent | failed | suppressed | retry (-> sending again)

    A due delivery whose member left the list or was suppressed since the freeze becomes
    `skipped` instead of being handed out. A delivery whose last answer was lost, or whose
    sender died holding it, is in doubt (`in_doubt_since`): the provider may have it. The words
    overlap with `IssueStatus` but not the meanings: a `failed` delivery is one recipient refused
    for good.
    """

    PENDING = "pending"  # planned; claimable once its not-before time (if any) has come
    SENDING = "sending"  # leased to a sender; taken over by another once the lease expires
    SENT = "sent"  # the provider accepted the message
    RETRY = "retry"  # a transient failure; claimable again at its next attempt time
    FAILED = "failed"  # refused for good for this recipient (or attempts ran out)
    SUPPRESSED = "suppressed"  # the provider says the address is inactive; it is suppressed
    SKIPPED = "skipped"  # not sent: the member left the list or was suppressed after freezing

    OPEN: ClassVar[tuple[DeliveryStatus, ...]]  # still to be worked
    DONE: ClassVar[tuple[DeliveryStatus, ...]]  # accounted for: never sent again


DeliveryStatus.OPEN = (DeliveryStatus.PENDING, DeliveryStatus.RETRY, DeliveryStatus.SENDING)
DeliveryStatus.DONE = (
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.SUPPRESSED,
    DeliveryStatus.SKIPPED,
)


class MembershipStatus(StrEnum):
    """Whether one subscriber gets one list.

    Someone who left (unsubscribed, bounced, complained) is never put back to `active` unless
    an operator or a confirmed request says so explicitly. Global suppression is separate: a
    suppressed address gets nothing, whatever its memberships say.
    """

    ACTIVE = "active"  # gets the list's issues
    PENDING = "pending"  # asked to join; waiting for the double opt-in confirmation
    UNSUBSCRIBED = "unsubscribed"  # left the list (link, provider, operator)
    BOUNCED = "bounced"  # the address bounced hard (it is suppressed too)
    COMPLAINED = "complained"  # marked a message as spam (the address is suppressed too)

    JOINED: ClassVar[tuple[MembershipStatus, ...]]  # on the list, or asking to be
    INACTIVE: ClassVar[tuple[MembershipStatus, ...]]  # left the list
    SUPPRESSING: ClassVar[tuple[MembershipStatus, ...]]  # leaving this way suppresses the address


MembershipStatus.JOINED = (MembershipStatus.ACTIVE, MembershipStatus.PENDING)
MembershipStatus.INACTIVE = (
    MembershipStatus.UNSUBSCRIBED,
    MembershipStatus.BOUNCED,
    MembershipStatus.COMPLAINED,
)
MembershipStatus.SUPPRESSING = (MembershipStatus.BOUNCED, MembershipStatus.COMPLAINED)


class Outcome(StrEnum):
    """What a provider said about one message (recorded as the delivery's `DeliveryStatus`)."""

    SENT = "sent"
    FAILED = "failed"  # permanent for this recipient
    RETRY = "retry"  # try this recipient again later
    SUPPRESSED = "suppressed"  # the provider says the address is inactive: never send again


@dataclass(frozen=True)
class SendResult:
    """What happened to one message of a batch."""

    delivery_id: int
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, for RETRY
    # For RETRY: the provider may have accepted it (the answer was lost), so it is reconciled
    # with the provider before being sent again, where the provider can be asked.
    maybe_sent: bool = False


class Role(StrEnum):
    """What a desk user may do. Editors see and act on drafts and issues; operators also
    manage lists, subscribers and sources (their pages come with the operators' console)."""

    EDITOR = "editor"
    OPERATOR = "operator"

    def allows(self, needed: Role) -> bool:
        """An operator may do all an editor may; an editor only an editor's work."""
        return self is Role.OPERATOR or needed is Role.EDITOR
