"""SES v2: botocore-signed raw sends, checked by a sandbox that recomputes the signature."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
import time_machine

from digest.errors import PermanentDeliveryError, ProviderAuthError
from digest.models import Outcome
from digest.send.ses import SesTransport, bulk_entry_outcome

KEY_ID = "AKIDSANDBOXEXAMPLE"
SECRET = "sandbox/secret/EXAMPLEKEY"


def ses(sandbox, client, **kwargs) -> SesTransport:
    kwargs.setdefault("base_url", sandbox.base_url)
    return SesTransport(
        kwargs.pop("key_id", KEY_ID),
        kwargs.pop("secret", SECRET),
        kwargs.pop("region", "eu-west-1"),
        client=client,
        **kwargs,
    )


async def test_raw_mime_carries_our_headers(sandbox, client, make_message):
    message = make_message(5, name="Ada")
    (result,) = await ses(sandbox, client, configuration_set="digest").send_batch([message])
    assert result.outcome is Outcome.SENT
    (got,) = sandbox.state.messages("ses")
    assert got.message_id == result.provider_message_id
    assert got.headers["Message-ID"] == "<delivery-5@news.example.org>"
    assert got.headers["To"] == "Ada <reader5@example.com>"
    assert got.metadata == {"delivery_id": "5", "digest": "weekly"}
    body = orjson.loads(ses(sandbox, client, configuration_set="digest").payload(message))
    assert body["ConfigurationSetName"] == "digest"
    assert base64.b64decode(body["Content"]["Raw"]["Data"]) == message.mime
    assert body["Destination"] == {"ToAddresses": ["reader5@example.com"]}


async def test_session_token_is_signed_and_accepted(sandbox, client, make_messages):
    transport = ses(sandbox, client, session_token="FwoGZXIvYXdzEXAMPLE")
    headers = transport.signed_headers(f"{sandbox.base_url}/v2/email/outbound-emails", b"{}")
    assert headers["X-Amz-Security-Token"] == "FwoGZXIvYXdzEXAMPLE"
    assert "x-amz-security-token" in headers["Authorization"]
    results = await transport.send_batch(make_messages(2))
    assert {r.outcome for r in results} == {Outcome.SENT}


async def test_unknown_key_id_is_auth_error(sandbox, client, make_messages):
    with pytest.raises(ProviderAuthError, match="UnrecognizedClientException"):
        await ses(sandbox, client, key_id="AKIDUNKNOWN").send_batch(make_messages(1))


async def test_body_changed_after_signing_is_refused(sandbox, client, make_message):
    transport = ses(sandbox, client)
    url = f"{sandbox.base_url}/v2/email/outbound-emails"
    signed = transport.payload(make_message(1))
    headers = transport.signed_headers(url, signed)
    tampered = transport.payload(make_message(1, "someone-else@example.com"))
    response = await client.post(url, content=tampered, headers=headers)
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "SignatureDoesNotMatch"
    response = await client.post(url, content=signed, headers=headers)
    assert response.status_code == 200


async def test_stale_signature_is_refused(sandbox, client, make_message):
    transport = ses(sandbox, client)
    url = f"{sandbox.base_url}/v2/email/outbound-emails"
    body = transport.payload(make_message(1))
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=1), tick=False):
        headers = transport.signed_headers(url, body)
    response = await client.post(url, content=body, headers=headers)
    assert response.status_code == 403
    assert "expired" in response.json()["message"]


async def test_rejected_message_fails_alone(sandbox, client, make_messages):
    messages = make_messages(3)
    sandbox.state.set_invalid(messages[2].to_email)
    results = await ses(sandbox, client).send_batch(messages)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT, Outcome.FAILED]
    assert "MessageRejected" in (results[2].error or "")


async def test_throttled_everywhere_raises_retryable(sandbox, client, make_messages):
    from digest.errors import RetryableDeliveryError

    sandbox.state.fail_next(3, status=429)
    with pytest.raises(RetryableDeliveryError, match="TooManyRequestsException"):
        await ses(sandbox, client).send_batch(make_messages(3))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("MessageRejected", Outcome.FAILED), ("BadRequestException", Outcome.FAILED)],
)
async def test_message_level_errors_are_results(kind, expected, make_messages):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, headers={"x-amzn-ErrorType": kind}, json={"message": "no"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        (result,) = await SesTransport("a", "b", "us-east-1", client=client).send_batch(
            make_messages(1)
        )
    assert result.outcome is expected


async def test_account_level_errors_fail_the_request(make_messages):
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"x-amzn-ErrorType": "SendingPausedException:http://internal"}
        return httpx.Response(400, headers=headers, json={"message": "sending paused"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        transport = SesTransport("a", "b", "us-east-1", client=client)
        assert transport.base_url == "https://email.us-east-1.amazonaws.com"
        with pytest.raises(PermanentDeliveryError, match="SendingPausedException"):
            await transport.send_batch(make_messages(2))


def test_bulk_statuses_map_to_outcomes():
    assert bulk_entry_outcome("SUCCESS") is Outcome.SENT
    assert bulk_entry_outcome("MESSAGE_REJECTED") is Outcome.FAILED
    assert bulk_entry_outcome("TRANSIENT_FAILURE") is Outcome.RETRY
    assert bulk_entry_outcome("ACCOUNT_SENDING_PAUSED") is Outcome.RETRY
    assert bulk_entry_outcome("SOMETHING_NEW") is Outcome.FAILED


async def test_sandbox_bulk_endpoint_answers_per_entry(sandbox, client):
    sandbox.state.set_ses_bulk_status("b@example.com", "MESSAGE_REJECTED")
    body = orjson.dumps(
        {
            "FromEmailAddress": "digest@news.example.org",
            "DefaultContent": {
                "Template": {
                    "TemplateContent": {"Subject": "Hi {{name}}", "Text": "Hello {{name}}"},
                    "TemplateData": '{"name": "reader"}',
                }
            },
            "BulkEmailEntries": [
                {
                    "Destination": {"ToAddresses": [address]},
                    "ReplacementEmailContent": {
                        "ReplacementTemplate": {"ReplacementTemplateData": f'{{"name": "{n}"}}'}
                    },
                }
                for n, address in (("Ada", "a@example.com"), ("Bob", "b@example.com"))
            ],
        }
    )
    url = f"{sandbox.base_url}/v2/email/outbound-bulk-emails"
    headers = ses(sandbox, client).signed_headers(url, body)
    response = await client.post(url, content=body, headers=headers)
    assert response.status_code == 200
    statuses = [e["Status"] for e in response.json()["BulkEmailEntryResults"]]
    assert statuses == ["SUCCESS", "MESSAGE_REJECTED"]
    assert [bulk_entry_outcome(s) for s in statuses] == [Outcome.SENT, Outcome.FAILED]
    (got,) = sandbox.state.messages("ses")
    assert (got.to, got.subject, got.text) == ("a@example.com", "Hi Ada", "Hello Ada")
