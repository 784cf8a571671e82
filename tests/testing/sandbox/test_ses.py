"""Amazon SES v2's contract in the sandbox (SigV4 checked with botocore)."""

from __future__ import annotations

import orjson

from tests.testing.sandbox.helpers import GOOD_HEADERS


async def test_ses_requires_a_signature(sandbox, http):
    response = await http.post("/v2/email/outbound-emails", content=b"{}")
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert response.headers["x-amzn-RequestId"]
    garbled = await http.post(
        "/v2/email/outbound-emails", content=b"{}", headers={"Authorization": "AWS4 nonsense"}
    )
    assert garbled.status_code == 400


async def test_ses_simple_content_via_botocore_signing(sandbox, http):
    from digest.send.ses import SesTransport

    signer = SesTransport("AKIDSANDBOXEXAMPLE", "sandbox/secret/EXAMPLEKEY", "us-east-1")
    body = orjson.dumps(
        {
            "FromEmailAddress": "digest@news.example.org",
            "Destination": {"ToAddresses": ["a@example.com"]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": "Hi"},
                    "Body": {"Text": {"Data": "t"}, "Html": {"Data": "<p>h</p>"}},
                    "Headers": [{"Name": k, "Value": v} for k, v in GOOD_HEADERS.items()],
                }
            },
        }
    )
    url = f"{sandbox.base_url}/v2/email/outbound-emails"
    response = await http.post(url, content=body, headers=signer.signed_headers(url, body))
    assert response.status_code == 200 and response.json()["MessageId"]
    (got,) = sandbox.state.messages("ses")
    assert (got.to, got.subject, got.warnings) == ("a@example.com", "Hi", [])
    await signer.aclose()
