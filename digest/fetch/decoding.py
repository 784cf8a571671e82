"""Reading a response body within a size cap, counted on the decoded bytes as they come.

Content-Encoding is undone here, not by httpx, one bounded piece at a time: each step of a
stack of encodings (at most MAX_ENCODINGS) is a generator, and every piece the first step yields
goes through the next steps and is counted before the first is asked for more. A 1 KB brotli
bomb or a `gzip, gzip` one expanding to gigabytes costs a few 64 KB pieces before the cap cuts
it. Used for gathering (`Fetcher`) and for the SNS signing certificate.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

from digest.errors import FetchError

__all__ = ["MAX_ENCODINGS", "read_capped"]

_CHUNK = 64 * 1024  # most bytes one decompression step may produce
MAX_ENCODINGS = 2  # stacked Content-Encodings undone at most ("gzip, br" yes, a third no)


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


def _capped(url: str, content: bytes, cap: int) -> bytes:
    if len(content) > cap:
        raise FetchError(f"{url}: response larger than {_mb(cap)}, cut off")
    return content


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"
