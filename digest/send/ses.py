"""Amazon SES v2 `SendEmail` with raw MIME, one signed request per message, run concurrently.

Raw content (base64 of `OutgoingMessage.mime`) carries every header we set, List-Unsubscribe
and List-Unsubscribe-Post included, exactly as built. `SendBulkEmail` would batch, but it is
template-only, so it cannot carry our per-recipient HTML. Requests are signed with botocore's
`SigV4Auth` over the exact bytes sent; nothing about the signature is done by hand.

SES has no idempotency token. Errors arrive as an `x-amzn-ErrorType` header: message-level
refusals (`MessageRejected`, `BadRequestException`) fail that message only; account-level ones
(sending paused, unverified MAIL FROM, unknown configuration set) fail the request.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import httpx
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from digest.errors import PermanentDeliveryError, RetryableDeliveryError
from digest.models import Outcome, OutgoingMessage, SendResult
from digest.send.base import collect
from digest.send.http import (
    HttpTransport,
    describe_error,
    error_for_status,
    parse_retry_after,
    post,
    stream_requests,
)

__all__ = ["SesTransport", "bulk_entry_outcome"]

SEND_EMAIL_PATH = "/v2/email/outbound-emails"
_MESSAGE_LEVEL = frozenset({"MessageRejected", "BadRequestException"})
_THROTTLED = frozenset({"TooManyRequestsException", "LimitExceededException"})
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

# SendBulkEmail's per-entry `Status` (SES-model enum) -> what it means for that recipient.
_BULK_STATUS = {
    "SUCCESS": Outcome.SENT,
    "MESSAGE_REJECTED": Outcome.FAILED,
    "INVALID_PARAMETER": Outcome.FAILED,
    "FAILED": Outcome.FAILED,
    "TRANSIENT_FAILURE": Outcome.RETRY,
    "ACCOUNT_THROTTLED": Outcome.RETRY,
    "ACCOUNT_DAILY_QUOTA_EXCEEDED": Outcome.RETRY,
    # Account or configuration problems, not the recipient's: try again once fixed.
    "ACCOUNT_SUSPENDED": Outcome.RETRY,
    "ACCOUNT_SENDING_PAUSED": Outcome.RETRY,
    "CONFIGURATION_SET_SENDING_PAUSED": Outcome.RETRY,
    "MAIL_FROM_DOMAIN_NOT_VERIFIED": Outcome.RETRY,
    "CONFIGURATION_SET_NOT_FOUND": Outcome.RETRY,
    "TEMPLATE_NOT_FOUND": Outcome.RETRY,
    "INVALID_SENDING_POOL_NAME": Outcome.RETRY,
}


def bulk_entry_outcome(status: str) -> Outcome:
    """The outcome of one `BulkEmailEntryResults` entry; unknown statuses fail the recipient."""
    return _BULK_STATUS.get(status, Outcome.FAILED)


class SesTransport(HttpTransport):
    """SES v2 over httpx, SigV4-signed by botocore."""

    name = "ses"
    max_batch = 50
    supports_idempotency = False

    def __init__(
        self,
        access_key_id: str,
        secret_access_key: str,
        region: str,
        *,
        session_token: str | None = None,
        base_url: str | None = None,
        configuration_set: str | None = None,
        client: httpx.AsyncClient | None = None,
        concurrency: int = 10,
    ) -> None:
        super().__init__(base_url or f"https://email.{region}.amazonaws.com", client)
        self.region = region
        self.configuration_set = configuration_set
        self.concurrency = concurrency
        self._signer = SigV4Auth(
            Credentials(access_key_id, secret_access_key, session_token), "ses", region
        )

    def payload(self, m: OutgoingMessage) -> bytes:
        body: dict[str, Any] = {
            "FromEmailAddress": m.from_addr,
            "Destination": {"ToAddresses": [m.to_email]},
            "Content": {"Raw": {"Data": base64.b64encode(m.mime).decode("ascii")}},
            "EmailTags": [{"Name": "delivery_id", "Value": str(m.delivery_id)}],
        }
        if m.tag:
            value = _TAG_UNSAFE.sub("_", m.tag)[:256]
            body["EmailTags"].append({"Name": "digest", "Value": value})
        if self.configuration_set:
            body["ConfigurationSetName"] = self.configuration_set
        return orjson.dumps(body)

    def signed_headers(self, url: str, body: bytes) -> dict[str, str]:
        """SigV4 headers for exactly these bytes (Authorization, X-Amz-Date, token)."""
        request = AWSRequest(
            method="POST", url=url, data=body, headers={"Content-Type": "application/json"}
        )
        self._signer.add_auth(request)
        return dict(request.headers.items())

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return await collect(self.stream_batch(messages), messages)

    async def stream_batch(
        self, messages: Sequence[OutgoingMessage]
    ) -> AsyncGenerator[list[SendResult], None]:
        """One request per message, concurrently; each result as its request is answered."""
        self._check_batch(messages)
        if not messages:
            return

        async def call(indexes: Sequence[int]) -> list[SendResult]:
            return [await self._send_one(messages[indexes[0]])]

        stream = stream_requests(
            [[i] for i in range(len(messages))],
            call,
            [m.delivery_id for m in messages],
            concurrency=self.concurrency,
        )
        async with contextlib.aclosing(stream):
            async for results in stream:
                yield results

    async def _send_one(self, m: OutgoingMessage) -> SendResult:
        url = self.base_url + SEND_EMAIL_PATH
        body = self.payload(m)
        response = await post(
            self._client, self.name, url, content=body, headers=self.signed_headers(url, body)
        )
        if response.status_code == 200:
            try:
                message_id = orjson.loads(response.content).get("MessageId")
            except (orjson.JSONDecodeError, AttributeError):
                message_id = None
            return SendResult(m.delivery_id, Outcome.SENT, message_id)
        kind = response.headers.get("x-amzn-errortype", "").split(":", 1)[0]
        if response.status_code == 400 and kind in _MESSAGE_LEVEL:
            return SendResult(m.delivery_id, Outcome.FAILED, error=describe_error(response))
        if kind in _THROTTLED:
            raise RetryableDeliveryError(
                f"ses: {describe_error(response)}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if response.status_code == 400:
            raise PermanentDeliveryError(f"ses: {describe_error(response)}")
        raise error_for_status(self.name, response)
