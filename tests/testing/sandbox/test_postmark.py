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


async def test_postmark_outbound_search_finds_a_message_by_its_metadata(sandbox, http):
    batch = [
        postmark_message(f"r{i}@example.com", Metadata={"delivery_id": str(i)}, Tag="weekly")
        for i in range(1, 4)
    ]
    sent = await http.post("/email/batch", content=orjson.dumps(batch), headers=PM)
    ids = [answer["MessageID"] for answer in sent.json()]
    query = {"count": "50", "offset": "0", "metadata_delivery_id": "2"}
    found = await http.get("/messages/outbound", params=query, headers=PM)
    assert found.status_code == 200
    assert found.json()["TotalCount"] == 1
    [message] = found.json()["Messages"]
    assert message["MessageID"] == ids[1] and message["Recipients"] == ["r2@example.com"]
    assert message["Metadata"] == {"delivery_id": "2"} and message["Tag"] == "weekly"
    assert message["Status"] == "Sent" and message["ReceivedAt"].endswith(("-05:00", "-04:00"))
    assert "HtmlBody" not in message  # the search leaves the bodies out
    other = {**query, "recipient": "r1@example.com"}
    assert (await http.get("/messages/outbound", params=other, headers=PM)).json() == {
        "TotalCount": 0,
        "Messages": [],
    }
    newest_first = await http.get(
        "/messages/outbound", params={"count": "2", "offset": "0", "tag": "weekly"}, headers=PM
    )
    assert newest_first.json()["TotalCount"] == 3
    assert [m["MessageID"] for m in newest_first.json()["Messages"]] == [ids[2], ids[1]]


async def test_postmark_outbound_search_checks_its_query_and_token(sandbox, http):
    assert (await http.get("/messages/outbound", params={"count": "1"})).status_code == 401
    for bad in (
        {"count": "10"},  # offset is required
        {"count": "501", "offset": "0"},
        {"count": "500", "offset": "9600"},
        {"count": "1", "offset": "0", "metadata_a": "1", "metadata_b": "2"},
    ):
        answer = await http.get("/messages/outbound", params=bad, headers=PM)
        assert answer.status_code == 422 and answer.json()["ErrorCode"] == 700, bad


async def test_a_search_fault_hits_searches_only(sandbox, http):
    sandbox.state.fail_next(1, status=503, on="search")
    sent = await http.post("/email/batch", content=orjson.dumps([postmark_message()]), headers=PM)
    assert sent.status_code == 200
    query = {"count": "1", "offset": "0"}
    assert (await http.get("/messages/outbound", params=query, headers=PM)).status_code == 503
    assert (await http.get("/messages/outbound", params=query, headers=PM)).status_code == 200
    counters = sandbox.state.stats()["counters"]
    assert counters["searches.postmark"] == 2 and counters["requests.postmark"] == 1
