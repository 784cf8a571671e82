"""Resend: idempotency keys make a retried batch safe; permissive mode fails single messages."""

from __future__ import annotations

import asyncio

import pytest

from digest.errors import PermanentDeliveryError, ProviderAuthError, RetryableDeliveryError
from digest.models import Outcome
from digest.send.resend import ResendTransport, idempotency_key, parse_batch_response


def resend(sandbox, client) -> ResendTransport:
    return ResendTransport("re_sandbox_key", base_url=sandbox.base_url, client=client)


def test_key_depends_on_the_set_of_delivery_ids_only():
    assert idempotency_key([3, 1, 2]) == idempotency_key([1, 2, 3])
    assert idempotency_key([1, 2, 3]) != idempotency_key([1, 2, 4])
    assert idempotency_key([12, 3]) != idempotency_key([1, 23])
    assert 1 <= len(idempotency_key(list(range(100)))) <= 256


async def test_retry_after_a_lost_answer_is_replayed_not_redelivered(
    sandbox, client, make_messages
):
    # The provider accepts the batch, then the connection drops before we hear back.
    sandbox.state.add_fault(kind="drop", after=True)
    messages = make_messages(3)
    transport = resend(sandbox, client)
    with pytest.raises(RetryableDeliveryError):
        await transport.send_batch(messages)
    assert len(sandbox.state.messages()) == 3

    # After a crash the ledger resends the same deliveries, maybe in another order.
    results = await transport.send_batch(list(reversed(messages)))

    assert [r.delivery_id for r in results] == [3, 2, 1]
    assert {r.outcome for r in results} == {Outcome.SENT}
    recorded = sandbox.state.messages()
    assert len(recorded) == 3, "replayed, not delivered twice"
    by_to = {m.to: m.message_id for m in recorded}
    assert [by_to[m.to_email] for m in reversed(messages)] == [
        r.provider_message_id for r in results
    ]
    assert {m.idempotency_key for m in recorded} == {idempotency_key([1, 2, 3])}
    assert sandbox.state.stats()["counters"]["resend.replays"] == 1


async def test_same_key_with_a_different_body_is_permanent(sandbox, client, make_message):
    transport = resend(sandbox, client)
    await transport.send_batch([make_message(1)])
    with pytest.raises(PermanentDeliveryError, match="different batch"):
        await transport.send_batch([make_message(1, subject="Changed after the crash")])
    assert len(sandbox.state.messages()) == 1


@pytest.mark.slow
async def test_concurrent_request_with_the_same_key_is_retryable(sandbox, client, make_messages):
    sandbox.state.slow_next(1, delay=0.5)
    transport = resend(sandbox, client)
    messages = make_messages(2)
    first = asyncio.create_task(transport.send_batch(messages))
    for _ in range(200):  # until the sandbox holds the first request
        if sandbox.state.stats()["counters"].get("faults_fired"):
            break
        await asyncio.sleep(0.005)
    with pytest.raises(RetryableDeliveryError, match="concurrent_idempotent_requests"):
        await transport.send_batch(messages)
    assert {r.outcome for r in await first} == {Outcome.SENT}
    assert len(sandbox.state.messages()) == 2


async def test_invalid_recipient_fails_alone_in_permissive_mode(sandbox, client, make_messages):
    messages = make_messages(3)
    sandbox.state.set_invalid(messages[1].to_email)
    results = await resend(sandbox, client).send_batch(messages)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.FAILED, Outcome.SENT]
    assert "Invalid `to`" in (results[1].error or "")
    assert sorted(m.to for m in sandbox.state.messages()) == sorted(
        [messages[0].to_email, messages[2].to_email]
    )


async def test_invalid_key_is_an_auth_error(sandbox, client, make_messages):
    transport = ResendTransport("re_wrong", base_url=sandbox.base_url, client=client)
    with pytest.raises(ProviderAuthError, match=r"403.*invalid_api_key"):
        await transport.send_batch(make_messages(1))


async def test_unusable_key_is_permanent_not_retried(sandbox, client, make_messages):
    transport = ResendTransport("", base_url=sandbox.base_url, client=client)
    with pytest.raises(PermanentDeliveryError, match="invalid request"):
        await transport.send_batch(make_messages(1))


def test_permissive_answer_maps_ids_around_errors(make_messages):
    messages = make_messages(3)
    body = b'{"data":[{"id":"a"},{"id":"c"}],"errors":[{"index":1,"message":"bad to"}]}'
    results = parse_batch_response(messages, body)
    assert [(r.outcome, r.provider_message_id) for r in results] == [
        (Outcome.SENT, "a"),
        (Outcome.FAILED, None),
        (Outcome.SENT, "c"),
    ]
    with pytest.raises(PermanentDeliveryError):
        parse_batch_response(messages, b'{"data":[{"id":"a"}]}')
