"""Postmark transport against the sandbox: batch shape, the per-message error codes, and the
message search that finds what it accepted."""

from __future__ import annotations

from datetime import timedelta

import httpx
import orjson
import pytest

from digest.dates import utcnow
from digest.errors import PermanentDeliveryError, ProviderAuthError, RetryableDeliveryError
from digest.models import Outcome
from digest.send.base import SentQuery
from digest.send.postmark import PostmarkTransport, parse_batch_response


def postmark(sandbox, client, token: str = "pm-sandbox-token", **kwargs) -> PostmarkTransport:
    return PostmarkTransport(token, base_url=sandbox.base_url, client=client, **kwargs)


async def test_batch_carries_personal_fields_stream_tag_and_reply_to(sandbox, client, make_message):
    messages = [make_message(1, name="Ada Lovelace"), make_message(2, "bob@example.net")]
    results = await postmark(sandbox, client, message_stream="digest-broadcast").send_batch(
        messages
    )
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    body = orjson.loads(postmark(sandbox, client).payload(messages))
    assert body[0]["To"] == "Ada Lovelace <reader1@example.com>"
    assert body[0]["ReplyTo"] == "editor@news.example.org"
    assert body[0]["Tag"] == "weekly"
    assert {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"} in body[0][
        "Headers"
    ]
    recorded = sandbox.state.messages("postmark")
    assert [m.to for m in recorded] == ["reader1@example.com", "bob@example.net"]
    assert recorded[0].tags == ["weekly"]
    assert "Ada Lovelace" in (recorded[0].html or "")


async def test_inactive_and_invalid_recipients_are_per_message(sandbox, client, make_messages):
    messages = make_messages(4)
    sandbox.state.set_inactive(messages[1].to_email)
    sandbox.state.set_invalid(messages[2].to_email)

    results = await postmark(sandbox, client).send_batch(messages)

    assert [r.outcome for r in results] == [
        Outcome.SENT,
        Outcome.SUPPRESSED,
        Outcome.FAILED,
        Outcome.SENT,
    ]
    assert results[1].error is not None and results[1].error.startswith("406")
    assert results[2].error is not None and results[2].error.startswith("300")
    assert [m.to for m in sandbox.state.messages()] == [
        messages[0].to_email,
        messages[3].to_email,
    ]


async def test_message_without_body_fails_alone(sandbox, client, make_message):
    messages = [make_message(1), make_message(2, html="", text="")]
    results = await postmark(sandbox, client).send_batch(messages)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.FAILED]
    assert "TextBody or HtmlBody" in (results[1].error or "")


async def test_test_token_validates_without_delivering(sandbox, client, make_messages):
    results = await postmark(sandbox, client, token="POSTMARK_API_TEST").send_batch(
        make_messages(2)
    )
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sandbox.state.messages() == []


async def test_batch_larger_than_500_is_refused_by_the_transport(sandbox, client, make_bulk):
    with pytest.raises(RuntimeError, match="exceeds 500"):
        await postmark(sandbox, client).send_batch(make_bulk(501))


async def test_full_batch_of_500_goes_in_one_request(sandbox, client, make_bulk):
    messages = make_bulk(500)
    results = await postmark(sandbox, client).send_batch(messages)
    assert len(results) == 500 and {r.outcome for r in results} == {Outcome.SENT}
    assert sandbox.state.stats()["counters"]["requests.postmark"] == 1
    assert sandbox.state.stats()["recipients"] == 500
    recorded = sandbox.state.messages()
    assert [m.metadata["delivery_id"] for m in recorded] == [str(m.delivery_id) for m in messages]
    assert recorded[499].headers["List-Unsubscribe"] == messages[499].headers["List-Unsubscribe"]
    assert messages[499].to_email in (recorded[499].html or "")


async def test_sandbox_refuses_an_oversized_batch_as_permanent(sandbox, client, make_messages):
    sandbox.state.config.postmark_batch_max = 2
    with pytest.raises(PermanentDeliveryError, match="422"):
        await postmark(sandbox, client).send_batch(make_messages(3))


def test_answer_count_mismatch_is_not_guessed(make_messages):
    messages = make_messages(2)
    body = orjson.dumps([{"ErrorCode": 0, "MessageID": "x", "Message": "OK"}])
    with pytest.raises(PermanentDeliveryError, match="expected 2 results"):
        parse_batch_response(messages, body)


def test_unknown_error_code_fails_that_message(make_messages):
    messages = make_messages(2)
    body = orjson.dumps(
        [{"ErrorCode": 0, "MessageID": "a", "Message": "OK"}, {"ErrorCode": 1234, "Message": "?"}]
    )
    results = parse_batch_response(messages, body)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.FAILED]
    assert results[0].provider_message_id == "a"


async def test_uses_mock_transport_for_header_checks(make_messages):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[{"ErrorCode": 0, "MessageID": "m1", "Message": "OK"}])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        transport = PostmarkTransport("tok", base_url="https://pm.test/", client=client)
        await transport.send_batch(make_messages(1))
    assert str(seen[0].url) == "https://pm.test/email/batch"
    assert seen[0].headers["X-Postmark-Server-Token"] == "tok"
    assert seen[0].headers["Content-Type"] == "application/json"
    assert orjson.loads(seen[0].content)[0]["MessageStream"] == "broadcast"


async def test_find_sent_asks_the_message_search_by_delivery_id(sandbox, client, make_messages):
    transport = postmark(sandbox, client)
    messages = make_messages(3)
    results = await transport.send_batch(messages[:2])
    since = utcnow() - timedelta(minutes=1)
    queries = [SentQuery(m.delivery_id, m.to_email, since) for m in messages]
    found = await transport.find_sent(queries)
    assert found == {1: results[0].provider_message_id, 2: results[1].provider_message_id}
    searches = sandbox.state.stats()["counters"]["searches.postmark"]
    assert searches == 3
    # a message with the same delivery id from long before the attempt is someone else's
    sandbox.state.messages("postmark")[0].received_at -= 86400
    assert await transport.find_sent(queries) == {2: results[1].provider_message_id}


async def test_find_sent_fails_when_the_search_fails(sandbox, client, make_messages):
    query = [SentQuery(1, "reader1@example.com", utcnow() - timedelta(minutes=1))]
    sandbox.state.fail_next(1, status=503, on="search")
    with pytest.raises(RetryableDeliveryError):
        await postmark(sandbox, client).find_sent(query)
    with pytest.raises(ProviderAuthError):
        await postmark(sandbox, client, token="wrong").find_sent(query)
