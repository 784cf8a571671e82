"""SendGrid: grouping by identical content, all-or-nothing requests, mixed outcomes."""

from __future__ import annotations

import orjson
import pytest

from digest.errors import ProviderAuthError
from digest.models import Outcome
from digest.send.sendgrid import SendGridTransport

SHARED_HTML = "<p>Same for everyone</p>"
SHARED_TEXT = "Same for everyone"


def sendgrid(sandbox, client, key: str = "SG.sandbox-key") -> SendGridTransport:
    return SendGridTransport(key, base_url=sandbox.base_url, client=client)


def shared(make_message, delivery_id: int, email: str | None = None):
    return make_message(delivery_id, email, html=SHARED_HTML, text=SHARED_TEXT)


def requests(sandbox) -> int:
    return sandbox.state.stats()["counters"].get("requests.sendgrid", 0)


async def test_identical_content_shares_one_request_with_personal_headers(
    sandbox, client, make_message
):
    messages = [shared(make_message, i) for i in range(1, 6)]
    results = await sendgrid(sandbox, client).send_batch(messages)

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert requests(sandbox) == 1
    assert len({r.provider_message_id for r in results}) == 1
    for m in messages:
        (got,) = sandbox.state.messages(to=m.to_email)
        assert got.headers["List-Unsubscribe"] == m.headers["List-Unsubscribe"]
        assert got.metadata == {"delivery_id": str(m.delivery_id)}


async def test_personalized_content_goes_one_request_each(sandbox, client, make_messages):
    messages = make_messages(4)
    results = await sendgrid(sandbox, client).send_batch(messages)
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert requests(sandbox) == 4


async def test_same_address_twice_is_never_in_one_request(sandbox, client, make_message):
    messages = [shared(make_message, 1, "a@example.com"), shared(make_message, 2, "a@example.com")]
    results = await sendgrid(sandbox, client).send_batch(messages)
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert requests(sandbox) == 2


async def test_invalid_address_in_a_shared_request_fails_only_itself(sandbox, client, make_message):
    messages = [shared(make_message, i) for i in range(1, 4)]
    sandbox.state.set_invalid(messages[1].to_email)
    results = await sendgrid(sandbox, client).send_batch(messages)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.FAILED, Outcome.SENT]
    assert "valid address" in (results[1].error or "")
    assert requests(sandbox) == 1 + 3


async def test_one_failed_request_among_several_keeps_the_others(sandbox, client, make_messages):
    sandbox.state.fail_next(1, status=503, retry_after=4)
    results = await sendgrid(sandbox, client).send_batch(make_messages(3))
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == sorted([Outcome.SENT, Outcome.SENT, Outcome.RETRY])
    (retry,) = [r for r in results if r.outcome is Outcome.RETRY]
    assert retry.retry_after == 4
    assert len(sandbox.state.messages()) == 2


async def test_auth_failure_on_every_request_raises(sandbox, client, make_messages):
    with pytest.raises(ProviderAuthError):
        await sendgrid(sandbox, client, key="SG.wrong").send_batch(make_messages(3))


def test_payload_shape(make_message):
    transport = SendGridTransport("k")
    body = orjson.loads(transport.payload([make_message(7, name="Ada")]))
    assert body["from"] == {"email": "digest@news.example.org", "name": "Weekly Digest"}
    assert body["reply_to"] == {"email": "editor@news.example.org"}
    assert body["categories"] == ["weekly"]
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    (p,) = body["personalizations"]
    assert p["to"] == [{"email": "reader7@example.com", "name": "Ada"}]
    assert p["custom_args"] == {"delivery_id": "7"}
    assert "List-Unsubscribe" in p["headers"] and "Subject" not in p["headers"]
