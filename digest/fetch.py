"""The one place that builds HTTP clients for gathering, and fetches with them.

Every fetch goes through `Fetcher`: one shared `httpx.AsyncClient` (connections reused), a global
and a per-host concurrency limit, timeouts, a streamed size cap, a redirect limit, an honest
User-Agent and conditional GET (ETag / Last-Modified kept in the store, so a 304 costs nothing).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import httpx

from digest import __version__

USER_AGENT = (
    f"Digest/{__version__} (newsletter digest builder; +https://github.com/digest-newsletter)"
)
DEFAULT_SIZE_CAP = 10 * 1024 * 1024


class ValidatorStore(Protocol):
    def fetch_validators(self, url: str) -> tuple[str | None, str | None]: ...

    def save_fetch_validators(
        self, url: str, etag: str | None, last_modified: str | None, content_hash: str | None
    ) -> None: ...


@dataclass(frozen=True)
class Fetched:
    """A fetched document; `not_modified` when the server answered 304 to our validators."""

    url: str  # after redirects
    status: int
    content: bytes
    content_type: str | None
    not_modified: bool = False


class FetchError(Exception):
    """A fetch failed; the message says why in words an operator understands."""


class Fetcher:
    def __init__(
        self,
        *,
        validators: ValidatorStore | None = None,
        timeout: float = 15.0,
        size_cap: int = DEFAULT_SIZE_CAP,
        max_connections: int = 32,
        per_host: int = 4,
        max_redirects: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.validators = validators
        self.size_cap = size_cap
        self.timeout = timeout
        self._global = asyncio.Semaphore(max_connections)
        self._per_host: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host)
        )
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=True,
            max_redirects=max_redirects,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=16),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate, br"},
            transport=transport,
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    async def get(
        self, url: str, *, headers: dict[str, str] | None = None, conditional: bool = False
    ) -> Fetched:
        """GET a URL within the limits; raise FetchError with a clear reason on failure."""
        request_headers = dict(headers or {})
        if conditional and self.validators is not None:
            etag, last_modified = self.validators.fetch_validators(url)
            if etag:
                request_headers["If-None-Match"] = etag
            if last_modified:
                request_headers["If-Modified-Since"] = last_modified
        host = httpx.URL(url).host
        async with self._global, self._per_host[host]:
            try:
                return await asyncio.wait_for(
                    self._get(url, request_headers, conditional), self.timeout * 2
                )
            except TimeoutError:
                raise FetchError(f"{url}: timed out after {self.timeout * 2:.0f} s") from None
            except httpx.TooManyRedirects:
                raise FetchError(f"{url}: too many redirects") from None
            except httpx.TimeoutException:
                raise FetchError(f"{url}: timed out") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None

    async def _get(self, url: str, headers: dict[str, str], conditional: bool) -> Fetched:
        async with self.client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return Fetched(str(response.url), 304, b"", None, not_modified=True)
            if response.status_code >= 400:
                raise FetchError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():  # decompressed: the cap counts real bytes
                size += len(chunk)
                if size > self.size_cap:
                    raise FetchError(
                        f"{url}: response larger than {self.size_cap // (1024 * 1024)} MB, cut off"
                    )
                chunks.append(chunk)
            content = b"".join(chunks)
            if conditional and self.validators is not None:
                self.validators.save_fetch_validators(
                    url,
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                    hashlib.sha256(content).hexdigest(),
                )
            return Fetched(
                str(response.url),
                response.status_code,
                content,
                response.headers.get("Content-Type"),
            )
