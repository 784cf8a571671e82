"""Resend: up to 100 messages per `POST /emails/batch`, made safe to retry by `Idempotency-Key`.

The key is derived from the sorted delivery ids of the batch, and the messages are sent in
delivery-id order, so a batch re-sent after a crash carries the same key and the same body:
Resend replays its stored answer instead of delivering again (for 24 h). A different body under
the same key is refused with 409 `invalid_idempotent_request`, which we report as permanent:
something sent under that key already, and only a person can tell what.

Batches go in `permissive` validation mode, so one bad address fails only its own message
(`errors[{index, message}]`) instead of the whole batch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from digest.errors import PermanentDeliveryError, RetryableDeliveryError
from digest.models import Outcome, OutgoingMessage, SendResult
from digest.send.http import (
    HttpTransport,
    custom_headers,
    describe_error,
    error_for_status,
    json_text,
    post,
    retry_after_seconds_reset,
)

__all__ = ["ResendTransport", "idempotency_key"]

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def idempotency_key(delivery_ids: Sequence[int]) -> str:
    """Stable for the same set of delivery ids, whatever their order (64 chars, under 256)."""
    joined = ",".join(str(i) for i in sorted(delivery_ids))
    return "digest-" + hashlib.sha256(joined.encode()).hexdigest()[:57]


class ResendTransport(HttpTransport):
    """Resend batch API with idempotency keys and permissive batch validation."""

    name = "resend"
    max_batch = 100
    supports_idempotency = True

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.resend.com",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, client)
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "x-batch-validation": "permissive",
        }

    def payload(self, messages: Sequence[OutgoingMessage]) -> bytes:
        return orjson.dumps([self._message(m) for m in messages])

    @staticmethod
    def _message(m: OutgoingMessage) -> dict[str, Any]:
        tags = [{"name": "delivery_id", "value": str(m.delivery_id)}]
        if m.tag:
            tags.append({"name": "digest", "value": _TAG_UNSAFE.sub("_", m.tag)[:256]})
        item: dict[str, Any] = {
            "from": m.from_addr,
            "to": [m.to_header],
            "subject": m.subject,
            "html": json_text(m.html_json) if m.html_json is not None else m.html,
            "text": json_text(m.text_json) if m.text_json is not None else m.text,
            "headers": custom_headers(m.headers),
            "tags": tags,
        }
        if m.reply_to:
            item["reply_to"] = m.reply_to
        return item

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self._check_batch(messages)
        if not messages:
            return []
        ordered = sorted(range(len(messages)), key=lambda i: messages[i].delivery_id)
        batch = [messages[i] for i in ordered]
        headers = {
            **self._headers,
            "Idempotency-Key": idempotency_key([m.delivery_id for m in batch]),
        }
        response = await post(
            self._client,
            self.name,
            f"{self.base_url}/emails/batch",
            content=self.payload(batch),
            headers=headers,
        )
        if response.status_code == 409:
            error = _error_name(response)
            if error == "concurrent_idempotent_requests":
                # The first attempt is still being processed; asking again later replays it.
                raise RetryableDeliveryError(
                    f"resend: {describe_error(response)}",
                    retry_after=retry_after_seconds_reset(response.headers) or 1.0,
                )
            raise PermanentDeliveryError(
                f"resend: idempotency key {headers['Idempotency-Key']} was used for a "
                f"different batch ({describe_error(response)})"
            )
        if response.status_code != 200:
            raise error_for_status(self.name, response, retry_after_seconds_reset)
        in_batch_order = parse_batch_response(batch, response.content)
        results: list[SendResult | None] = [None] * len(messages)
        for position, result in zip(ordered, in_batch_order, strict=True):
            results[position] = result
        return [r for r in results if r is not None]


def _error_name(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    return str(body.get("name", "")) if isinstance(body, dict) else ""


def parse_batch_response(messages: Sequence[OutgoingMessage], body: bytes) -> list[SendResult]:
    """`{"data": [{"id"}...], "errors": [{"index", "message"}]}`: ids fill the other indexes."""
    try:
        parsed = orjson.loads(body)
        data = parsed.get("data") or []
        errors = parsed.get("errors") or []
        failed = {int(e["index"]): str(e.get("message", "")) for e in errors}
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
        raise PermanentDeliveryError(f"resend: unexpected batch answer {body[:200]!r}") from exc
    accepted = [i for i in range(len(messages)) if i not in failed]
    if len(data) != len(accepted) or any(i >= len(messages) or i < 0 for i in failed):
        raise PermanentDeliveryError(
            f"resend: {len(data)} ids and {len(failed)} errors for {len(messages)} messages"
        )
    results: list[SendResult] = []
    ids = iter(data)
    for index, m in enumerate(messages):
        if index in failed:
            results.append(SendResult(m.delivery_id, Outcome.FAILED, error=failed[index]))
        else:
            results.append(SendResult(m.delivery_id, Outcome.SENT, str(next(ids).get("id"))))
    return results
