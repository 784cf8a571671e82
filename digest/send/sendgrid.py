"""SendGrid v3 Mail Send: one request per distinct content, one personalization per recipient.

Our messages are personalized by the caller (each usually has its own unsubscribe link in the
HTML), so one shared body with `substitutions` would mean guessing which parts differ. Instead,
messages whose subject, html, text, sender and tag are identical share one request, each with
its own personalization (recipient, its own headers such as List-Unsubscribe, and
`custom_args.delivery_id`); every other message gets its own request. Requests run
concurrently (bounded) over one pooled client. SendGrid is all-or-nothing per request, so when
a shared request is refused as invalid (400) its messages are retried one per request and only
the invalid ones fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

import httpx
import orjson

from digest.models import Outcome, OutgoingMessage, SendResult
from digest.send.http import (
    HttpTransport,
    custom_headers,
    describe_error,
    error_for_status,
    gather_requests,
    group_by,
    post,
    retry_after_epoch_reset,
)

__all__ = ["SendGridTransport"]

MAX_PERSONALIZATIONS = 1000


def _address(value: str) -> dict[str, str]:
    name, email = parseaddr(value)
    return {"email": email, "name": name} if name else {"email": email or value}


def _content_key(m: OutgoingMessage) -> tuple[str, str | None, str, str, str, str | None]:
    return (m.from_addr, m.reply_to, m.subject, m.html, m.text, m.tag)


class SendGridTransport(HttpTransport):
    """SendGrid `/v3/mail/send`, grouped by identical content."""

    name = "sendgrid"
    max_batch = 100
    supports_idempotency = False

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = "https://api.sendgrid.com",
        client: httpx.AsyncClient | None = None,
        concurrency: int = 8,
    ) -> None:
        super().__init__(base_url, client)
        self.concurrency = concurrency
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def payload(self, messages: Sequence[OutgoingMessage]) -> bytes:
        """One request body for messages that share their content."""
        first = messages[0]
        body: dict[str, Any] = {
            "personalizations": [
                {
                    "to": [
                        {"email": m.to_email, "name": m.to_name}
                        if m.to_name
                        else {"email": m.to_email}
                    ],
                    "headers": custom_headers(m.headers),
                    "custom_args": {"delivery_id": str(m.delivery_id)},
                }
                for m in messages
            ],
            "from": _address(first.from_addr),
            "subject": first.subject,
            "content": [
                {"type": "text/plain", "value": first.text},
                {"type": "text/html", "value": first.html},
            ],
        }
        if first.reply_to:
            body["reply_to"] = _address(first.reply_to)
        if first.tag:
            body["categories"] = [first.tag[:255]]
        return orjson.dumps(body)

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self._check_batch(messages)
        if not messages:
            return []
        groups = group_by(messages, _content_key, max_size=MAX_PERSONALIZATIONS)

        async def call(indexes: Sequence[int]) -> list[SendResult]:
            return await self._send_group([messages[i] for i in indexes])

        return await gather_requests(
            groups, call, [m.delivery_id for m in messages], concurrency=self.concurrency
        )

    async def _send_group(self, group: Sequence[OutgoingMessage]) -> list[SendResult]:
        response = await post(
            self._client,
            self.name,
            f"{self.base_url}/v3/mail/send",
            content=self.payload(group),
            headers=self._headers,
        )
        if response.status_code in (200, 202):
            message_id = response.headers.get("x-message-id")
            return [SendResult(m.delivery_id, Outcome.SENT, message_id) for m in group]
        if response.status_code in (400, 413):
            if len(group) > 1:  # find who is invalid; the rest go through
                return await self._one_by_one(group)
            reason = f"HTTP {response.status_code}: {describe_error(response)}"
            return [SendResult(m.delivery_id, Outcome.FAILED, error=reason) for m in group]
        raise error_for_status(self.name, response, retry_after_epoch_reset)

    async def _one_by_one(self, group: Sequence[OutgoingMessage]) -> list[SendResult]:
        async def call(indexes: Sequence[int]) -> list[SendResult]:
            return await self._send_group([group[i] for i in indexes])

        singles = [[i] for i in range(len(group))]
        return await gather_requests(
            singles, call, [m.delivery_id for m in group], concurrency=self.concurrency
        )
