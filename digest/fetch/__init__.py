"""The one place that builds HTTP clients for gathering, and fetches with them.

Every fetch goes through `Fetcher`: one shared `httpx.AsyncClient` (connections reused), a global
and a per-origin concurrency limit, connect/read/total timeouts, a size cap counted on the
*decompressed* body and enforced while streaming (so neither a 50 MB body nor a gzip bomb ever
sits in memory), a redirect limit, an honest User-Agent, retries with backoff for transient
failures only (connection errors, 429, 5xx; never another 4xx) with `Retry-After` honoured, and
conditional GET (ETag / Last-Modified) so an unchanged document costs one round trip and no parsing.
No fetch reaches a private network unless the operator allowed it: every hop (redirects included)
is resolved once, checked against `digest.netpolicy`, and connected to at the address checked.
`decoding.py` reads a body within the cap; `transport.py` is where connections are made.

    async with Fetcher() as fetcher:
        fetched = await fetcher.get(url, etag=..., last_modified=...)
        if fetched.not_modified: ...          # 304: use what was parsed last time
        text, charset = fetched.text()         # digest.charset: one decoder for feeds and pages
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import logging
import random
import re
import ssl
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx

from digest import __version__
from digest.charset import decode
from digest.dates import parse_date
from digest.errors import AddressRefused, FetchError
from digest.fetch.decoding import MAX_ENCODINGS, read_capped
from digest.fetch.transport import OriginTransports, Refused
from digest.netpolicy import NetworkPolicy

# httpcore asks for sniffio on every request and anyio 4 no longer brings it along: remember
# the miss, or each request pays a search of sys.path (about 1 ms of CPU).
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_SIZE_CAP",
    "MAX_ENCODINGS",
    "USER_AGENT",
    "AddressRefused",
    "FetchError",
    "Fetched",
    "Fetcher",
    "ValidatorStore",
    "http_client",
    "parse_retry_after",
    "read_capped",
    "sync_http_client",
]

log = logging.getLogger(__name__)

USER_AGENT = (
    f"Digest/{__version__} (newsletter digest builder; +https://github.com/digest-newsletter)"
)
DEFAULT_SIZE_CAP = 10 * 1024 * 1024
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_DRAIN = 64 * 1024  # an error body this small is read to its end, so the connection is kept


def http_client(
    *,
    timeout: httpx.Timeout | float,
    user_agent: str = USER_AGENT,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
    max_redirects: int = 5,
    limits: httpx.Limits | None = None,
    verify: ssl.SSLContext | bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
    trust_env: bool = True,
) -> httpx.AsyncClient:
    """Every asynchronous HTTP client Digest uses is made here (gathering, extraction, the
    provider transports, webhook certificates): an honest User-Agent and an explicit timeout.

    `trust_env=False` ignores HTTP(S)_PROXY: a proxy would connect to addresses the
    private-network check never saw."""
    return httpx.AsyncClient(
        timeout=timeout,
        headers={"User-Agent": user_agent, **(headers or {})},
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        limits=limits or httpx.Limits(max_connections=32, max_keepalive_connections=32),
        verify=verify,
        transport=transport,
        trust_env=trust_env,
    )


def sync_http_client(
    *, timeout: httpx.Timeout | float, user_agent: str = USER_AGENT
) -> httpx.Client:
    """The blocking twin of `http_client`, for code that runs in a worker thread."""
    return httpx.Client(timeout=timeout, headers={"User-Agent": user_agent})


class ValidatorStore(Protocol):
    """Where conditional-GET validators are kept between runs (the store implements it)."""

    def fetch_validators(self, url: str) -> tuple[str | None, str | None]: ...

    def save_fetch_validators(
        self, url: str, etag: str | None, last_modified: str | None, content_hash: str | None
    ) -> None: ...


class _Transient(Exception):
    """One attempt failed in a way that may pass: worth another try after `retry_after`."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True)
class Fetched:
    """A fetched document; `not_modified` when the server answered 304 to our validators."""

    url: str  # after redirects
    status: int
    content: bytes
    content_type: str | None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None

    @property
    def content_hash(self) -> str:
        return hashlib.sha1(self.content, usedforsecurity=False).hexdigest()

    def text(self) -> tuple[str, str]:
        """The body as text and the codec used (see `digest.charset.decode`)."""
        return decode(self.content, self.content_type)


class Fetcher:
    """Fetches URLs politely within limits. One per run; close it (or use `async with`)."""

    def __init__(
        self,
        *,
        validators: ValidatorStore | None = None,
        timeout: float = 20.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        size_cap: int = DEFAULT_SIZE_CAP,
        max_connections: int = 64,
        per_host: int = 4,
        max_redirects: int = 5,
        retries: int = 2,
        backoff: float = 0.1,
        max_retry_after: float = 30.0,
        user_agent: str = USER_AGENT,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_private: Iterable[str] = (),
    ) -> None:
        """`timeout` bounds one `get` as a whole: every attempt, every wait and the body.

        `per_host` limits concurrent requests to one origin (scheme, host, port);
        `max_connections` limits them overall. `allow_private` names the hosts, addresses and
        CIDR blocks that may be on a private network (see `digest.netpolicy`); every other
        loopback, private, link-local, shared, multicast or unspecified address is refused.
        An injected `transport` is the caller's own network and is not checked.
        """
        if timeout <= 0 or size_cap <= 0 or per_host < 1 or max_connections < 1 or retries < 0:
            raise ValueError("timeouts, size cap and limits must be positive")
        self.validators = validators
        self.max_connections = max_connections
        self.per_host = per_host
        self.timeout = timeout
        self.size_cap = size_cap
        self.max_redirects = max_redirects
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.policy = NetworkPolicy.allowing(allow_private)
        self._global = asyncio.Semaphore(max_connections)
        self._per_host: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host)
        )
        self.client = http_client(
            timeout=httpx.Timeout(
                connect=min(connect_timeout, timeout),
                read=min(read_timeout, timeout),
                write=min(read_timeout, timeout),
                pool=timeout,
            ),
            follow_redirects=True,
            max_redirects=max_redirects,
            user_agent=user_agent,
            headers={
                "Accept-Encoding": "gzip, deflate, br",
                "Accept": "application/atom+xml, application/rss+xml, application/feed+json, "
                "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, "
                "text/html;q=0.7, */*;q=0.5",
            },
            transport=transport
            or OriginTransports(
                per_host, max_pools=max(256, 4 * max_connections), policy=self.policy
            ),
            trust_env=transport is not None,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        conditional: bool = False,
        etag: str | None = None,
        last_modified: str | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> Fetched:
        """GET a URL within the limits; raise FetchError with a clear reason on failure.

        Validators come from `etag`/`last_modified`, or from the validator store when
        `conditional` is set (and the new ones are then saved there). `retries` overrides the
        fetcher's for this URL (0 for a source that already failed last time: it is retried
        at the next run rather than making this one wait).
        """
        retries = self.retries if retries is None else retries
        total = timeout or self.timeout
        request_headers = dict(headers or {})
        if conditional and self.validators is not None and not (etag or last_modified):
            etag, last_modified = self.validators.fetch_validators(url)
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        try:
            origin = _origin(url)
        except httpx.InvalidURL as exc:
            raise FetchError(f"{url}: not a valid URL ({exc})") from None
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        attempt = 0
        while True:
            async with self._per_host[origin], self._global:
                # The clock starts once a slot is ours: waiting behind a slow sibling on the
                # same host is politeness, not this URL's fault.
                if deadline is None:
                    deadline = loop.time() + total
                try:
                    async with asyncio.timeout_at(deadline):
                        fetched = await self._attempt(url, request_headers)
                except TimeoutError:
                    raise FetchError(f"{url}: timed out after {total:g} s") from None
                except _Transient as exc:
                    problem = exc
                else:
                    break
            attempt += 1
            if attempt > retries:
                tries = f" (after {attempt} tries)" if attempt > 1 else ""
                raise FetchError(f"{url}: {problem.reason}{tries}", status=_status(problem.reason))
            wait = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4)
            if problem.retry_after is not None:
                if problem.retry_after > self.max_retry_after:
                    raise FetchError(
                        f"{url}: {problem.reason}; the server asks to retry after "
                        f"{problem.retry_after:g} s, which is more than this run waits",
                        status=_status(problem.reason),
                    )
                wait = max(wait, problem.retry_after)
            if loop.time() + wait >= deadline:
                raise FetchError(
                    f"{url}: {problem.reason}; no time left to retry within {total:g} s",
                    status=_status(problem.reason),
                )
            log.info("%s: %s; retrying in %.2f s", url, problem.reason, wait)
            await asyncio.sleep(wait)
        if conditional and self.validators is not None and not fetched.not_modified:
            self.validators.save_fetch_validators(
                url, fetched.etag, fetched.last_modified, fetched.content_hash
            )
        return fetched

    async def _attempt(self, url: str, headers: dict[str, str]) -> Fetched:
        """One request; transient failures raise `_Transient`, permanent ones `FetchError`."""
        try:
            async with self.client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status == 304 or status >= 400:
                    await self._drain(response)  # so the connection can be used again
                if status == 304:
                    return Fetched(
                        str(response.url),
                        304,
                        b"",
                        None,
                        not_modified=True,
                        etag=response.headers.get("ETag") or headers.get("If-None-Match"),
                        last_modified=response.headers.get("Last-Modified")
                        or headers.get("If-Modified-Since"),
                    )
                reason = f"HTTP {status} {response.reason_phrase}".rstrip()
                if status in TRANSIENT_STATUSES:
                    raise _Transient(reason, parse_retry_after(response.headers.get("Retry-After")))
                if status >= 400:
                    if status == 410:
                        reason += " (the server says it is gone for good)"
                    raise FetchError(f"{url}: {reason}", status=status)
                content = await self._read_capped(url, response)
                return Fetched(
                    str(response.url),
                    status,
                    content,
                    response.headers.get("Content-Type"),
                    etag=response.headers.get("ETag"),
                    last_modified=response.headers.get("Last-Modified"),
                )
        except Refused as exc:
            hop = "" if exc.url == url else f"redirect to {exc.url} "
            raise AddressRefused(f"{url}: {hop}refused: {exc.reason}") from None
        except httpx.TooManyRedirects:
            raise FetchError(
                f"{url}: too many redirects (more than {self.max_redirects}; a redirect loop?)"
            ) from None
        except httpx.ConnectTimeout:
            raise _Transient("could not connect in time") from None
        except httpx.TimeoutException:
            raise _Transient("the server stopped answering (read timed out)") from None
        except httpx.ConnectError as exc:
            raise _Transient(f"cannot connect: {exc}") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise _Transient(f"connection broken: {exc or type(exc).__name__}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise FetchError(f"{url}: not a fetchable URL ({exc})") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None

    @staticmethod
    async def _drain(response: httpx.Response) -> None:
        """Read a small body to its end (keep-alive); a large one is left, closing the link."""
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) <= _DRAIN and not response.is_stream_consumed:
            with contextlib.suppress(httpx.HTTPError):
                await response.aread()

    async def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        return await read_capped(response, url=url, cap=self.size_cap)


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}"


def _status(reason: str) -> int | None:
    match = re.match(r"HTTP (\d{3})", reason)
    return int(match.group(1)) if match else None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = parse_date(value)
        if when is None:
            return None
        now_dt = datetime.fromtimestamp(time.time() if now is None else now, UTC)
        return max(0.0, (when - now_dt).total_seconds())
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, inf
        return None
    return max(0.0, seconds)
