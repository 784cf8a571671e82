"""Postmark: up to 500 messages per `POST /email/batch`, one result per message, in order.

Postmark answers 200 for a batch even when some messages are refused; each element carries
its own `ErrorCode`: 0 sent, 406 inactive recipient (suppressed: never send again), 300 invalid
request, other codes failed for that message.

Postmark has no idempotency key, but it can be asked: every message carries its delivery id as
metadata (`Metadata.delivery_id`), and the outbound message search (`GET /messages/outbound`
with `metadata_delivery_id=...`; one metadata field per search, count and offset required)
finds a message it accepted. `find_sent` asks that for each delivery in doubt, so a batch whose
answer was lost (or whose sender died) is not sent again to those Postmark already has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from digest.dates import parse_date
from digest.errors import PermanentDeliveryError
from digest.models import Outcome, OutgoingMessage, SendResult
from digest.send.base import CLOCK_SKEW, SentQuery
from digest.send.http import (
    HttpTransport,
    custom_headers,
    error_for_status,
    get,
    json_bodies,
    post,
    search_each,
)

__all__ = ["PostmarkTransport"]

INACTIVE_RECIPIENT = 406
INVALID_REQUEST = 300
SEARCH_CONCURRENCY = 8  # message searches in flight while reconciling one batch


class PostmarkTransport(HttpTransport):
    """Postmark batch API on a (broadcast) message stream."""

    name = "postmark"
    max_batch = 500
    supports_idempotency = False
    reconcile_after = 60.0  # the search's indexing delay is not documented; a minute is ample

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://api.postmarkapp.com",
        message_stream: str = "broadcast",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, client)
        self.message_stream = message_stream
        self._headers = {
            "X-Postmark-Server-Token": token,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        self._search_headers = {"X-Postmark-Server-Token": token, "Accept": "application/json"}

    def payload(self, messages: Sequence[OutgoingMessage]) -> bytes:
        """The batch body, serialized once."""
        return orjson.dumps([self._message(m) for m in messages])

    def _message(self, m: OutgoingMessage) -> dict[str, Any]:
        html, text = json_bodies(m)
        item: dict[str, Any] = {
            "From": m.from_addr,
            "To": m.to_header,
            "Subject": m.subject,
            "HtmlBody": html,
            "TextBody": text,
            "MessageStream": self.message_stream,
            "Headers": [{"Name": k, "Value": v} for k, v in custom_headers(m.headers).items()],
            "Metadata": {"delivery_id": str(m.delivery_id)},
        }
        if m.reply_to:
            item["ReplyTo"] = m.reply_to
        if m.tag:
            item["Tag"] = m.tag
        return item

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self._check_batch(messages)
        if not messages:
            return []
        response = await post(
            self._client,
            self.name,
            f"{self.base_url}/email/batch",
            content=self.payload(messages),
            headers=self._headers,
        )
        if response.status_code != 200:
            raise error_for_status(self.name, response)
        return parse_batch_response(messages, response.content)

    async def find_sent(self, queries: Sequence[SentQuery]) -> dict[int, str | None]:
        """The deliveries Postmark already accepted: one outbound message search each."""
        return await search_each(queries, self._search, concurrency=SEARCH_CONCURRENCY)

    async def _search(self, query: SentQuery) -> dict[int, str | None]:
        delivery_id = str(query.delivery_id)
        response = await get(
            self._client,
            self.name,
            f"{self.base_url}/messages/outbound",
            params={
                "count": "50",
                "offset": "0",
                "recipient": query.email,
                "metadata_delivery_id": delivery_id,
            },
            headers=self._search_headers,
        )
        if response.status_code != 200:
            raise error_for_status(self.name, response)
        try:
            found = orjson.loads(response.content).get("Messages") or []
        except (orjson.JSONDecodeError, AttributeError) as exc:
            raise PermanentDeliveryError(
                f"postmark: message search answer is not JSON: {response.content[:200]!r}"
            ) from exc
        earliest = query.since - CLOCK_SKEW
        for message in found:
            if not isinstance(message, dict):
                continue
            metadata = message.get("Metadata") or {}
            if str(metadata.get("delivery_id")) != delivery_id:
                continue
            received = parse_date(str(message.get("ReceivedAt") or ""))
            if received is not None and received < earliest:
                continue  # an older message with the same id (another database, long ago)
            return {query.delivery_id: message.get("MessageID")}
        return {}


def parse_batch_response(messages: Sequence[OutgoingMessage], body: bytes) -> list[SendResult]:
    """Map Postmark's ordered per-message answers to results."""
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PermanentDeliveryError(f"postmark: batch answer is not JSON: {body[:200]!r}") from exc
    if not isinstance(items, list) or len(items) != len(messages):
        # The batch was accepted but we cannot tell who got what; retrying could send twice.
        raise PermanentDeliveryError(
            f"postmark: expected {len(messages)} results, got {body[:200]!r}"
        )
    results = []
    for m, item in zip(messages, items, strict=True):
        code = item.get("ErrorCode", -1) if isinstance(item, dict) else -1
        text = item.get("Message", "") if isinstance(item, dict) else repr(item)
        if code == 0:
            results.append(SendResult(m.delivery_id, Outcome.SENT, item.get("MessageID")))
        elif code == INACTIVE_RECIPIENT:
            results.append(SendResult(m.delivery_id, Outcome.SUPPRESSED, error=f"406 {text}"))
        else:
            results.append(SendResult(m.delivery_id, Outcome.FAILED, error=f"{code} {text}"))
    return results
