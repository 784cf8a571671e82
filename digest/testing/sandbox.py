"""A local stand-in for the email providers' HTTP APIs, faithful enough to test senders against.

It serves the Postmark, SendGrid, Mailgun, Resend and SES v2 send routes as
/work/shared/providers.md describes them: it checks credentials (SES: the SigV4 signature is
recomputed with botocore), required fields and limits, answers with each provider's success
and error bodies and headers, records every accepted message per recipient with deliverability
warnings, replays Resend answers for a repeated `Idempotency-Key`, and injects faults on demand.

Drive it in-process through `SandboxState` (see `add_fault`, `set_inactive`, `messages`) or over
HTTP from another process:

    POST   /_sandbox/faults     {"faults": [{"kind": "status", "status": 429, "times": 2}],
                                 "inactive": ["a@x.org"], "invalid": [...],
                                 "ses_bulk_status": {"b@x.org": "MESSAGE_REJECTED"}}
    GET    /_sandbox/faults     DELETE /_sandbox/faults   (clears faults and address lists)
    GET    /_sandbox/messages?provider=postmark&to=a@x.org&brief=1
    DELETE /_sandbox/messages   POST /_sandbox/reset      GET /_sandbox/stats   GET /_sandbox/config

Fault shapes: `times` (the next N matching requests), `every` (every Kth), `on_request` (only
the Nth), counted per fault from when it was added; `kind` is `status` (answer that status with
the provider's error body; 429 adds `Retry-After` when `retry_after` is set and the provider's
rate-limit headers when `rate_headers`), `drop` (close the connection without answering) or
`delay` (answer normally after `delay` seconds); any kind may wait `delay` first. With
`after: true` the request is processed and recorded first, then the fault hits the answer:
the "provider accepted it but we never heard back" case.

Run standalone: `python -m digest.testing.sandbox --port 8025`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import hmac
import itertools
import math
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, Literal

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "AcceptedMessage",
    "Fault",
    "RunningSandbox",
    "SandboxConfig",
    "SandboxState",
    "create_app",
    "run_sandbox",
]

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
        if self.times is None and self.every is None and self.on_request is None:
            self.times = 1

    def fires(self, provider: str) -> bool:
        """Count this request if it matches; True if the fault applies to it."""
        if self.provider is not None and self.provider != provider:
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

    def next_fault(self, provider: str) -> Fault | None:
        """The fault that applies to this request, if any (every matching fault counts it)."""
        with self._lock:
            if not self._faults:
                return None
            chosen = None
            for fault in self._faults:
                if fault.fires(provider) and chosen is None:
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
                    return _resend_error(
                        409,
                        "invalid_idempotent_request",
                        "Same idempotency key used with a different request payload. "
                        "Change your idempotency key or payload.",
                    )
                self._stats["resend.replays"] += 1
                return Response(stored[3], stored[2], headers=stored[4])
            if key in self._in_flight:
                return _resend_error(
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


# Shared checks.

_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+")
_NAME_ADDR = re.compile(r"\s*(?:\"?([^\"<]*?)\"?\s*)?<([^<>]+)>\s*")
_TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")
_SES_HEADER_NAME = re.compile(r"[!-9;-@A-~]+")


def _mailbox(value: Any) -> str | None:
    """The address in `a@b` or `Name <a@b>`, or None if it is not a valid mailbox."""
    if not isinstance(value, str):
        return None
    return _mailbox_of(value)


@functools.lru_cache(maxsize=8192)  # From repeats in every message of a batch
def _mailbox_of(value: str) -> str | None:
    if "<" in value:
        match = _NAME_ADDR.fullmatch(value)
        if match is None:
            return None
        value = match.group(2)
    value = value.strip()
    return value if _ADDRESS.fullmatch(value) else None


@functools.lru_cache(maxsize=8192)
def _mailboxes(value: str) -> tuple[str | None, ...]:
    """Addresses of a comma-separated list (None for each invalid one)."""
    if '"' in value:
        return tuple(_mailbox(addr) for _, addr in getaddresses([value]))
    if "," not in value:
        return (_mailbox_of(value),)
    return tuple(_mailbox_of(part) for part in value.split(",") if part.strip())


def _utf8_len_over(value: str, limit: int) -> bool:
    """len(value.encode()) > limit, without encoding short strings (UTF-8: <= 4 bytes/char)."""
    return len(value) * 4 > limit and len(value.encode()) > limit


def lint(
    from_addr: str, html: str | None, text: str | None, headers: Mapping[str, str], clip: int
) -> list[str]:
    """Deliverability warnings for one accepted message (providers.md §7, §8)."""
    warnings: list[str] = []
    lowered = {k.lower(): v for k, v in headers.items()}
    unsubscribe = lowered.get("list-unsubscribe")
    if not unsubscribe:
        warnings.append("no List-Unsubscribe header")
    elif "<https://" not in unsubscribe:
        warnings.append("List-Unsubscribe has no <https://...> URI (RFC 8058 one-click)")
    if lowered.get("list-unsubscribe-post") != ONE_CLICK:
        warnings.append(f"List-Unsubscribe-Post is not exactly {ONE_CLICK!r}")
    if not text:
        warnings.append("no text part")
    if not html:
        warnings.append("no html part")
    elif _utf8_len_over(html, clip):
        warnings.append(f"html is {len(html.encode())} bytes; Gmail clips past {clip}")
    if len(_mailboxes(from_addr)) != 1:
        warnings.append("From must hold exactly one address")
    return warnings


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers=headers, media_type="application/json")


def _resend_error(status: int, name: str, message: str) -> Response:
    return _json({"statusCode": status, "message": message, "name": name}, status)


def _ses_error(status: int, kind: str, message: str) -> Response:
    headers = {"x-amzn-ErrorType": kind, "x-amzn-RequestId": str(uuid.uuid4())}
    return _json({"message": message}, status, headers)


_ID_PREFIX = str(uuid.uuid4())[:24]  # unique per process; a counter makes the rest
_ID_COUNTER = itertools.count(1)


def _new_id() -> str:
    """A UUID-shaped id, unique per sandbox process, without uuid4's cost per message."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


class _Refused(Exception):
    """A validation failure that refuses the whole request with a ready answer."""

    def __init__(self, response: Response) -> None:
        self.response = response


Handler = Callable[[Request, bytes], Awaitable[Response]]


class _Sandbox:
    """The routes; one instance per app, holding the state."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def config(self) -> SandboxConfig:
        return self.state.config  # read each time: tests may swap or edit it

    # Plumbing common to every provider route.

    async def serve(
        self,
        request: Request,
        provider: str,
        auth: Callable[[Request, bytes], Response | None],
        handler: Handler,
    ) -> Response:
        body = await request.body()
        self.state.count(f"requests.{provider}")
        refused = auth(request, body)
        if refused is not None:
            return self._counted(refused)
        key = None
        digest = b""
        if provider == "resend" and "idempotency-key" in request.headers:
            key = request.headers["idempotency-key"]
            if not 1 <= len(key) <= self.config.resend_idempotency_key_max:
                return self._counted(
                    _resend_error(
                        400, "invalid_idempotency_key", "Idempotency key must be 1-256 chars."
                    )
                )
            digest = hashlib.sha256(request.url.path.encode() + b"\0" + body).digest()
            early = self.state.idempotency_begin(key, digest)
            if early is not None:
                return self._counted(early)
        fault = self.state.next_fault(provider)
        response: Response | None = None
        try:
            if fault is not None and not fault.after:
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.kind == "drop":
                    if key is not None:  # free the key before the client can retry
                        self.state.idempotency_end(key, digest, None)
                        key = None
                    return await self._drop(request)
                if fault.kind == "status":
                    return self._counted(self._fault_response(provider, fault))
            try:
                response = await handler(request, body)
            except _Refused as refusal:
                response = refusal.response
        finally:
            if key is not None:
                self.state.idempotency_end(key, digest, response)
        if fault is not None and fault.after:
            # Processed and recorded; now the answer is lost, late or replaced.
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.kind == "drop":
                return await self._drop(request)
            if fault.kind == "status":
                response = self._fault_response(provider, fault)
        return self._counted(response)

    def _counted(self, response: Response) -> Response:
        self.state.count(f"status.{response.status_code}")
        return response

    async def _drop(self, request: Request) -> Response:
        self.state.count("dropped")
        await _drop_connection(request)
        return Response(status_code=500)  # never reaches the client: the socket is gone

    def _fault_response(self, provider: str, fault: Fault) -> Response:
        status = fault.status
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(fault.retry_after))
        limited = status == 429
        if limited and fault.rate_headers:
            if provider == "sendgrid":
                headers.update(self._sendgrid_rate(0, fault.reset_in))
            elif provider == "resend":
                headers.update(self._resend_rate(0, fault.reset_in))
        message = "too many requests" if limited else f"sandbox injected HTTP {status}"
        if provider == "postmark":
            return _json({"ErrorCode": status, "Message": message}, status, headers)
        if provider == "sendgrid":
            body = {"errors": [{"field": None, "message": message}]}
            return _json(body, status, headers)
        if provider == "mailgun":
            return _json({"message": message}, status, headers)
        if provider == "resend":
            name = "rate_limit_exceeded" if limited else "internal_server_error"
            return _json({"statusCode": status, "message": message, "name": name}, status, headers)
        kind = "TooManyRequestsException" if limited else "InternalFailure"
        if status == 503:
            kind = "ServiceUnavailable"
        headers.update({"x-amzn-ErrorType": kind, "x-amzn-RequestId": _new_id()})
        return _json({"message": message}, status, headers)

    def _sendgrid_rate(self, remaining: int, reset_in: float = 1.0) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.config.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(time.time() + reset_in)),
        }

    def _resend_rate(self, remaining: int, reset_in: float = 1.0) -> dict[str, str]:
        return {
            "ratelimit-limit": str(self.config.rate_limit),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(math.ceil(reset_in)),
        }

    def _parse_json(self, body: bytes, refuse: Callable[[str], Response]) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise _Refused(refuse(f"Invalid JSON: {exc}")) from exc

    def _lint(
        self, from_addr: str, html: str | None, text: str | None, headers: Mapping[str, str]
    ) -> list[str]:
        return lint(from_addr, html, text, headers, self.config.html_clip_bytes)

    def _suppression_warning(self, address: str, warnings: list[str]) -> list[str]:
        if self.state.is_inactive(address):
            warnings.append("recipient is suppressed at the provider; it would be dropped")
        return warnings

    # Postmark.

    def postmark_auth(self, request: Request, body: bytes) -> Response | None:
        token = request.headers.get("x-postmark-server-token")
        if token is None:
            message = (
                "No Account or Server API tokens were supplied in the HTTP headers. Please add "
                "a header for either X-Postmark-Server-Token or X-Postmark-Account-Token."
            )
            return _json({"ErrorCode": 10, "Message": message}, 401)
        valid = {t.lower() for t in self.config.postmark_tokens}
        valid.add(self.config.postmark_test_token.lower())
        if token.lower() not in valid:
            message = "Request does not contain a valid Server token."
            return _json({"ErrorCode": 10, "Message": message}, 401)
        return None

    async def postmark_batch(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        if len(body) > cfg.postmark_batch_bytes:
            return _json({"ErrorCode": 413, "Message": "Payload too large"}, 413)
        items = self._parse_json(
            body, lambda m: _json({"ErrorCode": 402, "Message": f"Received invalid JSON. {m}"}, 422)
        )
        if not isinstance(items, list):
            return _json({"ErrorCode": 402, "Message": "Expected a JSON array of messages."}, 422)
        if len(items) > cfg.postmark_batch_max:
            message = f"The batch contains more than {cfg.postmark_batch_max} messages."
            return _json({"ErrorCode": 300, "Message": message}, 422)
        test_only = self._postmark_test(request)
        answers: list[dict[str, Any]] = []
        accepted: list[AcceptedMessage] = []
        submitted_at = datetime.now(UTC).isoformat()
        for item in items:
            answer, record = self._postmark_message(item, submitted_at)
            answers.append(answer)
            if record is not None and not test_only:
                accepted.extend(record)
        self.state.record(accepted)
        return _json(answers)

    async def postmark_single(self, request: Request, body: bytes) -> Response:
        item = self._parse_json(
            body, lambda m: _json({"ErrorCode": 402, "Message": f"Received invalid JSON. {m}"}, 422)
        )
        answer, record = self._postmark_message(item, datetime.now(UTC).isoformat())
        if answer["ErrorCode"] != 0:
            return _json(answer, 422)
        if record is not None and not self._postmark_test(request):
            self.state.record(record)
        return _json(answer)

    def _postmark_test(self, request: Request) -> bool:
        token = request.headers.get("x-postmark-server-token", "")
        return token.lower() == self.config.postmark_test_token.lower()

    def _postmark_message(
        self, item: Any, submitted_at: str
    ) -> tuple[dict[str, Any], list[AcceptedMessage] | None]:
        cfg = self.config

        def invalid(message: str, code: int = 300) -> tuple[dict[str, Any], None]:
            return {"ErrorCode": code, "Message": message}, None

        if not isinstance(item, dict):
            return invalid("Invalid email request: expected an object.")
        from_addr = item.get("From")
        to = item.get("To")
        subject = item.get("Subject")
        html = item.get("HtmlBody")
        text = item.get("TextBody")
        if not from_addr or not isinstance(from_addr, str):
            return invalid("Invalid 'From' address: ''.")
        if _mailbox(from_addr) is None:
            return invalid(f"Invalid 'From' address: '{from_addr}'.")
        if not to or not isinstance(to, str):
            return invalid("Zero recipients specified")
        if cfg.postmark_subject_required and not subject:
            return invalid("Invalid email request: Subject is required.")
        if not html and not text:
            return invalid("Provide either email TextBody or HtmlBody or both.")
        for name, value in (("HtmlBody", html), ("TextBody", text)):
            if value is not None and not isinstance(value, str):
                return invalid(f"{name} must be a string.")
            if value and _utf8_len_over(value, cfg.postmark_body_bytes):
                return invalid(f"{name} is larger than {cfg.postmark_body_bytes} bytes.")
        if _utf8_len_over((html or "") + (text or ""), cfg.postmark_message_bytes):
            return invalid(f"The message is larger than {cfg.postmark_message_bytes} bytes.")
        recipients = _mailboxes(to)
        for extra in ("Cc", "Bcc"):
            if item.get(extra):
                recipients += _mailboxes(str(item[extra]))
        if len(recipients) > cfg.postmark_recipients_max:
            return invalid(f"Too many recipients ({cfg.postmark_recipients_max} max).")
        if any(r is None for r in recipients):
            return invalid(f"Error parsing 'To': Illegal email address '{to}'.")
        addresses = [r for r in recipients if r is not None]
        if any(self.state.is_invalid(a) for a in addresses):
            return invalid(f"Error parsing 'To': Illegal email address '{to}'.")
        if any(self.state.is_inactive(a) for a in addresses):
            return invalid(
                "You tried to send to recipient(s) that have been marked as inactive. Found "
                f"inactive addresses: {to}. Inactive recipients are ones that have generated "
                "a hard bounce, a spam complaint, or a manual suppression.",
                406,
            )
        raw_headers = item.get("Headers") or []
        headers: dict[str, str] = {}
        if not isinstance(raw_headers, list):
            return invalid("Headers must be a list of {Name, Value} objects.")
        for h in raw_headers:
            if not isinstance(h, dict) or not isinstance(h.get("Name"), str) or "Value" not in h:
                return invalid("Headers must be a list of {Name, Value} objects.")
            headers[h["Name"]] = str(h["Value"])
        metadata = item.get("Metadata") or {}
        if not isinstance(metadata, dict):
            return invalid("Metadata must be a flat object.")
        flat: dict[str, str] = {}
        for k, v in metadata.items():
            if isinstance(v, dict | list):
                return invalid("Metadata must be a flat object.")
            flat[str(k)] = str(v)
        message_id = _new_id()
        warnings = self._lint(from_addr, html, text, headers)
        tag = item.get("Tag")
        records = [
            AcceptedMessage(
                seq=0,
                provider="postmark",
                to=address,
                from_addr=from_addr,
                subject=subject or "",
                html=html,
                text=text,
                headers=headers,
                message_id=message_id,
                metadata=flat,
                tags=[tag] if tag else [],
                warnings=warnings,
            )
            for address in addresses
        ]
        answer = {
            "To": to,
            "SubmittedAt": submitted_at,
            "MessageID": message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }
        return answer, records

    # SendGrid.

    def sendgrid_auth(self, request: Request, body: bytes) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header:
            message = "authorization required"
        elif header.startswith("Bearer ") and header[7:] in self.config.sendgrid_keys:
            return None
        else:
            message = "The provided authorization grant is invalid, expired, or revoked"
        body_out = {"errors": [{"message": message, "field": None, "help": None}]}
        return _json(body_out, 401)

    async def sendgrid_send(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        rate = self._sendgrid_rate(cfg.rate_limit - 1)
        if len(body) > cfg.sendgrid_body_bytes:
            return _json({"errors": [{"message": "content too large", "field": None}]}, 413, rate)
        mail = self._parse_json(
            body,
            lambda m: _json(
                {"errors": [{"message": "Bad Request", "field": None, "help": m}]}, 400, rate
            ),
        )
        errors: list[dict[str, Any]] = []

        def error(field_name: str | None, message: str) -> None:
            errors.append({"message": message, "field": field_name, "help": None})

        if not isinstance(mail, dict):
            error(None, "The request body must be a JSON object.")
            return _json({"errors": errors}, 400, rate)
        from_field: dict[str, Any] = mail.get("from") or {}
        if not isinstance(from_field, dict) or not from_field.get("email"):
            error("from.email", "The from object must be provided for every email send.")
        elif _mailbox(from_field["email"]) is None:
            error("from.email", "The from email does not contain a valid address.")
        content = mail.get("content")
        html = text = None
        if mail.get("template_id") is None:
            if not isinstance(content, list) or not content:
                error("content", "Unless a valid template_id is provided, content is required.")
            else:
                seen_types: set[str] = set()
                for i, part in enumerate(content):
                    if not isinstance(part, dict) or not part.get("type") or not part.get("value"):
                        error(f"content.{i}", "Content items need a non-empty type and value.")
                        continue
                    if part["type"] in seen_types:
                        error(f"content.{i}.type", "Each MIME type may only be used once.")
                    seen_types.add(part["type"])
                    if part["type"] == "text/html":
                        html = part["value"]
                    elif part["type"] == "text/plain":
                        text = part["value"]
        if mail.get("reply_to") and mail.get("reply_to_list"):
            error("reply_to", "reply_to and reply_to_list cannot both be set.")
        categories = mail.get("categories") or []
        if len(set(categories)) > cfg.sendgrid_categories_max or any(
            not isinstance(c, str) or len(c) > cfg.sendgrid_category_chars for c in categories
        ):
            error("categories", "Too many categories or a category is too long.")
        top_headers = mail.get("headers") or {}
        self._sendgrid_headers(top_headers, "headers", error)
        personalizations = mail.get("personalizations")
        if not isinstance(personalizations, list) or not personalizations:
            error("personalizations", "The personalizations field is required.")
            personalizations = []
        elif len(personalizations) > cfg.sendgrid_personalizations_max:
            error("personalizations", "Too many personalizations.")
        seen: set[str] = set()
        total = 0
        for p_index, p in enumerate(personalizations):
            where = f"personalizations.{p_index}"
            if not isinstance(p, dict) or not isinstance(p.get("to"), list) or not p["to"]:
                error(f"{where}.to", "The to array is required for all personalization objects.")
                continue
            if not (p.get("subject") or mail.get("subject") or mail.get("template_id")):
                error("subject", "The subject is required.")
            for kind in ("to", "cc", "bcc"):
                for r_index, r in enumerate(p.get(kind) or []):
                    total += 1
                    address = _mailbox(r.get("email")) if isinstance(r, dict) else None
                    if address is None or self.state.is_invalid(address):
                        error(
                            f"{where}.{kind}.{r_index}.email", "Does not contain a valid address."
                        )
                        continue
                    if address.lower() in seen:
                        error(
                            f"{where}.{kind}.{r_index}.email",
                            "Each email address in the personalization block should be unique.",
                        )
                    seen.add(address.lower())
            self._sendgrid_headers(p.get("headers") or {}, f"{where}.headers", error)
            custom = {**(mail.get("custom_args") or {}), **(p.get("custom_args") or {})}
            if len(orjson.dumps(custom)) > cfg.sendgrid_custom_args_bytes:
                error(f"{where}.custom_args", "custom_args exceed 10,000 bytes.")
            if len(orjson.dumps(p.get("substitutions") or {})) > cfg.sendgrid_custom_args_bytes:
                error(f"{where}.substitutions", "substitutions exceed 10,000 bytes.")
        if total > cfg.sendgrid_recipients_max:
            error("personalizations", "The total number of recipients must be 1000 or fewer.")
        if errors:
            return _json({"errors": errors}, 400, rate)

        message_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        from_addr = from_field["email"]
        if from_field.get("name"):
            from_addr = f"{from_field['name']} <{from_addr}>"
        accepted: list[AcceptedMessage] = []
        for p in personalizations:
            headers = {**top_headers, **(p.get("headers") or {})}
            subject = p.get("subject") or mail.get("subject") or ""
            p_html, p_text = html, text
            substitutions = p.get("substitutions") or {}
            for placeholder, value in substitutions.items():
                subject = subject.replace(placeholder, str(value))
                p_html = p_html.replace(placeholder, str(value)) if p_html else p_html
                p_text = p_text.replace(placeholder, str(value)) if p_text else p_text
            custom = {**(mail.get("custom_args") or {}), **(p.get("custom_args") or {})}
            for r in p["to"] + (p.get("cc") or []) + (p.get("bcc") or []):
                address = _mailbox(r["email"]) or r["email"]
                warnings = self._lint(from_addr, p_html, p_text, headers)
                accepted.append(
                    AcceptedMessage(
                        seq=0,
                        provider="sendgrid",
                        to=address,
                        from_addr=from_addr,
                        subject=subject,
                        html=p_html,
                        text=p_text,
                        headers=dict(headers),
                        message_id=message_id,
                        metadata={str(k): str(v) for k, v in custom.items()},
                        tags=list(categories),
                        warnings=self._suppression_warning(address, warnings),
                    )
                )
        self.state.record(accepted)
        return Response(b"", 202, headers={**rate, "X-Message-Id": message_id})

    def _sendgrid_headers(
        self, headers: Any, where: str, error: Callable[[str | None, str], None]
    ) -> None:
        if not isinstance(headers, dict):
            error(where, "headers must be an object.")
            return
        for name, value in headers.items():
            if name.lower() in self.config.sendgrid_reserved_headers:
                error(f"{where}.{name}", f"The header {name} is reserved and cannot be set.")
            elif not isinstance(value, str):
                error(f"{where}.{name}", "Header values must be strings.")

    # Mailgun.

    def mailgun_auth(self, request: Request, body: bytes) -> Response | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, key = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user = key = ""
            if user == "api" and key in self.config.mailgun_keys:
                return None
        return Response(b"Forbidden", self.config.mailgun_auth_status, media_type="text/plain")

    async def mailgun_send(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        domain = request.path_params["domain"]
        if domain not in cfg.mailgun_domains:
            return _json({"message": f"Domain not found: {domain}"}, 404)
        if len(body) > cfg.mailgun_message_bytes:
            return _json({"message": "Request entity too large"}, 413)
        form = await request.form(
            max_fields=cfg.mailgun_recipients_max * 4 + 100,
            max_part_size=cfg.mailgun_message_bytes,
        )
        try:
            return self._mailgun_accept(domain, form.multi_items())
        finally:
            await form.close()

    def _mailgun_accept(self, domain: str, items: list[tuple[str, Any]]) -> Response:
        cfg = self.config

        def bad(message: str) -> Response:
            return _json({"message": message}, 400)

        values: dict[str, list[str]] = {}
        for name, value in items:
            values.setdefault(name, []).append(value if isinstance(value, str) else "")

        def one(name: str) -> str | None:
            found = values.get(name)
            return found[0] if found else None

        from_addr = one("from")
        if not from_addr:
            return bad("from parameter is missing")
        if _mailbox(from_addr) is None:
            return bad("from parameter is not a valid address. please check documentation")
        to_values = values.get("to", [])
        if not to_values and not values.get("cc") and not values.get("bcc"):
            return bad("to parameter is missing")
        recipients: list[str] = []
        for value in to_values:
            for address in _mailboxes(value):
                if address is None or self.state.is_invalid(address):
                    return bad("to parameter is not a valid address. please check documentation")
                recipients.append(address)
        if len(recipients) > cfg.mailgun_recipients_max:
            return bad(f"Too many recipients: {cfg.mailgun_recipients_max} max")
        subject = one("subject")
        if not subject:
            return bad("subject parameter is missing")
        html, text = one("html"), one("text")
        if not (html or text or one("template")):
            return bad("Need at least one of 'text', 'html' or 'template' parameters specified")
        tags = values.get("o:tag", [])
        if len(tags) > cfg.mailgun_tags_max or any(
            not t.isascii() or len(t) > cfg.mailgun_tag_chars for t in tags
        ):
            return bad(f"o:tag: at most {cfg.mailgun_tags_max} ASCII tags of 128 chars")
        variables: dict[str, Any] = {}
        shared_warnings: list[str] = []
        raw_variables = one("recipient-variables")
        if raw_variables is not None:
            try:
                variables = orjson.loads(raw_variables)
            except orjson.JSONDecodeError:
                return bad("recipient-variables parameter is not a valid JSON")
            if not isinstance(variables, dict):
                return bad("recipient-variables parameter is not a valid JSON")
            missing = [r for r in recipients if r not in variables]
            if missing:
                shared_warnings.append(f"recipient-variables lack {len(missing)} recipients")
        elif len(recipients) > 1:
            shared_warnings.append("several recipients without recipient-variables see each other")
        headers = {k[2:]: v[0] for k, v in values.items() if k.startswith("h:")}
        user_vars = {k[2:]: v[0] for k, v in values.items() if k.startswith("v:")}
        message_id = f"<{datetime.now(UTC):%Y%m%d%H%M%S}.{uuid.uuid4().hex[:16]}@{domain}>"
        accepted = []
        for address in recipients:
            personal = variables.get(address) if variables else None

            def sub(value: str | None, personal: Any = personal) -> str | None:
                if value is None or not isinstance(personal, dict) or "%recipient." not in value:
                    return value
                for k, v in personal.items():
                    value = value.replace(f"%recipient.{k}%", str(v))
                return value

            p_headers = {k: sub(v) or "" for k, v in headers.items()}
            p_html, p_text = sub(html), sub(text)
            warnings = shared_warnings + self._lint(from_addr, p_html, p_text, p_headers)
            accepted.append(
                AcceptedMessage(
                    seq=0,
                    provider="mailgun",
                    to=address,
                    from_addr=from_addr,
                    subject=sub(subject) or "",
                    html=p_html,
                    text=p_text,
                    headers=p_headers,
                    message_id=message_id,
                    metadata={k: sub(v) or "" for k, v in user_vars.items()},
                    tags=list(tags),
                    warnings=self._suppression_warning(address, warnings),
                )
            )
        self.state.record(accepted)
        return _json({"id": message_id, "message": "Queued. Thank you."})

    # Resend.

    def resend_auth(self, request: Request, body: bytes) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return _resend_error(
                401, "missing_api_key", "Missing API key in the authorization header."
            )
        if header[7:] not in self.config.resend_keys:
            status = self.config.resend_invalid_key_status
            name = "invalid_api_key" if status == 403 else "validation_error"
            return _resend_error(status, name, "API key is invalid")
        return None

    async def resend_single(self, request: Request, body: bytes) -> Response:
        email = self._parse_json(
            body, lambda m: _resend_error(422, "validation_error", f"Invalid JSON: {m}")
        )
        problem = self._resend_problem(email, batch=False)
        if problem is not None:
            return _resend_error(422, problem[0], problem[1])
        message_id = _new_id()
        self.state.record(self._resend_records(email, message_id, request))
        return _json({"id": message_id}, headers=self._resend_rate(self.config.rate_limit - 1))

    async def resend_batch(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        rate = self._resend_rate(cfg.rate_limit - 1)
        emails = self._parse_json(
            body, lambda m: _resend_error(422, "validation_error", f"Invalid JSON: {m}")
        )
        if not isinstance(emails, list) or not 1 <= len(emails) <= cfg.resend_batch_max:
            return _resend_error(
                422, "validation_error", f"The batch must hold 1 to {cfg.resend_batch_max} emails."
            )
        mode = request.headers.get("x-batch-validation", "strict")
        if mode not in ("strict", "permissive"):
            return _resend_error(
                422, "validation_error", "x-batch-validation must be strict or permissive."
            )
        problems = [self._resend_problem(e, batch=True) for e in emails]
        if mode == "strict":
            for index, problem in enumerate(problems):
                if problem is not None:
                    return _resend_error(422, problem[0], f"emails[{index}]: {problem[1]}")
        data: list[dict[str, str]] = []
        errors: list[dict[str, Any]] = []
        accepted: list[AcceptedMessage] = []
        for index, (email, problem) in enumerate(zip(emails, problems, strict=True)):
            if problem is not None:
                errors.append({"index": index, "message": problem[1]})
                continue
            message_id = _new_id()
            data.append({"id": message_id})
            accepted.extend(self._resend_records(email, message_id, request))
        self.state.record(accepted)
        answer: dict[str, Any] = {"data": data}
        if mode == "permissive":
            answer["errors"] = errors
        return _json(answer, headers=rate)

    def _resend_problem(self, email: Any, *, batch: bool) -> tuple[str, str] | None:
        cfg = self.config
        if not isinstance(email, dict):
            return "validation_error", "Each email must be an object."
        if not email.get("from"):
            return "missing_required_field", "Missing `from` field."
        if _mailbox(email["from"]) is None:
            return (
                "invalid_from_address",
                "Invalid `from` field. The email address needs to follow the "
                "`email@example.com` or `Name <email@example.com>` format.",
            )
        to = email.get("to")
        if not to:
            return "missing_required_field", "Missing `to` field."
        to_list = [to] if isinstance(to, str) else to
        if not isinstance(to_list, list) or len(to_list) > cfg.resend_to_max:
            return "validation_error", f"`to` takes at most {cfg.resend_to_max} addresses."
        for value in to_list:
            address = _mailbox(value)
            if address is None or self.state.is_invalid(address):
                return "validation_error", f"Invalid `to` field: {value!r}."
        if not email.get("subject"):
            return "missing_required_field", "Missing `subject` field."
        if not (email.get("html") or email.get("text") or email.get("template")):
            return "missing_required_field", "Missing `html`, `text` or `template` field."
        size = sum(len(str(email.get(k) or "")) for k in ("html", "text", "subject"))
        if size * 4 > cfg.resend_message_bytes and len(orjson.dumps(email)) > (
            cfg.resend_message_bytes
        ):
            return "validation_error", f"The email is larger than {cfg.resend_message_bytes} bytes."
        if batch and email.get("attachments"):
            return "validation_error", "Attachments are not supported in batch sending."
        tags = email.get("tags") or []
        if not isinstance(tags, list) or len(tags) > cfg.resend_tags_max:
            return "validation_error", f"At most {cfg.resend_tags_max} tags."
        for tag in tags:
            if not (
                isinstance(tag, dict)
                and _TAG.fullmatch(str(tag.get("name", "")))
                and _TAG.fullmatch(str(tag.get("value", "")))
            ):
                return (
                    "validation_error",
                    "Tags should only contain ASCII letters, numbers, underscores, or dashes.",
                )
        headers = email.get("headers") or {}
        if not isinstance(headers, dict):
            return "validation_error", "`headers` must be an object."
        return None

    def _resend_records(
        self, email: dict[str, Any], message_id: str, request: Request
    ) -> list[AcceptedMessage]:
        to = email["to"]
        to_list = [to] if isinstance(to, str) else to
        headers = {str(k): str(v) for k, v in (email.get("headers") or {}).items()}
        html, text = email.get("html"), email.get("text")
        tags = {t["name"]: t["value"] for t in email.get("tags") or []}
        warnings = self._lint(email["from"], html, text, headers)
        records = []
        for value in to_list:
            address = _mailbox(value) or value
            records.append(
                AcceptedMessage(
                    seq=0,
                    provider="resend",
                    to=address,
                    from_addr=email["from"],
                    subject=email["subject"],
                    html=html,
                    text=text,
                    headers=headers,
                    message_id=message_id,
                    idempotency_key=request.headers.get("idempotency-key"),
                    metadata=tags,
                    tags=list(tags),
                    warnings=self._suppression_warning(address, list(warnings)),
                )
            )
        return records

    # SES v2.

    def ses_auth(self, request: Request, body: bytes) -> Response | None:
        """Recompute the SigV4 signature with botocore and compare (providers.md §8)."""
        header = request.headers.get("authorization", "")
        if not header:
            return _ses_error(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        match = re.fullmatch(
            r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
            r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})",
            header.strip(),
        )
        if match is None:
            return _ses_error(400, "IncompleteSignatureException", "Authorization header malformed")
        key_id, day, region, service, signed_headers, signature = match.groups()
        secret = self.config.ses_credentials.get(key_id)
        if secret is None:
            return _ses_error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        amz_date = request.headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return _ses_error(
                400, "IncompleteSignatureException", "X-Amz-Date header is missing or malformed"
            )
        if abs(time.time() - signed_at.timestamp()) > self.config.ses_max_clock_skew:
            return _ses_error(
                403, "InvalidSignatureException", f"Signature expired: {amz_date} is now stale"
            )
        if service != "ses" or day != amz_date[:8]:
            return _ses_error(
                403, "InvalidSignatureException", "Credential scope does not match the request"
            )
        names = signed_headers.split(";")
        if "host" not in names or "x-amz-date" not in names:
            return _ses_error(
                403, "InvalidSignatureException", "host and x-amz-date must be signed"
            )
        headers = {name: request.headers.get(name, "") for name in names}
        url = f"{request.url.scheme}://{headers['host']}{request.url.path}"
        if request.url.query:
            url += f"?{request.url.query}"
        recreated = AWSRequest(method=request.method, url=url, data=body, headers=headers)
        recreated.context["timestamp"] = amz_date
        token = request.headers.get("x-amz-security-token")
        signer = SigV4Auth(Credentials(key_id, secret, token), "ses", region)
        canonical = signer.canonical_request(recreated)
        expected = signer.signature(signer.string_to_sign(recreated, canonical), recreated)
        if not hmac.compare_digest(expected, signature):
            return _ses_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method.",
            )
        return None

    async def ses_send(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        payload = self._parse_json(
            body, lambda m: _ses_error(400, "BadRequestException", f"Invalid JSON: {m}")
        )
        if not isinstance(payload, dict):
            return _ses_error(400, "BadRequestException", "Expected a JSON object")
        content = payload.get("Content")
        if (
            not isinstance(content, dict)
            or sum(k in content for k in ("Simple", "Raw", "Template")) != 1
        ):
            return _ses_error(
                400, "BadRequestException", "Content must hold exactly one of Simple, Raw, Template"
            )
        problem = self._ses_tags(payload.get("EmailTags") or [])
        if problem:
            return _ses_error(400, "BadRequestException", problem)
        from_addr: str
        if "Raw" in content:
            parsed = self._ses_raw(content["Raw"])
            if isinstance(parsed, Response):
                return parsed
            from_addr, subject, html, text, headers, mime_recipients = parsed
        elif "Simple" in content:
            simple = content["Simple"]
            subject = str((simple.get("Subject") or {}).get("Data") or "")
            body_part = simple.get("Body") or {}
            html = (body_part.get("Html") or {}).get("Data")
            text = (body_part.get("Text") or {}).get("Data")
            if not subject or not (html or text):
                return _ses_error(
                    400, "BadRequestException", "Simple content needs Subject.Data and a Body"
                )
            raw_headers = simple.get("Headers") or []
            problem = self._ses_headers(raw_headers)
            if problem:
                return _ses_error(400, "BadRequestException", problem)
            headers = {h["Name"]: h["Value"] for h in raw_headers}
            from_addr = str(payload.get("FromEmailAddress") or "")
            mime_recipients = []
        else:
            return _ses_error(
                400, "BadRequestException", "Template content is not supported by SendEmail here"
            )
        from_addr = str(payload.get("FromEmailAddress") or from_addr)
        if not from_addr or _mailbox(from_addr) is None:
            return _ses_error(400, "BadRequestException", "A valid FromEmailAddress is required")
        destination = payload.get("Destination") or {}
        recipients: list[str] = []
        for kind in ("ToAddresses", "CcAddresses", "BccAddresses"):
            recipients.extend(destination.get(kind) or [])
        if not recipients:
            recipients = mime_recipients
        if not 1 <= len(recipients) <= cfg.ses_recipients_max:
            return _ses_error(
                400, "BadRequestException", f"Recipients must number 1 to {cfg.ses_recipients_max}"
            )
        addresses = []
        for value in recipients:
            address = _mailbox(value)
            if address is None:
                return _ses_error(400, "BadRequestException", f"Illegal address: {value}")
            if self.state.is_invalid(address):
                return _ses_error(
                    400, "MessageRejected", f"Email address is not verified: {address}"
                )
            addresses.append(address)
        message_id = f"0100{uuid.uuid4().hex}-000000"
        tags = {t["Name"]: t["Value"] for t in payload.get("EmailTags") or []}
        warnings = self._lint(from_addr, html, text, headers)
        self.state.record(
            [
                AcceptedMessage(
                    seq=0,
                    provider="ses",
                    to=address,
                    from_addr=from_addr,
                    subject=subject or "",
                    html=html,
                    text=text,
                    headers=headers,
                    message_id=message_id,
                    metadata=tags,
                    tags=list(tags),
                    warnings=self._suppression_warning(address, list(warnings)),
                )
                for address in addresses
            ]
        )
        return _json({"MessageId": message_id}, headers={"x-amzn-RequestId": _new_id()})

    def _ses_raw(
        self, raw: Any
    ) -> Response | tuple[str, str, str | None, str | None, dict[str, str], list[str]]:
        try:
            data = base64.b64decode(raw["Data"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            return _ses_error(400, "BadRequestException", "Raw.Data must be base64")
        if len(data) > self.config.ses_message_bytes:
            return _ses_error(400, "MessageRejected", "Message too large")
        message = message_from_bytes(data, policy=email_policy.default)
        if not isinstance(message, EmailMessage):
            return _ses_error(400, "BadRequestException", "Raw.Data is not a MIME message")
        headers = {k: str(v) for k, v in message.items()}
        if "From" not in message:
            return _ses_error(400, "MessageRejected", "Missing From header in raw message")
        html_part = message.get_body(("html",))
        text_part = message.get_body(("plain",))
        html = html_part.get_content() if isinstance(html_part, EmailMessage) else None
        text = text_part.get_content() if isinstance(text_part, EmailMessage) else None
        recipients = [
            addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
        ]
        return str(message["From"]), str(message["Subject"] or ""), html, text, headers, recipients

    def _ses_headers(self, raw_headers: Any) -> str | None:
        cfg = self.config
        if not isinstance(raw_headers, list) or len(raw_headers) > cfg.ses_headers_max:
            return f"At most {cfg.ses_headers_max} headers"
        for h in raw_headers:
            name, value = (h.get("Name"), h.get("Value")) if isinstance(h, dict) else (None, None)
            if not isinstance(name, str) or not _SES_HEADER_NAME.fullmatch(name):
                return f"Invalid header name {name!r}"
            if len(name) > cfg.ses_header_name_chars:
                return f"Header name {name!r} is too long"
            if not isinstance(value, str) or len(value) > cfg.ses_header_value_chars:
                return f"Header {name} value is missing or too long"
        return None

    @staticmethod
    def _ses_tags(tags: Any) -> str | None:
        if not isinstance(tags, list):
            return "EmailTags must be a list"
        for tag in tags:
            if not (
                isinstance(tag, dict)
                and _TAG.fullmatch(str(tag.get("Name", "")))
                and _TAG.fullmatch(str(tag.get("Value", "")))
            ):
                return f"Invalid EmailTag {tag!r}"
        return None

    async def ses_bulk(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        payload = self._parse_json(
            body, lambda m: _ses_error(400, "BadRequestException", f"Invalid JSON: {m}")
        )
        default = (payload.get("DefaultContent") or {}) if isinstance(payload, dict) else {}
        template = default.get("Template") if isinstance(default, dict) else None
        if not isinstance(template, dict):
            return _ses_error(400, "BadRequestException", "DefaultContent.Template is required")
        entries = payload.get("BulkEmailEntries")
        if not isinstance(entries, list) or not 1 <= len(entries) <= cfg.ses_bulk_entries_max:
            return _ses_error(
                400,
                "BadRequestException",
                f"BulkEmailEntries must hold 1 to {cfg.ses_bulk_entries_max}",
            )
        from_addr = payload.get("FromEmailAddress") or ""
        if _mailbox(from_addr) is None:
            return _ses_error(400, "BadRequestException", "A valid FromEmailAddress is required")
        inline = template.get("TemplateContent") or {}
        default_data = _json_object(template.get("TemplateData"))
        results: list[dict[str, Any]] = []
        accepted: list[AcceptedMessage] = []
        for entry in entries:
            destination = (entry or {}).get("Destination") or {}
            addresses = [_mailbox(a) for a in destination.get("ToAddresses") or []]
            if not addresses or any(a is None for a in addresses):
                results.append({"Status": "INVALID_PARAMETER", "Error": "Invalid Destination"})
                continue
            status = self.state.ses_bulk_status(addresses[0] or "")
            if status != "SUCCESS":
                results.append({"Status": status, "Error": f"sandbox: {status}"})
                continue
            replacement = (entry.get("ReplacementEmailContent") or {}).get(
                "ReplacementTemplate"
            ) or {}
            data = {**default_data, **_json_object(replacement.get("ReplacementTemplateData"))}
            subject = (
                _render(inline.get("Subject"), data) or f"(template {template.get('TemplateName')})"
            )
            html = _render(inline.get("Html"), data)
            text = _render(inline.get("Text"), data)
            headers = {h["Name"]: h["Value"] for h in template.get("Headers") or []}
            headers.update({h["Name"]: h["Value"] for h in entry.get("ReplacementHeaders") or []})
            message_id = f"0100{uuid.uuid4().hex}-000000"
            results.append({"Status": "SUCCESS", "MessageId": message_id})
            warnings = self._lint(from_addr, html, text, headers)
            accepted.extend(
                AcceptedMessage(
                    seq=0,
                    provider="ses",
                    to=address or "",
                    from_addr=from_addr,
                    subject=subject,
                    html=html,
                    text=text,
                    headers=headers,
                    message_id=message_id,
                    warnings=list(warnings),
                )
                for address in addresses
            )
        self.state.record(accepted)
        return _json({"BulkEmailEntryResults": results}, headers={"x-amzn-RequestId": _new_id()})

    # Control routes.

    async def faults_post(self, request: Request) -> Response:
        try:
            spec = orjson.loads(await request.body())
            if not isinstance(spec, dict):
                raise ValueError("expected a JSON object")
            if spec.get("clear"):
                self.state.clear_faults()
            specs = spec.get("faults", [])
            if "kind" in spec or "status" in spec:
                specs = [{k: v for k, v in spec.items() if k != "clear"}]
            made = [Fault.from_json(s) for s in specs]
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            return _json({"error": str(exc)}, 400)
        for fault in made:
            self.state.add_fault(fault)
        if spec.get("inactive"):
            self.state.set_inactive(*spec["inactive"])
        if spec.get("invalid"):
            self.state.set_invalid(*spec["invalid"])
        for address, status in (spec.get("ses_bulk_status") or {}).items():
            self.state.set_ses_bulk_status(address, status)
        return await self.faults_get(request)

    async def faults_get(self, request: Request) -> Response:
        return _json({"faults": [asdict(f) for f in self.state.faults()]})

    async def faults_delete(self, request: Request) -> Response:
        self.state.clear_faults()
        return Response(status_code=204)

    async def messages_get(self, request: Request) -> Response:
        query = request.query_params
        brief = query.get("brief") not in (None, "", "0", "false")
        found = self.state.messages(query.get("provider"), query.get("to"))
        return _json({"messages": [m.as_json(brief) for m in found]})

    async def messages_delete(self, request: Request) -> Response:
        self.state.clear_messages()
        return Response(status_code=204)

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return Response(status_code=204)

    async def stats(self, request: Request) -> Response:
        return _json(self.state.stats())

    async def config_get(self, request: Request) -> Response:
        return _json(self.config.public())


def _json_object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, str):
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _render(template: Any, data: Mapping[str, Any]) -> str | None:
    """SES templates' `{{name}}` placeholders (enough for recording what would be sent)."""
    if not isinstance(template, str):
        return None
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda m: str(data.get(m.group(1), "")), template)


async def _drop_connection(request: Request) -> None:
    """Close the TCP connection without a response (uvicorn's h11 cycle holds the transport)."""
    cycle = getattr(request.receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("this server does not expose its transport; cannot drop connections")
    transport.abort()
    await asyncio.sleep(0.01)  # let connection_lost run, so the server sends nothing more


def create_app(state: SandboxState | None = None) -> Starlette:
    """The sandbox as a Starlette app; `app.state.sandbox` is the `SandboxState`."""
    sandbox = _Sandbox(state or SandboxState())

    def provider_route(
        path: str,
        provider: str,
        auth: Callable[[Request, bytes], Response | None],
        handler: Handler,
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            return await sandbox.serve(request, provider, auth, handler)

        return Route(path, endpoint, methods=["POST"])

    s = sandbox
    routes = [
        provider_route("/email/batch", "postmark", s.postmark_auth, s.postmark_batch),
        provider_route("/email", "postmark", s.postmark_auth, s.postmark_single),
        provider_route("/v3/mail/send", "sendgrid", s.sendgrid_auth, s.sendgrid_send),
        provider_route("/v3/{domain}/messages", "mailgun", s.mailgun_auth, s.mailgun_send),
        provider_route("/emails/batch", "resend", s.resend_auth, s.resend_batch),
        provider_route("/emails", "resend", s.resend_auth, s.resend_single),
        provider_route("/v2/email/outbound-emails", "ses", s.ses_auth, s.ses_send),
        provider_route("/v2/email/outbound-bulk-emails", "ses", s.ses_auth, s.ses_bulk),
        Route("/_sandbox/faults", s.faults_post, methods=["POST"]),
        Route("/_sandbox/faults", s.faults_get, methods=["GET"]),
        Route("/_sandbox/faults", s.faults_delete, methods=["DELETE"]),
        Route("/_sandbox/messages", s.messages_get, methods=["GET"]),
        Route("/_sandbox/messages", s.messages_delete, methods=["DELETE"]),
        Route("/_sandbox/reset", s.reset, methods=["POST"]),
        Route("/_sandbox/stats", s.stats, methods=["GET"]),
        Route("/_sandbox/config", s.config_get, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox = sandbox.state
    return app


@dataclass
class RunningSandbox:
    """A sandbox served on 127.0.0.1 by uvicorn in a background thread."""

    base_url: str
    port: int
    state: SandboxState


@contextlib.contextmanager
def run_sandbox(
    port: int = 0, state: SandboxState | None = None, *, startup_timeout: float = 10.0
) -> Iterator[RunningSandbox]:
    """Serve a sandbox on 127.0.0.1 (a free port by default) for the duration of the block."""
    import uvicorn

    state = state or SandboxState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="digest-sandbox", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.005)
    try:
        yield RunningSandbox(f"http://127.0.0.1:{actual_port}", actual_port, state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def main(argv: list[str] | None = None) -> None:
    """`python -m digest.testing.sandbox --port P`: serve until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(description="Local email-provider sandbox")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--no-bodies",
        action="store_true",
        help="record who got what but not the html/text bodies (long benchmarks)",
    )
    args = parser.parse_args(argv)
    state = SandboxState(SandboxConfig(keep_bodies=not args.no_bodies))
    cfg = state.config
    print(
        f"sandbox on http://{args.host}:{args.port}  postmark={sorted(cfg.postmark_tokens)} "
        f"sendgrid={sorted(cfg.sendgrid_keys)} mailgun={sorted(cfg.mailgun_keys)}@"
        f"{sorted(cfg.mailgun_domains)} resend={sorted(cfg.resend_keys)} "
        f"ses={sorted(cfg.ses_credentials)}",
        flush=True,
    )
    uvicorn.run(
        create_app(state),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
    )


if __name__ == "__main__":
    main()
