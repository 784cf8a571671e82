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

Mailgun has no idempotency key, but it can be asked: every message carries its delivery id as a
custom variable (`v:delivery_id`), which Mailgun's events API returns in each event's
`user-variables`. `find_sent` lists the `accepted` events of each recipient in doubt since its
attempt began (`GET /v3/{domain}/events?event=accepted&recipient=...&begin=...&ascending=yes`,
following `paging.next`) and matches the delivery id. Events can take up to about half an hour
to be searchable, so a delivery in doubt is looked for only after `reconcile_after`; the events
API keeps them for days (3 to 30, by plan).
"""

from __future__ import annotations

import base64
from collections.abc import Hashable, Sequence
from typing import Any

import httpx
import orjson

from digest.errors import PermanentDeliveryError
from digest.models import Outcome, OutgoingMessage, SendResult
from digest.send.base import CLOCK_SKEW, SentQuery
from digest.send.http import (
    GroupingHttpTransport,
    custom_headers,
    describe_error,
    encode_multipart,
    error_for_status,
    get,
    post,
    search_each,
)

__all__ = ["MailgunTransport"]

MAX_RECIPIENTS = 1000
SEARCH_CONCURRENCY = 8  # event searches in flight while reconciling one batch
SEARCH_PAGES = 20  # pages of one recipient's events read at most (300 events each)


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


class MailgunTransport(GroupingHttpTransport):
    """Mailgun sending domain, HTTP Basic `api:<key>`."""

    name = "mailgun"
    max_batch = 100
    supports_idempotency = False
    # Events reach the events API's storage out of order and late; Mailgun's event-polling
    # guide treats pages younger than "e.g. half an hour" as not yet complete.
    reconcile_after = 1800.0
    group_limit = MAX_RECIPIENTS

    def content_key(self, message: OutgoingMessage) -> Hashable:
        return _content_key(message)

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

    async def find_sent(self, queries: Sequence[SentQuery]) -> dict[int, str | None]:
        """The deliveries Mailgun already accepted: one events search per recipient."""
        return await search_each(queries, self._search, concurrency=SEARCH_CONCURRENCY)

    async def _search(self, query: SentQuery) -> dict[int, str | None]:
        delivery_id = str(query.delivery_id)
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        url: str | None = f"{self.base_url}/v3/{self.domain}/events"
        params: dict[str, str] | None = {
            "event": "accepted",
            "recipient": query.email,
            "begin": f"{(query.since - CLOCK_SKEW).timestamp():.0f}",
            "ascending": "yes",
            "limit": "300",
        }
        for _ in range(SEARCH_PAGES):
            if url is None:
                break
            response = await get(self._client, self.name, url, params=params, headers=headers)
            if response.status_code != 200:
                raise error_for_status(self.name, response)
            try:
                page = orjson.loads(response.content)
                items = page.get("items") or []
                following = (page.get("paging") or {}).get("next")
            except (orjson.JSONDecodeError, AttributeError) as exc:
                raise PermanentDeliveryError(
                    f"mailgun: events answer is not JSON: {response.content[:200]!r}"
                ) from exc
            for event in items:
                variables = event.get("user-variables") if isinstance(event, dict) else None
                if isinstance(variables, dict) and str(variables.get("delivery_id")) == delivery_id:
                    headers_seen = (event.get("message") or {}).get("headers") or {}
                    message_id = headers_seen.get("message-id")
                    return {query.delivery_id: f"<{message_id}>" if message_id else None}
            # Only follow pages on the same API (the next page's URL comes from the answer, and
            # our credentials go with it).
            url = following if items and str(following).startswith(self.base_url) else None
            params = None
        return {}
