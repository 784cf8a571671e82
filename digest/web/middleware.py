"""What wraps every request: the body size limit, the client's address, and the one place
that turns errors into responses (an HTML page for browsers, JSON for API clients)."""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import secrets
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from asgi_csrf import asgi_csrf
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.config import WebConfig
from digest.errors import DigestError, RequestError
from digest.web.logs import redact_path
from digest.web.pages import Pages

__all__ = [
    "BodyLimit",
    "ClientLimiter",
    "ProtectForms",
    "check_form_token",
    "client_address",
    "csrf_token",
    "error_response",
    "form_token_deferred",
    "media_type",
    "same_site",
    "wants_json",
]

log = logging.getLogger(__name__)

# The wording invalid.html has for each status; other statuses get its generic wording.
_PAGE_REASONS = {404: "", 410: "expired", 429: "rate"}


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answer 413 to any request whose body is larger than `limit` bytes, declared or not;
    paths that `uploads` names (a pattern and its limit) take larger bodies (CSV files)."""

    def __init__(
        self, app: ASGIApp, limit: int, uploads: tuple[re.Pattern[str], int] | None = None
    ) -> None:
        self.app = app
        self.default = limit
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.default
        if self.uploads is not None and self.uploads[0].fullmatch(str(scope.get("path", ""))):
            limit = self.uploads[1]
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await PlainTextResponse("request body too large", 413)(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watch)
        except _TooLarge:
            if not started:
                await PlainTextResponse("request body too large", 413)(scope, receive, send)


class ClientLimiter:
    """A token bucket per client (an address, an account), in memory: one process, one set.

    Not `digest.send.ratelimit.RateLimiter`, which paces one sender and waits; this one
    answers at once with the seconds a refused client must wait."""

    def __init__(self, per_minute: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float | None = None) -> float:
        """0 when allowed (a token is taken), else the seconds until the next token."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[client] = (tokens, now)
            wait = (1 - tokens) / self.rate
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


class ProtectForms:
    """CSRF protection for every form (asgi-csrf: a signed token in a cookie and in the form).

    asgi-csrf lets through a POST that carries no cookie at all (an API client); a form of the
    desk or of a subscriber's preferences page is never posted that way by a browser that loaded
    it, so a cookieless POST there is refused here. Webhooks and one-click unsubscribes (RFC
    8058: the mail provider posts, no form) are not forms and are left alone.

    asgi-csrf cannot read multipart bodies with python-multipart 0.0.26 and later (the releases
    that fix CVE-2026-40347; simonw/asgi-csrf#38), so a multipart form is accepted only on the
    `uploads` paths, whose handlers check the token themselves once the form is parsed
    (`check_form_token`), and refused elsewhere with 415.
    """

    _EXEMPT = ("/webhooks/", "/unsubscribe/")
    _COOKIE_REQUIRED = ("/desk/", "/preferences/")

    def __init__(
        self, app: ASGIApp, secret: str, secure: bool, uploads: re.Pattern[str] | None = None
    ) -> None:
        self.app = app
        self.uploads = uploads
        self.protected = asgi_csrf(
            app,
            signing_secret=secret,
            cookie_secure=secure,
            cookie_samesite="Lax",
            skip_if_scope=lambda scope: (
                str(scope.get("path", "")).startswith(self._EXEMPT) or scope.get(_DEFERRED, False)
            ),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        unsafe = scope.get("method") not in ("GET", "HEAD", "OPTIONS")
        if unsafe and path.startswith(self._COOKIE_REQUIRED) and not headers.get(b"cookie"):
            await PlainTextResponse("form expired: reload the page", 403)(scope, receive, send)
            return
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        if unsafe and multipart and headers.get(b"cookie") and not path.startswith(self._EXEMPT):
            if self.uploads is None or not self.uploads.fullmatch(path):
                await PlainTextResponse("send this form urlencoded", 415)(scope, receive, send)
                return
            scope = {**scope, _DEFERRED: True}  # the handler checks the token (check_form_token)
        await self.protected(scope, receive, send)


_DEFERRED = "digest.csrf_deferred"


def check_form_token(request: Request, form: Any) -> None:
    """For a multipart form (see ProtectForms): its token must be the one in the signed
    cookie, as asgi-csrf checks urlencoded forms. Raises a 403 RequestError otherwise."""
    expected = csrf_token(request)
    given = form.get("csrftoken")
    if not isinstance(given, str) or not secrets.compare_digest(given, expected):
        raise RequestError(403, "form expired: reload the page")
    if not request.cookies.get("csrftoken"):
        raise RequestError(403, "form expired: reload the page")


def form_token_deferred(request: Request) -> bool:
    """True for a multipart form ProtectForms left to its handler (`check_form_token`)."""
    return bool(request.scope.get(_DEFERRED, False))


def media_type(request: Request) -> str:
    """The request body's media type, lowered, without parameters ("" when none is given)."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


def same_site(request: Request, base_url: str) -> bool:
    """Whether a browser says the request comes from this site's own pages.

    A browser names the page's origin in `Origin` on every cross-site POST; no Origin at all is
    a client that is not a browser (or an old one), which no other site can steer. The site is
    the configured `web.base_url`, or the host the request was sent to (the browser sets Host,
    a page cannot), so the app answers its own pages on any name it is reached by. "null" (a
    sandboxed frame, a file, or a page whose referrer policy is no-referrer) counts only where
    the browser itself says the request is same-origin (Sec-Fetch-Site, which pages cannot set).
    """
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if origin.strip() == "null":
        return request.headers.get("sec-fetch-site", "").strip().lower() == "same-origin"
    given = _origin(origin)
    own = (_origin(base_url), _origin(f"{request.url.scheme}://{request.headers.get('host', '')}"))
    return given is not None and given in own


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL or Origin value; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def csrf_token(request: Request) -> str:
    """The CSRF token forms carry (asgi-csrf puts a getter in the request's scope)."""
    getter = request.scope.get("csrftoken")
    return str(getter()) if callable(getter) else ""


def client_address(request: Request, web: WebConfig) -> str:
    """The client's address: the direct peer, or behind a proxy named in `web.trusted_proxies`
    the right-most X-Forwarded-For hop that is not one of them.

    Each proxy appends the address it was connected from, so hops right of the first untrusted
    one were written by proxies we run, and everything left of it by whoever sent the request:
    taking the left-most hop would let any client name itself. A hop that is not an address
    (a proxy set up to pass the header along unchecked) stops the walk at the trusted hop next
    to it.
    """
    peer = request.client.host if request.client else "unknown"
    networks = _networks(tuple(web.trusted_proxies))
    if not networks or not _within(peer, networks):
        return peer
    hops = [
        hop.strip()
        for value in request.headers.getlist("x-forwarded-for")
        for hop in value.split(",")
    ]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        client = str(address)
        if not _within(client, networks):
            break
    return client


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _address(hop: str) -> IPAddress | None:
    """An X-Forwarded-For hop as an address: "192.0.2.1", "2001:db8::1", with a port
    ("192.0.2.1:443", "[2001:db8::1]:443") as some proxies write it; None for anything else."""
    text = hop.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(host: str, networks: tuple[IPNetwork, ...]) -> bool:
    address = _address(host)
    return address is not None and any(address in network for network in networks)


def wants_json(request: Request) -> bool:
    """API clients (JSON bodies, webhooks, Accept: application/json) get JSON errors."""
    return (
        "json" in request.headers.get("content-type", "")
        or "json" in request.headers.get("accept", "")
        or request.url.path.startswith("/webhooks/")
    )


def error_response(pages: Pages, request: Request, exc: Exception) -> Response:
    """A `DigestError` as its status, the same way for every route: JSON or the error page."""
    status = exc.http_status if isinstance(exc, DigestError) else 500
    reason = getattr(exc, "reason", None) or str(exc) or "error"
    if status >= 500:
        log.error("%s %s failed: %s", request.method, redact_path(request.url.path), exc)
        reason = "the service cannot answer now; try again later"
    if wants_json(request):
        return JSONResponse({"error": reason}, status)
    return pages.invalid(status, _PAGE_REASONS.get(status, ""))
