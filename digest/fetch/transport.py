"""Where gathering connects: a pool per origin, and only to addresses the policy accepts.

`OriginTransports` is the transport every `Fetcher` uses unless a test injects its own: httpx's
own transport, one small pool per origin, and before any connection the host resolved once,
checked against `digest.netpolicy`, and connected to at the very address checked.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from digest.netpolicy import NetworkPolicy

__all__ = ["RESOLVED_FOR", "OriginTransports", "Refused"]

RESOLVED_FOR = 60.0  # seconds a host's checked addresses are used before it is looked up again


class Refused(Exception):
    """A hop of a fetch would reach an address the network policy refuses."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason


class OriginTransports(httpx.AsyncBaseTransport):
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
        # host -> (when the answer expires, checked addresses or why they are refused)
        self.resolved: dict[str, tuple[float, list[str] | str]] = {}
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
                extensions={**request.extensions, "sni_hostname": _ascii(request.url)},
            )
            try:
                return await pool.handle_async_request(pinned)
            except httpx.ConnectError as exc:  # the next address of the host may answer
                failure = exc
        assert failure is not None
        raise failure

    async def _addresses(self, url: httpx.URL) -> list[str]:
        """Every address the host resolves to, once each; `Refused` if any is not allowed.

        An answer is kept for RESOLVED_FOR seconds, so the feeds and pages of one host cost
        one lookup, not one a request (connections are made to the addresses kept: checked).
        """
        assert self.policy is not None
        loop = asyncio.get_running_loop()
        kept = self.resolved.get(url.host)
        if kept is None or kept[0] < loop.time():
            kept = (loop.time() + RESOLVED_FOR, await self._resolve(url))
            if len(self.resolved) >= 4 * self.max_pools:
                self.resolved.clear()
            self.resolved[url.host] = kept
        if isinstance(kept[1], str):
            raise Refused(str(url), kept[1])
        return kept[1]

    async def _resolve(self, url: httpx.URL) -> list[str] | str:
        """The host's addresses, or why one of them may not be reached."""
        assert self.policy is not None
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                _ascii(url), port, type=socket.SOCK_STREAM
            )
        except (socket.gaierror, UnicodeError) as exc:
            raise httpx.ConnectError(f"cannot resolve {url.host}: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        if not addresses:
            raise httpx.ConnectError(f"cannot resolve {url.host}: no address")
        for address in addresses:
            reason = self.policy.refusal(url.host, address)
            if reason is not None:
                return reason
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


def _ascii(url: httpx.URL) -> str:
    """The host as DNS and TLS know it (an internationalized name in its xn-- form)."""
    return url.raw_host.decode("ascii")
