"""What wraps every request: the body size limit, the client's address, and the one place
that turns errors into responses (an HTML page for browsers, JSON for API clients)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.config import WebConfig
from digest.errors import DigestError
from digest.web.logs import redact_path
from digest.web.pages import Pages

__all__ = ["BodyLimit", "ClientLimiter", "client_address", "error_response", "wants_json"]

log = logging.getLogger(__name__)

# The wording invalid.html has for each status; other statuses get its generic wording.
_PAGE_REASONS = {404: "", 410: "expired", 429: "rate"}


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answer 413 to any request whose body is larger than `limit` bytes, declared or not."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await PlainTextResponse("request body too large", 413)(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
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


def client_address(request: Request, web: WebConfig) -> str:
    """The client's address; X-Forwarded-For only when the configuration trusts a proxy."""
    if web.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded.strip():
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


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
