"""Mailgun Messages API: `POST /v3/{domain}/messages` as multipart form data.

Batch sending (many `to` plus `recipient-variables`) only personalizes through
`%recipient.x%` placeholders in one shared body and shared `h:` headers. Our messages arrive
already personalized (own HTML, own List-Unsubscribe URL), and placeholder substitution inside
headers is not something we could verify, so a call carries several recipients only when
their messages are identical in everything but the address; `recipient-variables` is always
sent, so recipients never see each other and each one's `v:delivery_id` is its own. In
practice that means one call per message, issued concurrently (bounded) over one pooled
client. A refused shared call (400) is retried one message per call, so only the bad address
fails.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from digest.models import Outcome, OutgoingMessage, SendResult
from digest.send.http import (
    HttpTransport,
    custom_headers,
    describe_error,
    encode_multipart,
    error_for_status,
    gather_requests,
    group_by,
    post,
)

__all__ = ["MailgunTransport"]

MAX_RECIPIENTS = 1000


def _content_key(m: OutgoingMessage) -> tuple[Any, ...]:
    return (
        m.from_addr,
        m.reply_to,
        m.subject,
        m.html,
        m.text,
        m.tag,
        tuple(sorted(custom_headers(m.headers).items())),
    )


class MailgunTransport(HttpTransport):
    """Mailgun sending domain, HTTP Basic `api:<key>`."""

    name = "mailgun"
    max_batch = 100
    supports_idempotency = False

    def __init__(
        self,
        api_key: str,
        domain: str,
        *,
        base_url: str = "https://api.mailgun.net",
        client: httpx.AsyncClient | None = None,
        concurrency: int = 8,
    ) -> None:
        super().__init__(base_url, client)
        self.domain = domain
        self.concurrency = concurrency
        token = base64.b64encode(f"api:{api_key}".encode()).decode()
        self._auth = f"Basic {token}"

    def form(self, messages: Sequence[OutgoingMessage]) -> tuple[bytes, str]:
        """The multipart body for messages identical but for their recipient."""
        first = messages[0]
        fields: list[tuple[str, str]] = [("from", first.from_addr)]
        fields.extend(("to", m.to_header) for m in messages)
        fields += [("subject", first.subject), ("text", first.text), ("html", first.html)]
        if first.reply_to:
            fields.append(("h:Reply-To", first.reply_to))
        fields.extend((f"h:{k}", v) for k, v in custom_headers(first.headers).items())
        tag = (first.tag or "").encode("ascii", "ignore").decode()[:128]
        if tag:  # Mailgun refuses non-ASCII tags and tags over 128 characters
            fields.append(("o:tag", tag))
        variables = {m.to_email: {"delivery_id": str(m.delivery_id)} for m in messages}
        fields.append(("recipient-variables", orjson.dumps(variables).decode()))
        fields.append(("v:delivery_id", "%recipient.delivery_id%"))
        return encode_multipart(fields)

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        self._check_batch(messages)
        if not messages:
            return []
        groups = group_by(messages, _content_key, max_size=MAX_RECIPIENTS)

        async def call(indexes: Sequence[int]) -> list[SendResult]:
            return await self._send_group([messages[i] for i in indexes])

        return await gather_requests(
            groups, call, [m.delivery_id for m in messages], concurrency=self.concurrency
        )

    async def _send_group(self, group: Sequence[OutgoingMessage]) -> list[SendResult]:
        body, content_type = self.form(group)
        response = await post(
            self._client,
            self.name,
            f"{self.base_url}/v3/{self.domain}/messages",
            content=body,
            headers={
                "Authorization": self._auth,
                "Content-Type": content_type,
                "Accept": "application/json",
            },
        )
        if response.status_code == 200:
            try:
                message_id = orjson.loads(response.content).get("id")
            except (orjson.JSONDecodeError, AttributeError):
                message_id = None
            return [SendResult(m.delivery_id, Outcome.SENT, message_id) for m in group]
        if response.status_code in (400, 413):
            if len(group) > 1:  # find who is invalid; the rest go through
                return await self._one_by_one(group)
            reason = f"HTTP {response.status_code}: {describe_error(response)}"
            return [SendResult(m.delivery_id, Outcome.FAILED, error=reason) for m in group]
        raise error_for_status(self.name, response)

    async def _one_by_one(self, group: Sequence[OutgoingMessage]) -> list[SendResult]:
        async def call(indexes: Sequence[int]) -> list[SendResult]:
            return await self._send_group([group[i] for i in indexes])

        singles = [[i] for i in range(len(group))]
        return await gather_requests(
            singles, call, [m.delivery_id for m in group], concurrency=self.concurrency
        )
