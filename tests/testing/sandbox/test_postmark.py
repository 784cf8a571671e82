"""Postmark's contract in the sandbox."""

from __future__ import annotations

import orjson

from tests.testing.sandbox.helpers import PM, postmark_message


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
