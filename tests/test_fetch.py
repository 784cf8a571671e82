"""The fetcher against a real server on 127.0.0.1: limits, retries, decoding, conditional GET."""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from digest.fetch import USER_AGENT, AddressRefused, Fetcher, FetchError
from tests.sources.hostile import (
    Handler,
    HostileServer,
    brotli_bomb,
    dripping,
    endless,
    gzip_bomb,
    gzipped,
    rss,
    slow_headers,
    stacked_gzip_bomb,
    story_items,
)


@pytest.fixture
def server() -> Iterator[HostileServer]:
    running = HostileServer().start()
    yield running
    running.stop()


def fast_fetcher(**settings: object) -> Fetcher:
    """A fetcher with short waits that may reach the test server (its host is named)."""
    options: dict[str, object] = {"timeout": 3.0, "backoff": 0.01, "allow_private": ["127.0.0.1"]}
    options.update(settings)
    return Fetcher(**options)  # type: ignore[arg-type]


async def test_plain_fetch_sends_an_honest_user_agent(server: HostileServer) -> None:
    url = server.static("/feed.xml", rss(story_items(2)), "application/rss+xml", etag='"v1"')
    async with fast_fetcher() as fetcher:
        fetched = await fetcher.get(url)
    assert fetched.status == 200 and b"Story s1" in fetched.content
    assert fetched.etag == '"v1"' and fetched.content_type == "application/rss+xml"
    assert server.headers_seen["/feed.xml"]["User-Agent"] == USER_AGENT
    assert "Digest/" in USER_AGENT and "+https://" in USER_AGENT


async def test_conditional_get_gives_304_with_explicit_and_stored_validators(
    server: HostileServer,
) -> None:
    url = server.static("/feed.xml", rss(story_items(2)), etag='"v7"')

    class Validators:
        def __init__(self) -> None:
            self.saved: dict[str, tuple[str | None, str | None]] = {}

        def fetch_validators(self, url: str) -> tuple[str | None, str | None]:
            return self.saved.get(url, (None, None))

        def save_fetch_validators(
            self, url: str, etag: str | None, last_modified: str | None, content_hash: str | None
        ) -> None:
            self.saved[url] = (etag, last_modified)

    store = Validators()
    async with fast_fetcher(validators=store) as fetcher:
        first = await fetcher.get(url, conditional=True)
        second = await fetcher.get(url, conditional=True)
        explicit = await fetcher.get(url, etag='"v7"')
        changed = await fetcher.get(url, etag='"v6"')
    assert not first.not_modified and store.saved[url] == ('"v7"', None)
    assert second.not_modified and second.status == 304 and second.content == b""
    assert explicit.not_modified
    assert not changed.not_modified and changed.content


async def test_size_cap_cuts_a_50_mb_streamed_body_early(server: HostileServer) -> None:
    url = server.route("/big", lambda h: h.stream(endless(50 * 1024 * 1024), "application/rss+xml"))
    started = time.perf_counter()
    async with fast_fetcher(size_cap=1024 * 1024) as fetcher:
        with pytest.raises(FetchError, match="larger than 1 MB, cut off"):
            await fetcher.get(url)
    assert time.perf_counter() - started < 2


async def test_declared_oversize_is_not_downloaded(server: HostileServer) -> None:
    url = server.static("/declared", b"x" * (2 * 1024 * 1024))
    async with fast_fetcher(size_cap=1024 * 1024) as fetcher:
        with pytest.raises(FetchError, match="exceeds the cap of 1 MB; not downloaded"):
            await fetcher.get(url)


@pytest.mark.parametrize("encoding", ["gzip", "br"])
async def test_compression_bombs_are_cut_off_after_decompression(
    server: HostileServer, encoding: str
) -> None:
    body = gzip_bomb(32 * 1024 * 1024) if encoding == "gzip" else brotli_bomb(32 * 1024 * 1024)
    assert len(body) < 1024 * 1024  # small on the wire...
    url = server.static("/bomb", body, headers={"Content-Encoding": encoding})
    async with fast_fetcher(size_cap=2 * 1024 * 1024) as fetcher:
        with pytest.raises(FetchError, match="decompressed response larger than 2 MB"):
            await fetcher.get(url)


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
async def test_compressed_responses_are_decoded(server: HostileServer, encoding: str) -> None:
    import zlib

    plain = rss(story_items(5))
    body = {
        "gzip": gzipped(plain),
        "br": brotli.compress(plain),
        "deflate": zlib.compress(plain),
    }[encoding]
    url = server.static("/c", body, headers={"Content-Encoding": encoding})
    async with fast_fetcher() as fetcher:
        assert (await fetcher.get(url)).content == plain


async def test_stacked_encodings_are_undone_last_first(server: HostileServer) -> None:
    plain = rss(story_items(5))
    body = brotli.compress(gzipped(plain))  # gzip applied first, then br
    url = server.static("/c", body, headers={"Content-Encoding": "gzip, br"})
    async with fast_fetcher() as fetcher:
        assert (await fetcher.get(url)).content == plain


@pytest.mark.slow
async def test_a_stacked_bomb_is_cut_off_piece_by_piece(server: HostileServer) -> None:
    """`gzip, gzip` over a gigabyte of zeros: each piece the outer step yields goes through
    the inner one and is counted before the next, so the cap cuts it at once."""
    url = server.static("/bomb", stacked_gzip_bomb(), headers={"Content-Encoding": "gzip, gzip"})
    started = time.perf_counter()
    async with fast_fetcher(size_cap=2 * 1024 * 1024) as fetcher:
        with pytest.raises(FetchError, match="decompressed response larger than 2 MB, cut off"):
            await fetcher.get(url)
    assert time.perf_counter() - started < 2


async def test_more_than_two_stacked_encodings_are_refused(server: HostileServer) -> None:
    body = gzipped(gzipped(gzipped(b"<rss/>")))
    url = server.static("/c", body, headers={"Content-Encoding": "gzip, gzip, gzip"})
    async with fast_fetcher() as fetcher:
        with pytest.raises(FetchError, match=r"3 stacked Content-Encodings .*at most 2"):
            await fetcher.get(url)


async def test_redirects_are_followed_and_loops_stopped(server: HostileServer) -> None:
    def loop(handler: Handler) -> None:
        handler.send(302, b"", "text/plain", {"Location": "/loop"})

    server.route("/loop", loop)
    target = server.static("/target", rss(story_items(1)))
    server.route("/moved", lambda h: h.send(301, b"", "text/plain", {"Location": "/target"}))
    async with fast_fetcher(max_redirects=4) as fetcher:
        moved = await fetcher.get(server.url("/moved"))
        with pytest.raises(FetchError, match="too many redirects"):
            await fetcher.get(server.url("/loop"))
    assert moved.url == target
    assert server.hits["/loop"] == 5  # the first request and four redirects, then stop


@pytest.mark.parametrize(("status", "hits"), [(404, 1), (410, 1), (403, 1), (500, 3), (503, 3)])
async def test_only_transient_failures_are_retried(
    server: HostileServer, status: int, hits: int
) -> None:
    url = server.route(f"/s{status}", lambda h: h.send(status, b"no", "text/plain"))
    async with fast_fetcher(retries=2) as fetcher:
        with pytest.raises(FetchError, match=f"HTTP {status}") as caught:
            await fetcher.get(url)
    assert server.hits[f"/s{status}"] == hits
    assert caught.value.status == status
    if status == 410:
        assert "gone for good" in str(caught.value)
    if hits > 1:
        assert f"after {hits} tries" in str(caught.value)


@pytest.mark.slow
async def test_retry_after_is_honoured(server: HostileServer) -> None:
    def limited(handler: Handler) -> None:
        if server.hits["/limited"] == 1:
            handler.send(429, b"slow down", "text/plain", {"Retry-After": "1"})
        else:
            handler.send(200, rss(story_items(1)))

    url = server.route("/limited", limited)
    started = time.perf_counter()
    async with fast_fetcher() as fetcher:
        fetched = await fetcher.get(url)
    assert fetched.status == 200 and server.hits["/limited"] == 2
    assert time.perf_counter() - started >= 0.95


async def test_retry_after_beyond_what_the_run_waits_fails_at_once(server: HostileServer) -> None:
    url = server.route("/later", lambda h: h.send(503, b"", "text/plain", {"Retry-After": "3600"}))
    async with fast_fetcher(max_retry_after=30) as fetcher:
        with pytest.raises(FetchError, match="retry after 3600 s"):
            await fetcher.get(url)
    assert server.hits["/later"] == 1


@pytest.mark.slow
async def test_slow_headers_and_a_dripping_body_hit_the_total_timeout(
    server: HostileServer,
) -> None:
    slow = server.route("/slow", slow_headers(3))
    drip = server.route("/drip", dripping(3))
    started = time.perf_counter()
    async with fast_fetcher(timeout=0.6, read_timeout=0.3, retries=0) as fetcher:
        with pytest.raises(FetchError, match=r"read timed out|timed out after"):
            await fetcher.get(slow)
        with pytest.raises(FetchError, match=r"timed out after 0\.6 s"):
            await fetcher.get(drip)
    assert time.perf_counter() - started < 2.5


async def test_connection_refused_is_reported_after_retries() -> None:
    async with fast_fetcher(retries=1) as fetcher:
        with pytest.raises(FetchError, match=r"cannot connect.*\(after 2 tries\)"):
            await fetcher.get("http://127.0.0.1:9/feed")


@pytest.mark.slow
async def test_per_host_limit_bounds_concurrency(server: HostileServer) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def busy(handler: Handler) -> None:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.1)
        with lock:
            active -= 1
        handler.send(200, b"ok", "text/plain")

    url = server.route("/busy", busy)
    async with fast_fetcher(per_host=2) as fetcher:
        await asyncio.gather(*(fetcher.get(url) for _ in range(8)))
    assert peak == 2


async def test_mock_transport_and_bad_urls() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"mocked"))
    async with Fetcher(transport=transport) as fetcher:
        assert (await fetcher.get("https://example.org/x")).content == b"mocked"
    async with Fetcher() as fetcher:
        with pytest.raises(FetchError, match=r"not a fetchable URL|not a valid URL"):
            await fetcher.get("ftp://example.org/x")


def test_unsupported_content_encoding_is_named() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=b"x", headers={"Content-Encoding": "zstd2"})
    )

    async def go() -> None:
        async with Fetcher(transport=transport) as fetcher:
            await fetcher.get("https://example.org/x")

    with pytest.raises(FetchError, match="unsupported Content-Encoding 'zstd2'"):
        asyncio.run(go())


@pytest.mark.slow
async def test_many_origins_share_a_bounded_set_of_pools() -> None:
    servers = [HostileServer().start() for _ in range(12)]
    try:
        urls = [s.static(f"/f{n}.xml", rss(story_items(1))) for s in servers for n in range(3)]
        async with fast_fetcher(max_connections=4, per_host=1) as fetcher:
            results = await asyncio.gather(*(fetcher.get(url) for url in urls * 2))
            pools = fetcher.client._transport.pools  # type: ignore[attr-defined]
            assert len(pools) == 12  # under the bound, every origin keeps its pool
        assert all(r.status == 200 for r in results)
    finally:
        for s in servers:
            s.stop()


# -- private networks ---------------------------------------------------------------------------


@pytest.fixture
def internal() -> Iterator[HostileServer]:
    """Another private host (127.0.0.2) that no test names: it must never be asked anything."""
    running = HostileServer("127.0.0.2").start()
    running.static("/secret", b"internal", "text/plain")
    yield running
    running.stop()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/feed.xml", "127.0.0.1 is a loopback address"),
        ("http://localhost:{port}/feed.xml", "localhost resolves to .*, a loopback address"),
        ("http://[::ffff:127.0.0.1]:{port}/feed.xml", "::ffff:127.0.0.1 is a loopback address"),
        ("http://0.0.0.0:{port}/feed.xml", "0.0.0.0 is a unspecified address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://100.64.0.1/", "100.64.0.1 is a shared \\(CGNAT\\) address"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ],
)
async def test_a_private_address_nobody_named_is_refused_before_connecting(
    server: HostileServer, url: str, reason: str
) -> None:
    server.static("/feed.xml", rss(story_items(1)))
    target = url.format(port=server.server_address[1])
    async with Fetcher(timeout=3.0, retries=0) as fetcher:
        with pytest.raises(AddressRefused, match=f"{re.escape(target)}: refused: {reason}"):
            await fetcher.get(target)
    assert server.hits["/feed.xml"] == 0


async def test_a_redirect_to_a_private_host_is_refused(
    server: HostileServer, internal: HostileServer
) -> None:
    hop = internal.url("/secret")
    url = server.route("/moved", lambda h: h.send(302, b"", "text/plain", {"Location": hop}))
    async with fast_fetcher() as fetcher:  # 127.0.0.1 is named, 127.0.0.2 is not
        with pytest.raises(
            AddressRefused,
            match=f"{re.escape(url)}: redirect to {re.escape(hop)} refused: "
            "127.0.0.2 is a loopback address",
        ):
            await fetcher.get(url)
    assert server.hits["/moved"] == 1 and internal.hits["/secret"] == 0


async def test_named_hosts_and_allowed_networks_are_reached(
    server: HostileServer, internal: HostileServer
) -> None:
    async with Fetcher(timeout=3.0, allow_private=["127.0.0.2/32", "localhost"]) as fetcher:
        assert (await fetcher.get(internal.url("/secret"))).content == b"internal"
        server.static("/feed.xml", b"<rss/>")
        local = f"http://localhost:{server.server_address[1]}/feed.xml"
        assert (await fetcher.get(local)).content == b"<rss/>"
    assert server.headers_seen["/feed.xml"]["Host"] == f"localhost:{server.server_address[1]}"


class _RebindingLoop(asyncio.SelectorEventLoop):
    """A DNS server that answers an allowed address first and an internal one afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = ["127.0.0.2", "127.0.0.3"]
        self.lookups = 0

    async def getaddrinfo(self, host: Any, port: Any, *args: Any, **options: Any) -> Any:
        if host not in ("rebind.test", b"rebind.test"):  # httpcore asks with bytes
            return await super().getaddrinfo(host, port, *args, **options)
        self.lookups += 1
        address = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]


@pytest.mark.slow
def test_the_address_checked_is_the_address_connected_to() -> None:
    """No DNS-rebinding gap: the fetch connects to the address it checked, without asking the
    name server a second time (whose second answer here is an internal host)."""
    allowed = HostileServer("127.0.0.2").start()
    port = allowed.server_address[1]
    internal = HostileServer("127.0.0.3", port).start()
    allowed.static("/feed.xml", b"allowed")
    internal.static("/feed.xml", b"internal")
    url = f"http://rebind.test:{port}/feed.xml"

    async def fetch() -> list[bytes]:
        async with Fetcher(timeout=3.0, allow_private=["127.0.0.2"]) as fetcher:
            return [(await fetcher.get(url)).content for _ in range(3)]

    try:
        with asyncio.Runner(loop_factory=_RebindingLoop) as runner:
            assert runner.run(fetch()) == [b"allowed"] * 3
            lookups = cast(_RebindingLoop, runner.get_loop()).lookups
    finally:
        allowed.stop()
        internal.stop()
    assert lookups == 1  # and the answer is kept a while: one lookup for the host's fetches
    assert internal.hits["/feed.xml"] == 0 and allowed.hits["/feed.xml"] == 3
    assert allowed.headers_seen["/feed.xml"]["Host"] == f"rebind.test:{port}"


def _tls_files(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for `name` signed by it: (ca.pem, cert.pem, key.pem)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)

    def certificate(subject: str, public: Any, ca: bool, san: str | None) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
            )
        return builder.sign(ca_key, hashes.SHA256())

    pem = serialization.Encoding.PEM
    paths = folder / f"{name}-ca.pem", folder / f"{name}.pem", folder / f"{name}.key"
    paths[0].write_bytes(certificate("Test CA", ca_key.public_key(), True, None).public_bytes(pem))
    paths[1].write_bytes(certificate(name, key.public_key(), False, name).public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@pytest.mark.slow
@pytest.mark.parametrize(("certified", "fine"), [("rebind.test", True), ("other.test", False)])
def test_https_verifies_the_name_while_connecting_to_the_checked_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certified: str, fine: bool
) -> None:
    """The connection goes to the address checked, and TLS still verifies the host's name
    (sent as SNI): a certificate for another name is refused."""
    ca, cert, key = _tls_files(tmp_path, certified)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    server = HostileServer("127.0.0.2")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.static("/feed.xml", b"over tls")
    server.start()
    url = f"https://rebind.test:{server.server_address[1]}/feed.xml"

    async def fetch() -> bytes:
        async with Fetcher(timeout=3.0, retries=0, allow_private=["127.0.0.2/32"]) as fetcher:
            return (await fetcher.get(url)).content

    try:
        with asyncio.Runner(loop_factory=_RebindingLoop) as runner:
            if fine:
                assert runner.run(fetch()) == b"over tls"
            else:
                with pytest.raises(
                    FetchError, match=r"CERTIFICATE_VERIFY_FAILED|Hostname mismatch"
                ):
                    runner.run(fetch())
    finally:
        server.stop()
    assert server.hits["/feed.xml"] == (1 if fine else 0)
