"""The small protocol every transport implements, and the two capabilities some add.

A transport takes a batch of personalized messages (at most `max_batch`) and answers one
`SendResult` per message, in order. Per-message problems are results, not exceptions. A failure
of the whole request raises: `RetryableDeliveryError` (429, 5xx, timeouts, dropped connections;
the ledger retries with backoff, honouring `retry_after`), `ProviderAuthError` (401/403: the issue
stops at once), or `PermanentDeliveryError`.

Two capabilities narrow what a crash can send twice:

* `StreamingTransport.stream_batch` yields results as the provider accepts them, one request at a
  time, and the ledger records each before asking for the next. A transport that sends one
  message after another (SMTP) sends the next only once the last is recorded, so a sender killed
  mid-batch leaves at most the one message in flight unrecorded. Transports that send one request
  per message concurrently leave at most the requests in flight.
* `ReconcilingTransport.find_sent` asks the provider which of some deliveries it already accepted
  (by the delivery id sent with each message), for providers that keep searchable records but
  take no idempotency key. The ledger asks before re-sending a delivery in doubt.

Batch APIs that answer a whole batch in one request (Postmark, Resend) do neither of the first:
they are recorded once per batch, as fast as before.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from digest.errors import DeliveryError, RetryableDeliveryError
from digest.models import Outcome, OutgoingMessage, SendResult


@runtime_checkable
class Transport(Protocol):
    name: str
    max_batch: int
    supports_idempotency: bool

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        """Send the messages; one result per message, in the same order."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class StreamingTransport(Transport, Protocol):
    def stream_batch(
        self, messages: Sequence[OutgoingMessage]
    ) -> AsyncGenerator[list[SendResult], None]:
        """Yield the results of each request as it is answered (one message, or a group).

        The next message goes out only when the caller asks for the next results (a sequential
        transport), so the caller records what it was given first. A failure of a request
        raises, as `send_batch` would; results already yielded stand.
        """
        ...


# How far a provider's clock may be behind ours: searches by time start this much earlier.
CLOCK_SKEW = timedelta(minutes=15)


@dataclass(frozen=True)
class SentQuery:
    """One delivery to look for at the provider: its id, its recipient, and a time before
    which no attempt to send it began."""

    delivery_id: int
    email: str
    since: datetime


@runtime_checkable
class ReconcilingTransport(Transport, Protocol):
    # Seconds after an attempt before the provider's search surely lists what it accepted.
    reconcile_after: float

    async def find_sent(self, queries: Sequence[SentQuery]) -> dict[int, str | None]:
        """The deliveries among `queries` the provider already accepted, each with the
        provider's message id (None if it gave none). Raises DeliveryError when it cannot ask."""
        ...


async def collect(
    stream: AsyncIterator[list[SendResult]], messages: Sequence[OutgoingMessage]
) -> list[SendResult]:
    """`send_batch` over `stream_batch`: every result, in order.

    A failure after some messages went out keeps their results and asks to retry the rest (the
    next batch raises it again if it persists); a failure before any raises, as one request would.
    """
    results: list[SendResult] = []
    try:
        async for part in stream:
            results.extend(part)
    except DeliveryError as exc:
        if not results:
            raise
        done = {r.delivery_id for r in results}
        retry_after = exc.retry_after if isinstance(exc, RetryableDeliveryError) else None
        maybe_sent = isinstance(exc, RetryableDeliveryError) and exc.maybe_sent
        results.extend(
            SendResult(
                m.delivery_id,
                Outcome.RETRY,
                error=str(exc),
                retry_after=retry_after,
                maybe_sent=maybe_sent,
            )
            for m in messages
            if m.delivery_id not in done
        )
    order = {m.delivery_id: i for i, m in enumerate(messages)}
    return sorted(results, key=lambda r: order[r.delivery_id])
