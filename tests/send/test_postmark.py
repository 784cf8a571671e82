"""Postmark transport against the sandbox: batch shape, per-message codes, whole-request errors."""

from __future__ import annotations

import httpx
import pytest

from digest.errors import ProviderAuthError, RetryableDeliveryError
from digest.models import Outcome
from digest.send.postmark import PostmarkTransport
from digest.testing.sandbox import RunningSandbox


def transport(sandbox: RunningSandbox, client: httpx.AsyncClient, token: str = "pm-sandbox-token"):
    return PostmarkTransport(token, base_url=sandbox.base_url, client=client)


async def test_batch_reaches_each_recipient_with_their_own_content(sandbox, client, make_messages):
    messages = make_messages(3)
    results = await transport(sandbox, client).send_batch(messages)

    assert [r.delivery_id for r in results] == [1, 2, 3]
    assert all(r.outcome is Outcome.SENT for r in results)
    recorded = sandbox.state.messages("postmark")
    assert [m.to for m in recorded] == [m.to_email for m in messages]
    for sent, result, message in zip(recorded, results, messages, strict=True):
        assert sent.message_id == result.provider_message_id
        assert sent.html == message.html and sent.text == message.text
        assert sent.headers["List-Unsubscribe"] == message.headers["List-Unsubscribe"]
        assert sent.metadata == {"delivery_id": str(message.delivery_id)}
        assert sent.warnings == []
    assert sandbox.state.stats()["counters"]["requests.postmark"] == 1
