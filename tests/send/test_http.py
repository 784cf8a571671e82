"""Shared HTTP helpers: Retry-After parsing, status mapping, request fan-out, multipart."""

from __future__ import annotations

import asyncio
from email.utils import formatdate

import httpx
import pytest
from starlette.requests import Request

from digest.errors import PermanentDeliveryError, ProviderAuthError, RetryableDeliveryError
from digest.models import Outcome, SendResult
from digest.send.http import (
    custom_headers,
    describe_error,
    encode_multipart,
    error_for_status,
    gather_requests,
    group_by,
    parse_retry_after,
    retry_after_epoch_reset,
    retry_after_seconds_reset,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("-5", 0.0),
        (formatdate(NOW + 90, usegmt=True), 90.0),
        (formatdate(NOW - 90, usegmt=True), 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_provider_specific_reset_headers():
    assert retry_after_seconds_reset(httpx.Headers({"ratelimit-reset": "4"})) == 4
    assert (
        retry_after_seconds_reset(httpx.Headers({"retry-after": "2", "ratelimit-reset": "9"})) == 2
    )
    sendgrid = httpx.Headers({"X-RateLimit-Reset": str(int(NOW + 30))})
    assert retry_after_epoch_reset(sendgrid, now=NOW) == 30
    assert retry_after_epoch_reset(httpx.Headers({"X-RateLimit-Reset": "x"}), now=NOW) is None
    assert retry_after_epoch_reset(httpx.Headers(), now=NOW) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, ProviderAuthError),
        (403, ProviderAuthError),
        (429, RetryableDeliveryError),
        (500, RetryableDeliveryError),
        (502, RetryableDeliveryError),
        (503, RetryableDeliveryError),
        (400, PermanentDeliveryError),
        (404, PermanentDeliveryError),
        (413, PermanentDeliveryError),
        (422, PermanentDeliveryError),
    ],
)
def test_error_for_status(status, kind):
    response = httpx.Response(status, json={"message": "nope"}, headers={"Retry-After": "5"})
    error = error_for_status("acme", response)
    assert type(error) is kind
    assert "acme" in str(error) and "nope" in str(error)
    if kind is RetryableDeliveryError:
        assert isinstance(error, RetryableDeliveryError) and error.retry_after == 5


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"ErrorCode": 300, "Message": "Invalid email"}', "ErrorCode 300; Invalid email"),
        (b'{"errors": [{"field": "from.email", "message": "bad"}]}', "from.email: bad"),
        (
            b'{"statusCode": 403, "name": "invalid_api_key", "message": "API key is invalid"}',
            "invalid_api_key; API key is invalid",
        ),
        (b"Forbidden", "Forbidden"),
    ],
)
def test_describe_error(body, expected):
    assert describe_error(httpx.Response(400, content=body)) == expected


def test_describe_error_reads_the_aws_error_type():
    response = httpx.Response(
        400, headers={"x-amzn-ErrorType": "MessageRejected:http://x"}, json={"message": "no"}
    )
    assert describe_error(response) == "MessageRejected; no"


def test_custom_headers_leave_out_fields_the_apis_set():
    headers = {"Subject": "x", "From": "y", "Reply-To": "z", "List-Id": "l", "Message-ID": "<m>"}
    assert custom_headers(headers) == {"List-Id": "l", "Message-ID": "<m>"}


class _Msg:
    def __init__(self, email: str, key: str) -> None:
        self.to_email, self.key = email, key


def test_group_by_keeps_addresses_unique_and_sizes_bounded():
    messages = [
        _Msg("a@x", "k"),
        _Msg("b@x", "k"),
        _Msg("A@x", "k"),
        _Msg("c@x", "other"),
        _Msg("d@x", "k"),
    ]
    assert group_by(messages, lambda m: m.key, max_size=10) == [[0, 1], [2, 4], [3]]
    assert group_by(messages, lambda m: m.key, max_size=1) == [[0], [1], [2], [3], [4]]


async def _run(outcomes: dict[int, object]) -> list[SendResult]:
    async def call(indexes):
        await asyncio.sleep(0)
        outcome = outcomes[indexes[0]]
        if isinstance(outcome, Exception):
            raise outcome
        return [SendResult(i, Outcome.SENT, f"id{i}") for i in indexes]

    return await gather_requests([[0], [1], [2]], call, [0, 1, 2], concurrency=2)


async def test_gather_raises_when_every_request_failed():
    with pytest.raises(RetryableDeliveryError) as caught:
        await _run({i: RetryableDeliveryError("busy", retry_after=i) for i in range(3)})
    assert caught.value.retry_after == 2
    mixed = {
        0: RetryableDeliveryError("busy"),
        1: ProviderAuthError("key"),
        2: PermanentDeliveryError("x"),
    }
    with pytest.raises(ProviderAuthError):
        await _run(mixed)


async def test_gather_keeps_successes_when_some_requests_failed():
    results = await _run(
        {
            0: None,
            1: RetryableDeliveryError("busy", retry_after=3),
            2: PermanentDeliveryError("bad"),
        }
    )
    assert [(r.delivery_id, r.outcome) for r in results] == [
        (0, Outcome.SENT),
        (1, Outcome.RETRY),
        (2, Outcome.FAILED),
    ]
    assert results[1].retry_after == 3
    auth = await _run({0: None, 1: ProviderAuthError("key"), 2: None})
    assert auth[1].outcome is Outcome.RETRY, "a credential problem is not the recipient's fault"


async def test_gather_bounds_concurrency():
    running = peak = 0

    async def call(indexes):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return [SendResult(i, Outcome.SENT) for i in indexes]

    await gather_requests([[i] for i in range(10)], call, list(range(10)), concurrency=3)
    assert peak == 3


async def test_multipart_round_trips_through_a_form_parser():
    fields = [
        ("to", "a@x.org"),
        ("to", "Zoë <b@x.org>"),
        ("h:List-Unsubscribe", "<https://u>"),
        ("html", "<p>line\r\n--not-a-boundary</p>"),
    ]
    body, content_type = encode_multipart(fields)

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "headers": [(b"content-type", content_type.encode())],
    }
    form = await Request(scope, receive).form()
    assert form.multi_items() == fields
