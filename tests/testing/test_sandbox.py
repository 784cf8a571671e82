"""The sandbox itself: provider checks, faults, records and the HTTP control API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import orjson
import pytest

from digest.testing.sandbox import Fault, SandboxState, create_app, lint

PM = {"X-Postmark-Server-Token": "pm-sandbox-token"}
SG = {"Authorization": "Bearer SG.sandbox-key"}
RS = {"Authorization": "Bearer re_sandbox_key"}
GOOD_HEADERS = {
    "List-Unsubscribe": "<https://news.example.org/u/1>, <mailto:u@news.example.org>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def postmark_message(to: str = "a@example.com", **fields) -> dict:
    message = {
        "From": "Digest <digest@news.example.org>",
        "To": to,
        "Subject": "Hello",
        "HtmlBody": "<p>hi</p>",
        "TextBody": "hi",
        "Headers": [{"Name": k, "Value": v} for k, v in GOOD_HEADERS.items()],
        "Metadata": {"delivery_id": "1"},
    }
    message.update(fields)
    return message


def resend_email(to: str = "a@example.com", **fields) -> dict:
    email = {
        "from": "Digest <digest@news.example.org>",
        "to": [to],
        "subject": "Hello",
        "html": "<p>hi</p>",
        "text": "hi",
        "headers": GOOD_HEADERS,
    }
    email.update(fields)
    return email


# Deliverability lint.


def test_lint_accepts_a_compliant_message():
    assert lint("Digest <d@x.org>", "<p>x</p>", "x", GOOD_HEADERS, 102 * 1024) == []


@pytest.mark.parametrize(
    ("change", "warning"),
    [
        (
            {"headers": {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}},
            "no List-Unsubscribe",
        ),
        ({"headers": {**GOOD_HEADERS, "List-Unsubscribe": "<http://x.org/u>"}}, "https"),
        ({"headers": {**GOOD_HEADERS, "List-Unsubscribe-Post": "One-Click"}}, "exactly"),
        ({"text": ""}, "no text part"),
        ({"html": None}, "no html part"),
        ({"html": "x" * 110_000}, "clips"),
        ({"from_addr": "a@x.org, b@x.org"}, "exactly one address"),
    ],
)
def test_lint_warnings(change, warning):
    args = {"from_addr": "d@x.org", "html": "<p>x</p>", "text": "x", "headers": GOOD_HEADERS}
    args.update(change)
    found = lint(args["from_addr"], args["html"], args["text"], args["headers"], 102 * 1024)
    assert len(found) == 1 and warning in found[0]


async def test_warnings_are_recorded_per_message(sandbox, http):
    batch = [postmark_message(), postmark_message("b@example.com", TextBody=None, Headers=[])]
    response = await http.post("/email/batch", content=orjson.dumps(batch), headers=PM)
    assert [item["ErrorCode"] for item in response.json()] == [0, 0]
    first, second = sandbox.state.messages()
    assert first.warnings == []
    assert any("List-Unsubscribe" in w for w in second.warnings)
    assert "no text part" in second.warnings


# Postmark.


async def test_postmark_auth(sandbox, http):
    missing = await http.post("/email/batch", content=b"[]")
    assert missing.status_code == 401 and missing.json()["ErrorCode"] == 10
    wrong = await http.post("/email/batch", content=b"[]", headers={"X-Postmark-Server-Token": "x"})
    assert wrong.status_code == 401
    upper = {"x-postmark-server-token": "PM-SANDBOX-TOKEN"}
    assert (await http.post("/email/batch", content=b"[]", headers=upper)).status_code == 200


async def test_postmark_per_message_validation(sandbox, http):
    batch = [
        postmark_message(),
        postmark_message(From=""),
        postmark_message("not-an-address"),
        postmark_message(", ".join(f"r{i}@example.com" for i in range(51))),
        postmark_message(Headers={"List-Id": "x"}),
        postmark_message(Metadata={"nested": {"a": 1}}),
    ]
    response = await http.post("/email/batch", content=orjson.dumps(batch), headers=PM)
    assert response.status_code == 200
    answers = response.json()
    assert [a["ErrorCode"] for a in answers] == [0, 300, 300, 300, 300, 300]
    assert answers[0]["Message"] == "OK" and answers[0]["MessageID"]
    assert len(sandbox.state.messages()) == 1


async def test_postmark_limits_and_single_send(sandbox, http):
    too_many = [postmark_message(f"r{i}@example.com") for i in range(501)]
    response = await http.post("/email/batch", content=orjson.dumps(too_many), headers=PM)
    assert response.status_code == 422
    bad_json = await http.post("/email/batch", content=b"{nope", headers=PM)
    assert bad_json.status_code == 422
    sandbox.state.config.postmark_batch_bytes = 100
    big = await http.post("/email/batch", content=orjson.dumps([postmark_message()]), headers=PM)
    assert big.status_code == 413
    single = await http.post("/email", content=orjson.dumps(postmark_message()), headers=PM)
    assert single.status_code == 200 and single.json()["ErrorCode"] == 0
    sandbox.state.set_inactive("gone@example.com")
    inactive = await http.post(
        "/email", content=orjson.dumps(postmark_message("gone@example.com")), headers=PM
    )
    assert inactive.status_code == 422 and inactive.json()["ErrorCode"] == 406


# SendGrid.


def sendgrid_mail(**fields) -> dict:
    mail = {
        "personalizations": [
            {"to": [{"email": "a@example.com"}], "headers": GOOD_HEADERS},
            {"to": [{"email": "b@example.com"}], "substitutions": {"-name-": "Bob"}},
        ],
        "from": {"email": "digest@news.example.org", "name": "Digest"},
        "subject": "Hi -name-",
        "content": [
            {"type": "text/plain", "value": "Hello -name-"},
            {"type": "text/html", "value": "<p>Hello -name-</p>"},
        ],
    }
    mail.update(fields)
    return mail


async def test_sendgrid_success_shape_and_substitutions(sandbox, http):
    response = await http.post("/v3/mail/send", content=orjson.dumps(sendgrid_mail()), headers=SG)
    assert response.status_code == 202 and response.content == b""
    assert response.headers["X-Message-Id"]
    assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())
    assert response.headers["X-RateLimit-Remaining"].isdigit()
    a, b = sandbox.state.messages("sendgrid")
    assert (a.to, a.from_addr, a.warnings) == (
        "a@example.com",
        "Digest <digest@news.example.org>",
        [],
    )
    assert (b.subject, b.text, b.html) == ("Hi Bob", "Hello Bob", "<p>Hello Bob</p>")
    assert "no List-Unsubscribe header" in b.warnings


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"from": {}}, "from.email"),
        ({"content": [{"type": "text/plain", "value": ""}]}, "content.0"),
        ({"headers": {"Subject": "x"}}, "headers.Subject"),
        ({"personalizations": []}, "personalizations"),
        ({"reply_to": {"email": "r@x.org"}, "reply_to_list": [{"email": "r@x.org"}]}, "reply_to"),
        ({"categories": [str(i) for i in range(11)]}, "categories"),
        (
            {"personalizations": [{"to": [{"email": "a@x.org"}]}, {"to": [{"email": "A@x.org"}]}]},
            "personalizations.1.to.0.email",
        ),
    ],
)
async def test_sendgrid_validation(sandbox, http, change, field):
    response = await http.post(
        "/v3/mail/send", content=orjson.dumps(sendgrid_mail(**change)), headers=SG
    )
    assert response.status_code == 400
    assert field in [e["field"] for e in response.json()["errors"]]
    assert sandbox.state.messages() == []


async def test_sendgrid_auth(sandbox, http):
    response = await http.post("/v3/mail/send", content=b"{}")
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "authorization required"


# Mailgun.


async def test_mailgun_recipient_variables_personalize_each_copy(sandbox, http):
    data = {
        "from": "Digest <digest@news.example.org>",
        "to": ["a@example.com", "b@example.com"],
        "subject": "Hi %recipient.name%",
        "text": "Hello %recipient.name%",
        "html": "<p>Hello %recipient.name%</p>",
        "h:List-Unsubscribe": "<https://news.example.org/u/%recipient.token%>",
        "h:List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "v:delivery_id": "%recipient.id%",
        "o:tag": "weekly",
        "recipient-variables": orjson.dumps(
            {
                "a@example.com": {"name": "Ada", "token": "t1", "id": "1"},
                "b@example.com": {"name": "Bob", "token": "t2", "id": "2"},
            }
        ).decode(),
    }
    response = await http.post(
        "/v3/mg.example.com/messages", data=data, auth=("api", "mg-sandbox-key")
    )
    assert response.status_code == 200
    assert response.json()["message"] == "Queued. Thank you."
    assert response.json()["id"].endswith("@mg.example.com>")
    a, b = sandbox.state.messages("mailgun")
    assert (a.subject, b.text) == ("Hi Ada", "Hello Bob")
    assert b.headers["List-Unsubscribe"] == "<https://news.example.org/u/t2>"
    assert (a.metadata, b.metadata) == ({"delivery_id": "1"}, {"delivery_id": "2"})
    assert a.warnings == [] and a.tags == ["weekly"]


async def test_mailgun_checks(sandbox, http):
    auth = ("api", "mg-sandbox-key")
    base = {"from": "d@news.example.org", "to": "a@example.com", "subject": "s", "text": "t"}
    denied = await http.post("/v3/mg.example.com/messages", data=base, auth=("api", "x"))
    assert (denied.status_code, denied.text) == (401, "Forbidden")
    for missing, message in (("from", "from"), ("subject", "subject")):
        data = {k: v for k, v in base.items() if k != missing}
        response = await http.post("/v3/mg.example.com/messages", data=data, auth=auth)
        assert response.status_code == 400 and message in response.json()["message"]
    no_body = {k: v for k, v in base.items() if k != "text"}
    response = await http.post("/v3/mg.example.com/messages", data=no_body, auth=auth)
    assert response.status_code == 400
    tags = {**base, "o:tag": ["a", "b", "c", "d"]}
    response = await http.post("/v3/mg.example.com/messages", data=tags, auth=auth)
    assert response.status_code == 400
    shared = {**base, "to": ["a@example.com", "b@example.com"]}
    response = await http.post("/v3/mg.example.com/messages", data=shared, auth=auth)
    assert response.status_code == 200
    assert all("see each other" in " ".join(m.warnings) for m in sandbox.state.messages())


# Resend.


async def test_resend_single_and_rate_headers(sandbox, http):
    response = await http.post("/emails", content=orjson.dumps(resend_email()), headers=RS)
    assert response.status_code == 200 and response.json()["id"]
    assert response.headers["ratelimit-limit"] == "600"
    missing = await http.post("/emails", content=orjson.dumps(resend_email()))
    assert missing.status_code == 401 and missing.json()["name"] == "missing_api_key"


async def test_resend_strict_batch_rejects_all(sandbox, http):
    batch = [resend_email(), resend_email(subject="")]
    response = await http.post("/emails/batch", content=orjson.dumps(batch), headers=RS)
    assert response.status_code == 422
    assert response.json()["name"] == "missing_required_field"
    assert "emails[1]" in response.json()["message"]
    bad_from = [resend_email(**{"from": "nobody"})]
    response = await http.post("/emails/batch", content=orjson.dumps(bad_from), headers=RS)
    assert response.json()["name"] == "invalid_from_address"
    assert sandbox.state.messages() == []


async def test_resend_idempotency_rules(sandbox, http):
    headers = {**RS, "Idempotency-Key": "k-1"}
    body = orjson.dumps([resend_email()])
    first = await http.post("/emails/batch", content=body, headers=headers)
    again = await http.post("/emails/batch", content=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(sandbox.state.messages()) == 1
    other = await http.post(
        "/emails/batch", content=orjson.dumps([resend_email("b@example.com")]), headers=headers
    )
    assert other.status_code == 409 and other.json()["name"] == "invalid_idempotent_request"
    too_long = {**RS, "Idempotency-Key": "k" * 257}
    response = await http.post("/emails/batch", content=body, headers=too_long)
    assert response.status_code == 400 and response.json()["name"] == "invalid_idempotency_key"
    sandbox.state.config.resend_idempotency_ttl = 0
    time.sleep(0.01)
    expired = await http.post("/emails/batch", content=body, headers=headers)
    assert expired.status_code == 200 and expired.json() != first.json()
    assert len(sandbox.state.messages()) == 2


# SES.


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


# Faults, in-process and over HTTP.


async def test_fault_shapes_every_and_on_request(sandbox, http):
    sandbox.state.fail_every(3, status=500, provider="resend")
    sandbox.state.add_fault(kind="status", status=503, on_request=2, provider="resend")
    body = orjson.dumps([resend_email()])
    statuses = [
        (await http.post("/emails/batch", content=body, headers=RS)).status_code for _ in range(7)
    ]
    assert statuses == [200, 503, 500, 200, 200, 500, 200]
    assert len(sandbox.state.faults()) == 1, "the on_request fault is used up"
    # Faults for one provider leave the others alone.
    pm = await http.post("/email/batch", content=orjson.dumps([postmark_message()]), headers=PM)
    assert pm.status_code == 200


async def test_fault_after_processing_records_then_fails(sandbox, http):
    sandbox.state.add_fault(kind="status", status=500, after=True)
    response = await http.post(
        "/email/batch", content=orjson.dumps([postmark_message()]), headers=PM
    )
    assert response.status_code == 500
    assert len(sandbox.state.messages()) == 1


async def test_faults_over_http(sandbox, http):
    spec = {
        "faults": [
            {"kind": "status", "status": 429, "retry_after": 2, "times": 2, "provider": "sendgrid"}
        ],
        "inactive": ["gone@example.com"],
    }
    response = await http.post("/_sandbox/faults", json=spec)
    assert response.status_code == 200 and len(response.json()["faults"]) == 1
    for _ in range(2):
        limited = await http.post(
            "/v3/mail/send", content=orjson.dumps(sendgrid_mail()), headers=SG
        )
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert limited.headers["X-RateLimit-Remaining"] == "0"
        assert limited.json() == {"errors": [{"field": None, "message": "too many requests"}]}
    ok = await http.post("/v3/mail/send", content=orjson.dumps(sendgrid_mail()), headers=SG)
    assert ok.status_code == 202
    assert (await http.get("/_sandbox/faults")).json() == {"faults": []}
    single = await http.post("/_sandbox/faults", json={"kind": "drop"})
    assert single.json()["faults"][0]["kind"] == "drop"
    assert (await http.delete("/_sandbox/faults")).status_code == 204
    assert sandbox.state.faults() == [] and not sandbox.state.is_inactive("gone@example.com")
    bad = await http.post("/_sandbox/faults", json={"faults": [{"kind": "explode"}]})
    assert bad.status_code == 400
    bad = await http.post("/_sandbox/faults", json={"faults": [{"nonsense": 1}]})
    assert bad.status_code == 400


async def test_messages_and_stats_over_http(sandbox, http):
    batch = [postmark_message(), postmark_message("b@example.com"), postmark_message()]
    await http.post("/email/batch", content=orjson.dumps(batch), headers=PM)
    everything = (await http.get("/_sandbox/messages")).json()["messages"]
    assert [m["to"] for m in everything] == ["a@example.com", "b@example.com", "a@example.com"]
    assert everything[0]["html"] == "<p>hi</p>"
    brief = (
        await http.get("/_sandbox/messages", params={"brief": 1, "to": "b@example.com"})
    ).json()
    assert len(brief["messages"]) == 1 and "html" not in brief["messages"][0]
    stats = (await http.get("/_sandbox/stats")).json()
    assert stats["messages"] == 3 and stats["recipients"] == 2 and stats["duplicates"] == 1
    assert stats["duplicate_recipients"] == ["a@example.com"]
    assert sandbox.state.per_recipient() == {"a@example.com": 2, "b@example.com": 1}
    assert stats["counters"]["requests.postmark"] == 1
    assert (await http.delete("/_sandbox/messages")).status_code == 204
    assert (await http.get("/_sandbox/messages")).json() == {"messages": []}
    config = (await http.get("/_sandbox/config")).json()
    assert config["postmark_batch_max"] == 500 and "AKIDSANDBOXEXAMPLE" in config["ses_credentials"]
    assert (await http.post("/_sandbox/reset")).status_code == 204
    assert (await http.get("/_sandbox/stats")).json()["counters"] == {}


def test_fault_validation():
    with pytest.raises(ValueError):
        Fault(kind="boom")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fault(provider="brevo")
    assert Fault().times == 1
    assert Fault.from_json({"kind": "delay", "delay": 1.5, "every": 2}).every == 2


async def test_app_works_in_process_without_sockets():
    state = SandboxState()
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        response = await client.post(
            "/email/batch", content=orjson.dumps([postmark_message()]), headers=PM
        )
    assert response.status_code == 200
    assert [m.to for m in state.messages()] == ["a@example.com"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_standalone_process_is_driven_over_http():
    """What the crash test does: the sandbox in one process, the sender in another."""
    from digest.send.postmark import PostmarkTransport

    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen(
        [sys.executable, "-m", "digest.testing.sandbox", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(200):
                try:
                    if (await http.get("/_sandbox/stats")).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.025)
            await http.post("/_sandbox/faults", json={"invalid": ["bad@example.com"]})
            transport = PostmarkTransport("pm-sandbox-token", base_url=base, client=http)
            from digest.models import OutgoingMessage

            messages = [
                OutgoingMessage(
                    delivery_id=i,
                    to_email=f"{name}@example.com",
                    to_name="",
                    from_addr="d@news.example.org",
                    reply_to=None,
                    subject="s",
                    html="<p>h</p>",
                    text="t",
                    headers=dict(GOOD_HEADERS),
                    mime=b"",
                )
                for i, name in enumerate(["a", "bad", "c"], start=1)
            ]
            results = await transport.send_batch(messages)
            assert [r.outcome.value for r in results] == ["sent", "failed", "sent"]
            recorded = (await http.get("/_sandbox/messages?brief=1")).json()["messages"]
            assert [m["to"] for m in recorded] == ["a@example.com", "c@example.com"]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert b"sandbox on" in process.stdout.read()  # type: ignore[union-attr]


async def test_size_limits_come_from_the_config_table(sandbox, http):
    sandbox.state.config.postmark_message_bytes = 40
    sandbox.state.config.resend_message_bytes = 40
    long_text = "x" * 50
    pm = await http.post(
        "/email/batch", content=orjson.dumps([postmark_message(TextBody=long_text)]), headers=PM
    )
    assert pm.json()[0]["ErrorCode"] == 300 and "larger" in pm.json()[0]["Message"]
    rs = await http.post("/emails", content=orjson.dumps(resend_email(text=long_text)), headers=RS)
    assert rs.status_code == 422 and "larger" in rs.json()["message"]
    assert sandbox.state.messages() == []
