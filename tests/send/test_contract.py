"""The contract every HTTP transport keeps, checked against the sandbox over real sockets.

One result per message in order; 401/403 -> ProviderAuthError; 429, 5xx, timeouts and dropped
connections -> RetryableDeliveryError (with retry_after when the provider said); the sandbox's
record shows who got what.
"""

from __future__ import annotations

import asyncio

import pytest

from digest.errors import ProviderAuthError, RetryableDeliveryError
from digest.models import Outcome
from digest.send.base import Transport

pytestmark = pytest.mark.parametrize(
    "provider", ["postmark", "sendgrid", "mailgun", "resend", "ses"]
)


def _same_text(got: str | None, sent: str) -> bool:
    return got is not None and got.replace("\r\n", "\n").rstrip("\n") == sent.rstrip("\n")


async def test_is_a_transport(provider, sandbox, client, make_transport):
    transport = make_transport(provider, sandbox.base_url, client)
    assert isinstance(transport, Transport)
    assert transport.name == provider
    assert transport.max_batch >= 1
    assert transport.supports_idempotency is (provider == "resend")
    assert await transport.send_batch([]) == []


async def test_success_delivers_each_message_to_its_recipient(
    provider, sandbox, client, make_messages, make_transport
):
    messages = make_messages(4)
    results = await make_transport(provider, sandbox.base_url, client).send_batch(messages)

    assert [r.delivery_id for r in results] == [m.delivery_id for m in messages]
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert all(r.provider_message_id for r in results)
    recorded = {m.to: m for m in sandbox.state.messages(provider)}
    assert sorted(recorded) == sorted(m.to_email for m in messages)
    for message, result in zip(messages, results, strict=True):
        got = recorded[message.to_email]
        assert got.message_id == result.provider_message_id
        assert got.subject == message.subject
        # SES carries the MIME form, whose parts end with a line break.
        assert _same_text(got.html, message.html)
        assert _same_text(got.text, message.text)
        assert got.headers["List-Unsubscribe"] == message.headers["List-Unsubscribe"]
        assert got.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert got.metadata["delivery_id"] == str(message.delivery_id)
        assert got.warnings == []


async def test_rejected_credentials_raise_auth_error(
    provider, sandbox, client, make_messages, make_transport
):
    transport = make_transport(provider, sandbox.base_url, client, bad_credentials=True)
    with pytest.raises(ProviderAuthError, match="credentials rejected"):
        await transport.send_batch(make_messages(2))
    assert sandbox.state.messages() == []


async def test_429_with_retry_after(provider, sandbox, client, make_messages, make_transport):
    sandbox.state.fail_next(1, status=429, retry_after=7, provider=provider)
    transport = make_transport(provider, sandbox.base_url, client)
    with pytest.raises(RetryableDeliveryError) as caught:
        await transport.send_batch(make_messages(1))
    assert caught.value.retry_after == 7
    assert sandbox.state.messages() == []
    # The fault was for one request only: the retry goes through.
    results = await transport.send_batch(make_messages(2))
    assert {r.outcome for r in results} == {Outcome.SENT}


async def test_429_without_retry_after(provider, sandbox, client, make_messages, make_transport):
    sandbox.state.fail_next(1, status=429, provider=provider, reset_in=3)
    transport = make_transport(provider, sandbox.base_url, client)
    with pytest.raises(RetryableDeliveryError) as caught:
        await transport.send_batch(make_messages(1))
    if provider == "resend":  # ratelimit-reset, in seconds
        assert caught.value.retry_after == 3
    elif provider == "sendgrid":  # X-RateLimit-Reset, a Unix epoch
        assert caught.value.retry_after is not None and 1 < caught.value.retry_after <= 4
    else:  # nothing to go by: the ledger's own backoff decides
        assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retryable(
    provider, status, sandbox, client, make_messages, make_transport
):
    sandbox.state.fail_next(1, status=status)
    with pytest.raises(RetryableDeliveryError, match=str(status)):
        await make_transport(provider, sandbox.base_url, client).send_batch(make_messages(1))


@pytest.mark.slow
async def test_slow_answer_times_out_as_retryable(
    provider, sandbox, short_client, make_messages, make_transport
):
    sandbox.state.slow_next(1, delay=0.4)
    transport = make_transport(provider, sandbox.base_url, short_client)
    with pytest.raises(RetryableDeliveryError, match="timed out"):
        await transport.send_batch(make_messages(1))
    # The provider went on and accepted it anyway: the reason retries need idempotency.
    for _ in range(100):
        if sandbox.state.messages(provider):
            break
        await asyncio.sleep(0.02)
    assert len(sandbox.state.messages(provider)) == 1


async def test_dropped_connection_is_retryable(
    provider, sandbox, client, make_messages, make_transport
):
    sandbox.state.drop_request(1)
    transport = make_transport(provider, sandbox.base_url, client)
    with pytest.raises(RetryableDeliveryError, match="connection"):
        await transport.send_batch(make_messages(1))
    assert sandbox.state.messages() == []
    assert sandbox.state.stats()["counters"]["dropped"] == 1
    results = await transport.send_batch(make_messages(1))
    assert results[0].outcome is Outcome.SENT


async def test_connection_refused_is_retryable(provider, client, make_messages, make_transport):
    transport = make_transport(provider, "http://127.0.0.1:9", client)
    with pytest.raises(RetryableDeliveryError):
        await transport.send_batch(make_messages(1))


async def test_owned_client_is_closed(provider, sandbox, make_messages, make_transport):
    transport = make_transport(provider, sandbox.base_url, None)  # type: ignore[arg-type]
    results = await transport.send_batch(make_messages(2))
    assert {r.outcome for r in results} == {Outcome.SENT}
    await transport.aclose()
    assert transport._client.is_closed  # type: ignore[attr-defined]
