"""The sandbox server: faults in-process and over HTTP, records, a standalone process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import orjson
import pytest

from digest.testing.sandbox import Fault, SandboxState, create_app
from tests.conftest import free_port
from tests.testing.sandbox.helpers import (
    GOOD_HEADERS,
    PM,
    RS,
    SG,
    postmark_message,
    resend_email,
    sendgrid_mail,
)


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


@pytest.mark.slow
async def test_standalone_process_is_driven_over_http():
    """What the crash test does: the sandbox in one process, the sender in another."""
    from digest.send.postmark import PostmarkTransport

    port = free_port()
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
