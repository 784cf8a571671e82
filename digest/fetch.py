"""The one place that builds HTTP clients for gathering, and fetches with them.

Every fetch goes through `Fetcher`: one shared `httpx.AsyncClient` (connections reused), a global
and a per-origin concurrency limit, connect/read/total timeouts, a size cap counted on the
*decompressed* body and enforced while streaming (so neither a 50 MB body nor a gzip bomb ever
sits in memory), a redirect limit, an honest User-Agent, retries with backoff for transient
failures only (connection errors, 429, 5xx; never another 4xx) with `Retry-After` honoured, and
conditional GET (ETag / Last-Modified) so an unchanged document costs one round trip and no parsing.
No fetch reaches a private network unless the operator allowed it: every hop (redirects included)
is resolved once, checked against `digest.netpolicy`, and connected to at the address checked.

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
import socket
import ssl
import sys
import time
import zlib
from collections import Counter, OrderedDict, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from digest import __version__
from digest.charset import decode
from digest.dates import parse_date
from digest.errors import AddressRefused, FetchError
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
_CHUNK = 64 * 1024  # most bytes one decompression step may produce
MAX_ENCODINGS = 2  # stacked Content-Encodings undone at most ("gzip, br" yes, a third no)


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
            or _OriginTransports(
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
        except _Refused as exc:
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
        if length.isdigit() and int(length) <= _CHUNK and not response.is_stream_consumed:
            with contextlib.suppress(httpx.HTTPError):
                await response.aread()

    async def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        return await read_capped(response, url=url, cap=self.size_cap)


async def read_capped(response: httpx.Response, *, url: str, cap: int) -> bytes:
    """A streamed response's decoded body, cut off with FetchError as soon as it passes `cap`.

    Decoded here, not by httpx, one bounded piece at a time: the decompressed size is counted
    per piece, for every encoding and each of (at most MAX_ENCODINGS) stacked ones, so a 6 KB
    brotli bomb costs a few pieces of memory, not gigabytes.
    """
    declared = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "")
    if declared.isdigit() and not encoding and int(declared) > cap:
        raise FetchError(f"{url}: response of {_mb(int(declared))} exceeds the cap of "
                         f"{_mb(cap)}; not downloaded")  # fmt: skip
    decoder = _Decoder(encoding, url)
    if response.is_stream_consumed:  # a response built in memory (a mock transport)
        return _capped(url, response.content, cap)
    what = "decompressed response" if decoder.steps else "response"
    chunks: list[bytes] = []
    size = 0

    def take(piece: bytes) -> None:
        nonlocal size
        size += len(piece)
        if size > cap:
            raise FetchError(f"{url}: {what} larger than {_mb(cap)}, cut off")
        chunks.append(piece)

    async for raw in response.aiter_raw():
        for piece in decoder.feed(raw):
            take(piece)
    for piece in decoder.flush():
        take(piece)
    return b"".join(chunks)


class _Refused(Exception):
    """A hop of a fetch would reach an address the network policy refuses."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason


class _OriginTransports(httpx.AsyncBaseTransport):
    """httpx's own transport, one small connection pool per origin, made when first needed.

    One pool for all origins costs CPU in proportion to (connections x waiting requests) on
    every request (httpcore scans its whole pool) and evicts one site's connections to serve
    another's; a pool per origin of `per_host` connections keeps both small. Pools unused for
    the longest time are closed once there are more than `max_pools`. The TLS context (loading
    the CA bundle costs tens of milliseconds) is made once, and only if an https URL comes.
    """

    def __init__(self, per_host: int, max_pools: int, policy: NetworkPolicy | None = None) -> None:
        self.limits = httpx.Limits(max_connections=per_host, max_keepalive_connections=per_host)
        self.max_pools = max_pools
        self.policy = policy
        self.pools: OrderedDict[str, httpx.AsyncHTTPTransport] = OrderedDict()
        self.active: Counter[str] = Counter()
        self.contexts: dict[bool, ssl.SSLContext] = {}

    def _context(self, secure: bool) -> ssl.SSLContext:
        if secure not in self.contexts:
            self.contexts[secure] = httpx.create_ssl_context(verify=secure)
        return self.contexts[secure]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        key = f"{url.scheme}://{url.host}:{url.port or ''}"
        pool = self.pools.get(key)
        if pool is None:
            await self._evict()
            secure = url.scheme == "https"
            pool = httpx.AsyncHTTPTransport(limits=self.limits, verify=self._context(secure))
            self.pools[key] = pool
        else:
            self.pools.move_to_end(key)
        self.active[key] += 1
        try:
            response = await self._send(pool, request)
        except BaseException:
            self.active[key] -= 1
            raise
        response.stream = _Tracked(response.stream, lambda: self._release(key))
        return response

    async def _send(self, pool: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        """The request, sent to an address the policy accepts, and to that very address.

        The host is resolved once here and the connection made to the address checked (TLS
        still verifies the host name, given as SNI): no second lookup for a rebinding DNS
        server to answer differently. A pool serves one host name, so a connection verified
        for one name is never reused for another that shares its address.
        """
        host = request.url.host
        if (
            self.policy is None
            or self.policy.named(host)
            or request.url.scheme not in ("http", "https")  # httpx refuses it, unresolved
        ):
            return await pool.handle_async_request(request)
        failure: httpx.ConnectError | None = None
        for address in await self._addresses(request.url):
            pinned = httpx.Request(
                request.method,
                request.url.copy_with(host=address),
                headers=request.headers,
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": host},
            )
            try:
                return await pool.handle_async_request(pinned)
            except httpx.ConnectError as exc:  # the next address of the host may answer
                failure = exc
        assert failure is not None
        raise failure

    async def _addresses(self, url: httpx.URL) -> list[str]:
        """Every address the host resolves to, once each; `_Refused` if any is not allowed."""
        assert self.policy is not None
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                url.host, port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise httpx.ConnectError(f"cannot resolve {url.host}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        if not addresses:
            raise httpx.ConnectError(f"cannot resolve {url.host}: no address")
        for address in addresses:
            reason = self.policy.refusal(url.host, address)
            if reason is not None:
                raise _Refused(str(url), reason)
        return addresses

    def _release(self, key: str) -> None:
        self.active[key] -= 1

    async def _evict(self) -> None:
        idle = []
        for key in list(self.pools):  # least recently used first
            if len(self.pools) < self.max_pools:
                break
            if self.active[key] <= 0:
                self.active.pop(key, None)
                idle.append(self.pools.pop(key))  # taken out before any await: no race
        for pool in idle:
            await pool.aclose()

    async def aclose(self) -> None:
        for pool in self.pools.values():
            await pool.aclose()
        self.pools.clear()


class _Tracked(httpx.AsyncByteStream):
    """A response body that says when it is closed (so its pool is known to be idle)."""

    def __init__(self, inner: Any, closed: Callable[[], None]) -> None:
        self.inner = inner
        self.closed = closed
        self.done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            yield chunk

    async def aclose(self) -> None:
        if not self.done:
            self.done = True
            self.closed()
        await self.inner.aclose()


class _Decoder:
    """Content-Encoding decoding in bounded steps (a gzip or brotli bomb never expands at once).

    The steps are chained generators: each piece one step yields goes through the next steps
    before the step is asked for another, so no step's whole output is ever held.
    """

    def __init__(self, header: str, url: str) -> None:
        self.url = url
        names = [name.strip().lower() for name in header.split(",") if name.strip()]
        names = [name for name in names if name != "identity"]
        for name in names:
            if name not in ("gzip", "x-gzip", "deflate", "br"):
                raise FetchError(f"{url}: unsupported Content-Encoding {name!r}")
        if len(names) > MAX_ENCODINGS:
            raise FetchError(
                f"{url}: {len(names)} stacked Content-Encodings ({header.strip()}); "
                f"at most {MAX_ENCODINGS} are undone"
            )
        # Encodings are listed in the order they were applied: undo them last to first.
        self.steps = [_step(name) for name in reversed(names)]

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self.steps):
            if data:
                yield data
            return
        for piece in self.steps[index].feed(data, self.url):
            yield from self._through(index + 1, piece)

    def flush(self) -> Iterator[bytes]:
        """What is left in each step, through the steps after it, first step first."""
        for index, step in enumerate(self.steps):
            yield from self._through(index + 1, step.flush())


class _Zlib:
    def __init__(self, gzip: bool) -> None:
        self.gzip = gzip
        self.raw_deflate = False
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self.started = False

    def feed(self, data: bytes, url: str) -> Iterator[bytes]:
        try:
            out = self.inflater.decompress(data, _CHUNK)
        except zlib.error:
            if self.gzip or self.started:
                raise FetchError(f"{url}: corrupt compressed response") from None
            # "deflate" is sometimes sent without its zlib header
            self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            self.raw_deflate = True
            out = self._safe(data, url)
        self.started = True
        yield out
        while self.inflater.unconsumed_tail:
            yield self._safe(self.inflater.unconsumed_tail, url)

    def _safe(self, data: bytes, url: str) -> bytes:
        try:
            return self.inflater.decompress(data, _CHUNK)
        except zlib.error:
            raise FetchError(f"{url}: corrupt compressed response") from None

    def flush(self) -> bytes:
        try:
            return self.inflater.flush()
        except zlib.error:
            return b""


class _Brotli:
    def __init__(self) -> None:
        import brotli  # type: ignore[import-untyped]

        self.decompressor = brotli.Decompressor()
        self.error = brotli.error

    def feed(self, data: bytes, url: str) -> Iterator[bytes]:
        try:
            yield self.decompressor.process(data, output_buffer_limit=_CHUNK)
            while not self.decompressor.can_accept_more_data():
                yield self.decompressor.process(b"", output_buffer_limit=_CHUNK)
        except self.error:
            raise FetchError(f"{url}: corrupt compressed response") from None

    def flush(self) -> bytes:
        return b""


def _step(name: str) -> _Zlib | _Brotli:
    if name == "br":
        return _Brotli()
    return _Zlib(gzip=name in ("gzip", "x-gzip"))


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}"


def _capped(url: str, content: bytes, cap: int) -> bytes:
    if len(content) > cap:
        raise FetchError(f"{url}: response larger than {_mb(cap)}, cut off")
    return content


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


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
