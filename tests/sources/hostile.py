"""A real HTTP server on 127.0.0.1 that serves feeds, sites and every hostile case we expect.

It runs in a thread (http.server), counts the requests each path received, honours ETag and
If-Modified-Since where asked, and generates large bodies lazily so a 50 MB response or a gzip
bomb costs the test nothing to serve.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[["Handler"], None]


def rss(
    items: list[dict[str, str]], *, title: str = "Feed", link: str = "", extra: str = ""
) -> bytes:
    parts = []
    for item in items:
        fields = "".join(f"<{k}>{v}</{k}>" for k, v in item.items())
        parts.append(f"<item>{fields}</item>")
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{extra}><channel>'
        f"<title>{title}</title><link>{link}</link><description>d</description>"
        f"{''.join(parts)}</channel></rss>"
    ).encode()


def story_items(count: int, *, prefix: str = "s", day: int = 20) -> list[dict[str, str]]:
    return [
        {
            "title": f"Story {prefix}{n}: the harbour &amp; the city",
            "link": f"https://news.example.org/{prefix}/{n}?utm_source=rss",
            "guid": f"{prefix}-{n}",
            "pubDate": f"Fri, {day:02d} Nov 2026 {n % 24:02d}:{n % 60:02d}:00 GMT",
            "description": "<![CDATA[<p>The council met on Tuesday to discuss the future of "
            f"story {n}. Residents filled the hall and asked many questions about costs, "
            "timing and shops.</p><p>More follows.</p>]]>",
        }
        for n in range(count)
    ]


class Handler(BaseHTTPRequestHandler):
    server: HostileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.server.hits[path] += 1
        self.server.headers_seen[path] = dict(self.headers.items())
        route = self.server.routes.get(path)
        if route is None:
            self.send(404, b"not found", "text/plain")
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(self)  # the client may give up early, as it should with hostile bodies

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/xml",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def stream(
        self, chunks: Iterator[bytes], content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        """Chunked transfer: the body is generated while it is sent."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """On `host` (any of 127.0.0.0/8 plays another private host), a free port by default."""
        super().__init__((host, port), Handler)
        self.host = host
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.headers_seen: dict[str, dict[str, str]] = {}
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def static(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/xml",
        *,
        etag: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """A fixed document; with `etag`, a matching If-None-Match gets a 304."""

        def serve(handler: Handler) -> None:
            if etag and handler.headers.get("If-None-Match") == etag:
                handler.send_response(304)
                handler.send_header("ETag", etag)
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            extra = dict(headers or {})
            if etag:
                extra["ETag"] = etag
            handler.send(200, body, content_type, extra)

        return self.route(path, serve)

    def start(self) -> HostileServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


# -- hostile bodies ----------------------------------------------------------------------------


def endless(total: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    block = b"<item><title>x</title></item>" * (chunk // 29)
    sent = 0
    yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>'
    while sent < total:
        yield block
        sent += len(block)


def gzip_bomb(size: int) -> bytes:
    """A gzip body of a few hundred KB that expands to `size` bytes of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    parts.append(compressor.flush())
    return b"".join(parts)


def brotli_bomb(size: int) -> bytes:
    import brotli  # type: ignore[import-untyped]

    return bytes(brotli.compress(b"\0" * size, quality=5))


@functools.cache
def big_brotli_bomb(gigabytes: int = 1) -> bytes:
    """About 800 bytes per gigabyte of zeros (quality 4: a couple of seconds to make)."""
    import brotli

    compressor = brotli.Compressor(quality=4, lgwin=24)
    block = b"\0" * (16 << 20)
    parts = [compressor.process(block) for _ in range(64 * gigabytes)]
    parts.append(compressor.finish())
    return b"".join(parts)


@functools.cache
def stacked_gzip_bomb(gigabytes: int = 1) -> bytes:
    """`Content-Encoding: gzip, gzip`: zeros gzipped twice, a few KB per gigabyte.

    The inner stream repeats one block compressed after a full flush (same state, same bytes),
    so it costs milliseconds to make. Its trailer's CRC is left at zero (2 s to compute for a
    gigabyte): a reader never gets that far before the size cap, and one without the cap has
    expanded the whole gigabyte before it looks.
    """
    block = 1 << 20
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = deflate.compress(b"\0" * block) + deflate.flush(zlib.Z_FULL_FLUSH)
    count = 1024 * gigabytes
    inner = b"".join(
        (
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff",  # gzip header, no name, no time
            piece * count,
            deflate.flush(),
            b"\x00\x00\x00\x00",  # CRC-32, not computed (see above)
            ((count * block) & 0xFFFFFFFF).to_bytes(4, "little"),
        )
    )
    return gzip.compress(inner, 9)


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body)


def slow_headers(seconds: float) -> Route:
    def serve(handler: Handler) -> None:
        time.sleep(seconds)
        handler.send(200, rss(story_items(1)))

    return serve


def dripping(seconds: float) -> Route:
    """Headers at once, then a byte now and then: only a total timeout catches it."""

    def serve(handler: Handler) -> None:
        def chunks() -> Iterator[bytes]:
            body = rss(story_items(3))
            deadline = time.monotonic() + seconds
            for index in range(0, len(body), 20):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
                yield body[index : index + 20]

        handler.stream(chunks(), "application/rss+xml")

    return serve
