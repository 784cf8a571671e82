"""The one small protocol every transport implements.

A transport takes a batch of personalized messages (at most `max_batch`) and answers one
`SendResult` per message, in order. Per-message problems are results, not exceptions. A failure
of the whole request raises: `RetryableDeliveryError` (429, 5xx, timeouts, dropped connections;
the ledger retries with backoff, honouring `retry_after`), `ProviderAuthError` (401/403: the issue
stops at once), or `PermanentDeliveryError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from digest.models import OutgoingMessage, SendResult


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
