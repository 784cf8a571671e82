"""What every HTTP transport shares: one client, status -> exception mapping, Retry-After.

The transports differ in payloads; they agree on what a failure of the whole request means:

* 401/403 -> `ProviderAuthError` (never retried: the issue stops),
* 429, 5xx, timeouts, dropped or refused connections -> `RetryableDeliveryError` with
  `retry_after` taken from `Retry-After` or the provider's own rate-limit headers,
* any other 4xx, or a request that could not even be formed (say, a credential that is not a
  valid header value) -> `PermanentDeliveryError`.

A failure that leaves it unknown whether the provider accepted the request (a read timeout, a
connection dropped once the request was sent, a 5xx) is marked `maybe_sent`; a refused
connection, a connect timeout, a 429 or another 4xx is not.

Transports that split one batch into several requests (SendGrid, Mailgun, SES) use
`stream_requests`, which yields each request's results as it is answered and keeps what
succeeded when only some requests fail (`gather_requests` collects them).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any

import httpx
import orjson

from digest.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ProviderAuthError,
    RetryableDeliveryError,
)
from digest.fetch import http_client, parse_retry_after
from digest.models import Outcome, OutgoingMessage, SendResult
from digest.send.base import SentQuery

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "HttpTransport",
    "custom_headers",
    "describe_error",
    "encode_multipart",
    "error_for_status",
    "gather_requests",
    "get",
    "group_by",
    "make_client",
    "parse_retry_after",
    "post",
    "retry_after_epoch_reset",
    "retry_after_seconds_reset",
    "search_each",
    "stream_requests",
]

# Connect fast or fail; give a 500-message batch time to be accepted.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=32)

RetryAfterFn = Callable[[httpx.Headers], float | None]


def make_client(timeout: httpx.Timeout | float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """One pooled client per transport: connections are reused across batches."""
    return http_client(timeout=timeout, limits=DEFAULT_LIMITS)


def retry_after_seconds_reset(headers: httpx.Headers) -> float | None:
    """Retry-After, else a `ratelimit-reset` given in seconds (Resend, IETF draft headers)."""
    found = parse_retry_after(headers.get("retry-after"))
    if found is not None:
        return found
    return parse_retry_after(headers.get("ratelimit-reset"))


def retry_after_epoch_reset(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Retry-After, else `X-RateLimit-Reset` given as a Unix epoch (SendGrid)."""
    found = parse_retry_after(headers.get("retry-after"), now=now)
    if found is not None:
        return found
    raw = headers.get("x-ratelimit-reset")
    if raw is None:
        return None
    try:
        reset = float(raw.strip())
    except ValueError:
        return None
    return max(0.0, reset - (time.time() if now is None else now))


def _retry_after_plain(headers: httpx.Headers) -> float | None:
    return parse_retry_after(headers.get("retry-after"))


def describe_error(response: httpx.Response) -> str:
    """A one-line reason from any provider's error body (JSON shapes differ), else the text."""
    text = response.text
    try:
        body: Any = orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        body = None
    parts: list[str] = []
    kind = response.headers.get("x-amzn-errortype")
    if kind:
        parts.append(kind.split(":", 1)[0])
    if isinstance(body, dict):
        if body.get("name"):
            parts.append(str(body["name"]))
        if "ErrorCode" in body:
            parts.append(f"ErrorCode {body['ErrorCode']}")
        message = body.get("Message") or body.get("message")
        if message:
            parts.append(str(message))
        errors = body.get("errors")
        if isinstance(errors, list):
            for item in errors[:5]:
                if isinstance(item, dict) and item.get("message"):
                    field = item.get("field")
                    parts.append(f"{field}: {item['message']}" if field else str(item["message"]))
    if not parts:
        parts.append(text.strip()[:200] or response.reason_phrase)
    return "; ".join(parts)


def error_for_status(
    provider: str, response: httpx.Response, retry_after: RetryAfterFn = _retry_after_plain
) -> DeliveryError:
    """The exception a non-2xx answer means for the whole request."""
    status = response.status_code
    reason = describe_error(response)
    if status in (401, 403):
        return ProviderAuthError(
            f"{provider}: credentials rejected (HTTP {status}: {reason}); "
            "check the API key or token in the configuration"
        )
    if status == 429 or status >= 500 or status == 408:
        return RetryableDeliveryError(
            f"{provider}: HTTP {status}: {reason}",
            retry_after=retry_after(response.headers),
            maybe_sent=status >= 500,  # the request got in; whether it was processed is unknown
        )
    return PermanentDeliveryError(f"{provider}: HTTP {status}: {reason}")


async def post(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
) -> httpx.Response:
    """POST bytes; transport-level failures become `RetryableDeliveryError`.

    A timeout or a dropped connection after the request was sent leaves it unknown whether the
    provider accepted it (`maybe_sent`); retrying is still right, and idempotency keys or a
    reconciliation with the provider keep it from sending twice.
    """
    try:
        return await client.post(url, content=content, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:  # never sent
        raise RetryableDeliveryError(f"{provider}: connection failed: {exc!r}") from exc
    except httpx.TimeoutException as exc:
        raise RetryableDeliveryError(
            f"{provider}: timed out ({type(exc).__name__})", maybe_sent=True
        ) from exc
    except httpx.LocalProtocolError as exc:  # we could not even form the request
        raise PermanentDeliveryError(f"{provider}: invalid request: {exc}") from exc
    except (httpx.TransportError, OSError) as exc:
        raise RetryableDeliveryError(
            f"{provider}: connection failed: {exc!r}", maybe_sent=True
        ) from exc


async def get(
    client: httpx.AsyncClient,
    provider: str,
    url: str,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str],
) -> httpx.Response:
    """GET (a search); transport-level failures become `RetryableDeliveryError`."""
    try:
        return await client.get(url, params=params, headers=headers)
    except httpx.LocalProtocolError as exc:
        raise PermanentDeliveryError(f"{provider}: invalid request: {exc}") from exc
    except (httpx.TransportError, OSError) as exc:
        raise RetryableDeliveryError(f"{provider}: search failed: {exc!r}") from exc


async def stream_requests(
    groups: Sequence[Sequence[int]],
    call: Callable[[Sequence[int]], Awaitable[list[SendResult]]],
    delivery_ids: Sequence[int],
    *,
    concurrency: int,
) -> AsyncGenerator[list[SendResult], None]:
    """Run one request per group of message indexes, bounded; yield each one's results as it is
    answered, so the caller records them while the others are still in flight.

    Failed requests are held back to the end. If every request failed, the most serious failure
    is raised (auth, then permanent, then retryable with the longest `retry_after`), as for a
    one-request batch. If some succeeded, raising would make the caller resend those, so the
    failed groups become per-message results instead: RETRY for transient and request-level
    problems (the next batch will raise them again if they persist), FAILED only for a permanent
    refusal of that request. Closing the stream early cancels the requests still running.
    """
    semaphore = asyncio.Semaphore(max(1, concurrency))
    Answer = tuple[Sequence[int], list[SendResult] | DeliveryError]

    async def one(indexes: Sequence[int]) -> Answer:
        async with semaphore:
            try:
                return indexes, await call(indexes)
            except DeliveryError as failure:
                return indexes, failure

    tasks = [asyncio.ensure_future(one(group)) for group in groups]
    failures: list[tuple[Sequence[int], DeliveryError]] = []
    answered = 0
    try:
        for next_done in asyncio.as_completed(tasks):
            group, outcome = await next_done
            if isinstance(outcome, DeliveryError):
                failures.append((group, outcome))
                continue
            answered += 1
            yield outcome
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if failures and not answered:
        raise _most_serious([failure for _, failure in failures])
    if failures:
        yield [
            _result_for_failure(delivery_ids[index], failure)
            for group, failure in failures
            for index in group
        ]


async def gather_requests(
    groups: Sequence[Sequence[int]],
    call: Callable[[Sequence[int]], Awaitable[list[SendResult]]],
    delivery_ids: Sequence[int],
    *,
    concurrency: int,
) -> list[SendResult]:
    """`stream_requests` collected: every message's result, in message order."""
    results: list[SendResult | None] = [None] * len(delivery_ids)
    position = {delivery_id: i for i, delivery_id in enumerate(delivery_ids)}
    async for part in stream_requests(groups, call, delivery_ids, concurrency=concurrency):
        for result in part:
            results[position[result.delivery_id]] = result
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"no result for message indexes {missing}")
    return [r for r in results if r is not None]


async def search_each(
    queries: Sequence[SentQuery],
    one: Callable[[SentQuery], Awaitable[dict[int, str | None]]],
    *,
    concurrency: int,
) -> dict[int, str | None]:
    """Ask the provider about each delivery (one search each, bounded) and merge what was found.

    Any failed search fails the whole reconciliation with the most serious failure: a delivery
    we could not ask about must not be taken for unsent.
    """
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def bounded(query: SentQuery) -> dict[int, str | None]:
        async with semaphore:
            return await one(query)

    outcomes = await asyncio.gather(*(bounded(q) for q in queries), return_exceptions=True)
    found: dict[int, str | None] = {}
    failures: list[DeliveryError] = []
    for outcome in outcomes:
        if isinstance(outcome, DeliveryError):
            failures.append(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            found.update(outcome)
    if failures:
        raise _most_serious(failures)
    return found


def _most_serious(failures: Sequence[DeliveryError]) -> DeliveryError:
    for kind in (ProviderAuthError, PermanentDeliveryError):
        for failure in failures:
            if isinstance(failure, kind):
                return failure
    retryable = [f for f in failures if isinstance(f, RetryableDeliveryError)]
    if retryable:
        return max(retryable, key=lambda f: f.retry_after or 0.0)
    return failures[0]


def _result_for_failure(delivery_id: int, failure: BaseException) -> SendResult:
    if isinstance(failure, PermanentDeliveryError) and not isinstance(failure, ProviderAuthError):
        return SendResult(delivery_id, Outcome.FAILED, error=str(failure))
    if isinstance(failure, RetryableDeliveryError):
        return SendResult(
            delivery_id,
            Outcome.RETRY,
            error=str(failure),
            retry_after=failure.retry_after,
            maybe_sent=failure.maybe_sent,
        )
    return SendResult(delivery_id, Outcome.RETRY, error=str(failure))


class HttpTransport:
    """Owns (or borrows) the httpx client; subclasses build requests and read answers."""

    name = "http"
    max_batch = 1
    supports_idempotency = False

    def __init__(self, base_url: str, client: httpx.AsyncClient | None) -> None:
        self.base_url = base_url.rstrip("/")
        self._owns_client = client is None
        self._client = client if client is not None else make_client()

    async def aclose(self) -> None:
        """Close the client only if this transport created it."""
        if self._owns_client:
            await self._client.aclose()

    def _check_batch(self, messages: Sequence[object]) -> None:
        if len(messages) > self.max_batch:
            raise RuntimeError(f"{self.name}: batch of {len(messages)} exceeds {self.max_batch}")


class GroupingHttpTransport(HttpTransport):
    """A provider whose one request can carry several recipients of the *same* content.

    Messages are grouped by `content_key` (identical messages but for the recipient), each group
    goes out as one request, groups concurrently. A group refused with 400/413 is re-sent one
    message a request, so only the invalid address fails (the provider names no culprit).
    """

    group_limit = 1  # recipients one request may carry
    concurrency = 8

    def content_key(self, message: OutgoingMessage) -> Hashable:
        """What must be equal for two messages to share one request."""
        raise NotImplementedError

    async def _send_group(self, group: Sequence[OutgoingMessage]) -> list[SendResult]:
        raise NotImplementedError

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self._check_batch(messages)
        if not messages:
            return []
        groups = group_by(messages, self.content_key, max_size=self.group_limit)
        return await self._send_groups(messages, groups)

    async def stream_batch(
        self, messages: Sequence[OutgoingMessage]
    ) -> AsyncGenerator[list[SendResult], None]:
        """Each request's results as it is answered (see `stream_requests`)."""
        self._check_batch(messages)
        if not messages:
            return
        groups = group_by(messages, self.content_key, max_size=self.group_limit)

        async def call(indexes: Sequence[int]) -> list[SendResult]:
            return await self._send_group([messages[i] for i in indexes])

        stream = stream_requests(
            groups, call, [m.delivery_id for m in messages], concurrency=self.concurrency
        )
        async with contextlib.aclosing(stream):
            async for results in stream:
                yield results

    async def _one_by_one(self, group: Sequence[OutgoingMessage]) -> list[SendResult]:
        return await self._send_groups(group, [[i] for i in range(len(group))])

    async def _send_groups(
        self, messages: Sequence[OutgoingMessage], groups: Sequence[Sequence[int]]
    ) -> list[SendResult]:
        async def call(indexes: Sequence[int]) -> list[SendResult]:
            return await self._send_group([messages[i] for i in indexes])

        return await gather_requests(
            groups, call, [m.delivery_id for m in messages], concurrency=self.concurrency
        )


# Headers the JSON APIs take as fields of their own (or set themselves); everything else in
# OutgoingMessage.headers (List-Unsubscribe, List-Unsubscribe-Post, List-Id, Message-ID...)
# travels as a custom header. Date is the provider's to stamp when it accepts the message; leaving
# it out also keeps a batch's body byte-identical when it is sent again after a crash, which is
# what an idempotency key needs.
_FIELD_HEADERS = frozenset(
    {
        "date",
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "reply-to",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
    }
)


def json_bodies(message: OutgoingMessage) -> tuple[Any, Any]:
    """The html and text bodies for orjson: pre-encoded JSON literals when the message has them.

    Personalized messages carry their bodies already escaped as JSON (`html_json`), so a batch of
    messages of 60 KB each is spliced together instead of escaped again, message by message.
    """
    html, text = message.html_json, message.text_json
    return (
        orjson.Fragment(html) if html is not None else message.html,
        orjson.Fragment(text) if text is not None else message.text,
    )


def custom_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The message's headers that must be passed to a JSON API as custom headers."""
    return {k: v for k, v in headers.items() if k.lower() not in _FIELD_HEADERS}


def encode_multipart(fields: Sequence[tuple[str, str]]) -> tuple[bytes, str]:
    """`multipart/form-data` bytes for repeated text fields (Mailgun's `to`, `h:*`, `v:*`)."""
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for name, value in fields:
        safe = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{safe}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def group_by(
    messages: Sequence[Any], key: Callable[[Any], Any], *, max_size: int
) -> list[list[int]]:
    """Indexes of messages whose `key` is equal, in first-seen order.

    A group never holds the same recipient address twice (providers refuse duplicates or key
    per-recipient data by address) and never exceeds `max_size`.
    """
    open_groups: dict[Any, tuple[list[int], set[str]]] = {}
    groups: list[list[int]] = []
    for index, m in enumerate(messages):
        k = key(m)
        address = m.to_email.lower()
        current = open_groups.get(k)
        if current is None or address in current[1] or len(current[0]) >= max_size:
            current = ([], set())
            open_groups[k] = current
            groups.append(current[0])
        current[0].append(index)
        current[1].add(address)
    return groups
