"""Postmark: up to 500 messages per `POST /email/batch`, one result per message, in order.

Postmark answers 200 for a batch even when some messages are refused; each element carries
its own `ErrorCode`: 0 sent, 406 inactive recipient (suppressed: never send again), 300 invalid
request, other codes failed for that message. Postmark has no idempotency key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from digest.errors import PermanentDeliveryError
from digest.models import Outcome, OutgoingMessage, SendResult
from digest.send.http import HttpTransport, custom_headers, error_for_status, json_text, post

__all__ = ["PostmarkTransport"]

INACTIVE_RECIPIENT = 406
INVALID_REQUEST = 300


class PostmarkTransport(HttpTransport):
    """Postmark batch API on a (broadcast) message stream."""

    name = "postmark"
    max_batch = 500
    supports_idempotency = False

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

    def payload(self, messages: Sequence[OutgoingMessage]) -> bytes:
        """The batch body, serialized once."""
        return orjson.dumps([self._message(m) for m in messages])

    def _message(self, m: OutgoingMessage) -> dict[str, Any]:
        item: dict[str, Any] = {
            "From": m.from_addr,
            "To": m.to_header,
            "Subject": m.subject,
            "HtmlBody": json_text(m.html_json) if m.html_json is not None else m.html,
            "TextBody": json_text(m.text_json) if m.text_json is not None else m.text,
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
