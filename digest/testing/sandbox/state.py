"""The sandbox's state: the limits it enforces, the faults it injects, what it accepted."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from starlette.responses import Response

from digest.testing.sandbox.answers import resend_error

PROVIDERS = ("postmark", "sendgrid", "mailgun", "resend", "ses")
ONE_CLICK = "List-Unsubscribe=One-Click"
MB = 1024 * 1024


@dataclass
class SandboxConfig:
    """Every credential and limit the sandbox enforces, in one place (providers.md §3, §8).

    Values marked unconfirmed in providers.md are ordinary fields: change them per test.
    """

    # Credentials the sandbox accepts.
    postmark_tokens: frozenset[str] = frozenset({"pm-sandbox-token"})
    postmark_test_token: str = "POSTMARK_API_TEST"  # validates, records nothing
    sendgrid_keys: frozenset[str] = frozenset({"SG.sandbox-key"})
    mailgun_keys: frozenset[str] = frozenset({"mg-sandbox-key"})
    mailgun_domains: frozenset[str] = frozenset({"mg.example.com"})
    mailgun_auth_status: int = 401  # docs say 403, 401 "Forbidden" is observed: unconfirmed
    resend_keys: frozenset[str] = frozenset({"re_sandbox_key"})
    resend_invalid_key_status: int = 403  # newer docs: 401 validation_error
    ses_credentials: Mapping[str, str] = field(
        default_factory=lambda: {"AKIDSANDBOXEXAMPLE": "sandbox/secret/EXAMPLEKEY"}
    )
    ses_max_clock_skew: float = 300.0  # seconds between X-Amz-Date and now

    # Postmark
    postmark_batch_max: int = 500
    postmark_batch_bytes: int = 50 * MB
    postmark_message_bytes: int = 10 * MB
    postmark_body_bytes: int = 5 * MB  # TextBody and HtmlBody, each
    postmark_recipients_max: int = 50
    postmark_subject_required: bool = True  # unconfirmed
    # SendGrid
    sendgrid_personalizations_max: int = 1000
    sendgrid_recipients_max: int = 1000
    sendgrid_categories_max: int = 10
    sendgrid_category_chars: int = 255
    sendgrid_custom_args_bytes: int = 10_000
    sendgrid_body_bytes: int = 30 * MB  # partly unconfirmed
    sendgrid_reserved_headers: frozenset[str] = frozenset(
        {
            "x-sg-id",
            "x-sg-eid",
            "received",
            "dkim-signature",
            "content-type",
            "content-transfer-encoding",
            "to",
            "from",
            "subject",
            "reply-to",
            "cc",
            "bcc",
        }
    )
    # Mailgun
    mailgun_recipients_max: int = 1000
    mailgun_tags_max: int = 3
    mailgun_tag_chars: int = 128
    mailgun_message_bytes: int = 25 * MB
    # Resend
    resend_batch_max: int = 100
    resend_to_max: int = 50
    resend_tags_max: int = 75
    resend_message_bytes: int = 40 * MB
    resend_idempotency_key_max: int = 256
    resend_idempotency_ttl: float = 24 * 3600
    # SES v2
    ses_recipients_max: int = 50
    ses_headers_max: int = 15
    ses_header_name_chars: int = 126
    ses_header_value_chars: int = 995
    ses_message_bytes: int = 40 * MB
    ses_bulk_entries_max: int = 50  # partly unconfirmed
    # Rate-limit headers sent on every SendGrid and Resend answer.
    rate_limit: int = 600
    # Keep each accepted message's html and text (turn off for long benchmarks).
    keep_bodies: bool = True
    # Deliverability lint.
    html_clip_bytes: int = 102 * 1024  # Gmail clips larger HTML parts

    def public(self) -> dict[str, Any]:
        """JSON-friendly view (for `GET /_sandbox/config`)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out


@dataclass
class Fault:
    """One injected failure; see the module docstring for the shapes."""

    kind: Literal["status", "drop", "delay"] = "status"
    provider: str | None = None  # None: any provider
    status: int = 500
    retry_after: float | None = None  # seconds, sent as Retry-After (and Resend retry-after)
    rate_headers: bool = True  # the provider's own rate-limit headers on a 429
    reset_in: float = 1.0  # seconds until the rate-limit window resets
    delay: float = 0.0
    after: bool = False  # process (and record) the request first, then fail the answer
    on: Literal["send", "search"] = "send"  # which requests it hits: sends, or searches of sent
    times: int | None = None
    every: int | None = None
    on_request: int | None = None
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("status", "drop", "delay"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.provider is not None and self.provider not in PROVIDERS:
            raise ValueError(f"unknown provider {self.provider!r}")
        if self.on not in ("send", "search"):
            raise ValueError(f"a fault is on 'send' or 'search', not {self.on!r}")
        if self.times is None and self.every is None and self.on_request is None:
            self.times = 1

    def fires(self, provider: str, on: str = "send") -> bool:
        """Count this request if it matches; True if the fault applies to it."""
        if self.on != on or (self.provider is not None and self.provider != provider):
            return False
        self.seen += 1
        if self.on_request is not None:
            hit = self.seen == self.on_request
        elif self.every is not None:
            hit = self.seen % self.every == 0
        else:
            hit = self.times is not None and self.fired < self.times
        if hit:
            self.fired += 1
        return hit

    @property
    def exhausted(self) -> bool:
        if self.on_request is not None:
            return self.seen >= self.on_request
        if self.every is not None:
            return False
        return self.times is not None and self.fired >= self.times

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        allowed = {f.name for f in fields(cls)} - {"seen", "fired"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**data)


@dataclass(slots=True)
class AcceptedMessage:
    """One recipient's copy of an accepted message, as the provider would deliver it."""

    seq: int
    provider: str
    to: str  # the bare address
    from_addr: str
    subject: str
    html: str | None
    text: str | None
    headers: dict[str, str]
    message_id: str
    idempotency_key: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # delivery_id and friends
    stream: str = ""  # Postmark's message stream
    tags: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    received_at: float = 0.0

    def as_json(self, brief: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if brief:
            data.pop("html")
            data.pop("text")
        return data


class SandboxState:
    """What the sandbox accepted, its faults and counters; safe to use from any thread."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._messages: list[AcceptedMessage] = []
        self._faults: list[Fault] = []
        self._inactive: set[str] = set()
        self._invalid: set[str] = set()
        self._ses_bulk_status: dict[str, str] = {}
        self._idempotency: dict[str, tuple[float, bytes, int, bytes, dict[str, str]]] = {}
        self._in_flight: set[str] = set()
        self._stats: Counter[str] = Counter()
        self._seq = 0

    # Faults and per-address behaviour.

    def add_fault(self, fault: Fault | None = None, /, **spec: Any) -> Fault:
        """Add a fault (a `Fault` or its fields as keywords); returns it for inspection."""
        made = fault if fault is not None else Fault(**spec)
        with self._lock:
            self._faults.append(made)
        return made

    def fail_next(self, n: int, status: int = 500, **spec: Any) -> Fault:
        return self.add_fault(Fault(kind="status", status=status, times=n, **spec))

    def fail_every(self, k: int, status: int = 500, **spec: Any) -> Fault:
        return self.add_fault(Fault(kind="status", status=status, every=k, **spec))

    def drop_request(self, n: int = 1, **spec: Any) -> Fault:
        """Close the connection without answering on the nth request from now."""
        return self.add_fault(Fault(kind="drop", on_request=n, **spec))

    def slow_next(self, n: int, delay: float, **spec: Any) -> Fault:
        return self.add_fault(Fault(kind="delay", delay=delay, times=n, **spec))

    def set_inactive(self, *addresses: str) -> None:
        """Postmark answers 406 for these; other providers accept and warn (suppressed later)."""
        with self._lock:
            self._inactive.update(a.lower() for a in addresses)

    def set_invalid(self, *addresses: str) -> None:
        """Refused as invalid by every provider (Postmark 300, SES MessageRejected, ...)."""
        with self._lock:
            self._invalid.update(a.lower() for a in addresses)

    def set_ses_bulk_status(self, address: str, status: str) -> None:
        with self._lock:
            self._ses_bulk_status[address.lower()] = status

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._inactive.clear()
            self._invalid.clear()
            self._ses_bulk_status.clear()

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def next_fault(self, provider: str, on: str = "send") -> Fault | None:
        """The fault that applies to this request, if any (every matching fault counts it)."""
        with self._lock:
            if not self._faults:
                return None
            chosen = None
            for fault in self._faults:
                if fault.fires(provider, on) and chosen is None:
                    chosen = fault
            self._faults = [f for f in self._faults if not f.exhausted]
            if chosen is not None:
                self._stats["faults_fired"] += 1
            return chosen

    def is_inactive(self, address: str) -> bool:
        return bool(self._inactive) and address.lower() in self._inactive

    def is_invalid(self, address: str) -> bool:
        return bool(self._invalid) and address.lower() in self._invalid

    def ses_bulk_status(self, address: str) -> str:
        return self._ses_bulk_status.get(address.lower(), "SUCCESS")

    # Records.

    def record(self, accepted: list[AcceptedMessage]) -> None:
        now = time.time()
        with self._lock:
            for m in accepted:
                if not self.config.keep_bodies:  # long benchmarks: keep who got what, not bodies
                    m.html = m.text = None
                self._seq += 1
                m.seq = self._seq
                m.received_at = now
                self._stats[f"accepted.{m.provider}"] += 1
                if m.warnings:
                    self._stats["warnings"] += 1
            self._messages.extend(accepted)

    def messages(self, provider: str | None = None, to: str | None = None) -> list[AcceptedMessage]:
        with self._lock:
            found = list(self._messages)
        if provider:
            found = [m for m in found if m.provider == provider]
        if to:
            found = [m for m in found if m.to.lower() == to.lower()]
        return found

    def clear_messages(self) -> None:
        with self._lock:
            self._messages.clear()

    def reset(self) -> None:
        """Forget everything: messages, faults, idempotency keys, counters."""
        self.clear_faults()
        with self._lock:
            self._messages.clear()
            self._idempotency.clear()
            self._in_flight.clear()
            self._stats.clear()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._stats[key] += n

    def per_recipient(self) -> Counter[str]:
        """How many messages each address received (the crash test wants all ones)."""
        with self._lock:
            return Counter(m.to.lower() for m in self._messages)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counters = dict(self._stats)
            total = len(self._messages)
        per_recipient = self.per_recipient()
        twice = sorted(address for address, n in per_recipient.items() if n > 1)
        return {
            "counters": counters,
            "messages": total,
            "recipients": len(per_recipient),
            "duplicates": len(twice),
            "duplicate_recipients": twice[:100],
        }

    # Resend idempotency.

    def idempotency_begin(self, key: str, digest: bytes) -> Response | None:
        """Replay, refuse (409) or mark the key in flight (None: go ahead)."""
        now = time.time()
        with self._lock:
            stored = self._idempotency.get(key)
            if stored is not None and now - stored[0] > self.config.resend_idempotency_ttl:
                del self._idempotency[key]
                stored = None
            if stored is not None:
                if stored[1] != digest:
                    return resend_error(
                        409,
                        "invalid_idempotent_request",
                        "Same idempotency key used with a different request payload. "
                        "Change your idempotency key or payload.",
                    )
                self._stats["resend.replays"] += 1
                return Response(stored[3], stored[2], headers=stored[4])
            if key in self._in_flight:
                return resend_error(
                    409,
                    "concurrent_idempotent_requests",
                    "Same idempotency key used while original request is still in progress.",
                )
            self._in_flight.add(key)
            return None

    def idempotency_end(self, key: str, digest: bytes, response: Response | None) -> None:
        with self._lock:
            self._in_flight.discard(key)
            if response is not None and response.status_code == 200:
                headers = {
                    k: v for k, v in response.headers.items() if k.lower() != "content-length"
                }
                self._idempotency[key] = (
                    time.time(),
                    digest,
                    response.status_code,
                    bytes(response.body),
                    headers,
                )
