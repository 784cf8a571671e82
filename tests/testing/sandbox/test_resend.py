"""Resend's contract in the sandbox, idempotency keys included."""

from __future__ import annotations

import time

import orjson

from tests.testing.sandbox.helpers import RS, resend_email


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
