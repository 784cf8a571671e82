"""Mailgun's contract in the sandbox."""

from __future__ import annotations

import time

import orjson


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


async def _send(http, to: str, delivery_id: str) -> str:
    data = {
        "from": "Digest <digest@news.example.org>",
        "to": to,
        "subject": "Weekly",
        "text": "hi",
        "v:delivery_id": delivery_id,
        "o:tag": "weekly",
    }
    sent = await http.post("/v3/mg.example.com/messages", data=data, auth=AUTH)
    assert sent.status_code == 200
    return sent.json()["id"]


AUTH = ("api", "mg-sandbox-key")


async def test_mailgun_events_list_accepted_messages_with_their_user_variables(sandbox, http):
    started = time.time() - 1
    first = await _send(http, "a@example.com", "7")
    await _send(http, "b@example.com", "8")
    await _send(http, "a@example.com", "9")
    query = {"event": "accepted", "recipient": "a@example.com", "begin": f"{started:.0f}"}
    page = await http.get(
        "/v3/mg.example.com/events", params={**query, "ascending": "yes"}, auth=AUTH
    )
    assert page.status_code == 200
    items = page.json()["items"]
    assert [e["user-variables"] for e in items] == [{"delivery_id": "7"}, {"delivery_id": "9"}]
    assert items[0]["event"] == "accepted" and items[0]["recipient"] == "a@example.com"
    assert items[0]["message"]["headers"]["message-id"] == first.strip("<>")
    assert items[0]["tags"] == ["weekly"] and items[0]["timestamp"] >= started
    # one at a time, following the paging links, until an empty page
    seen, url = [], f"/v3/mg.example.com/events?begin={started:.0f}&ascending=yes&limit=1"
    for _ in range(5):
        answer = (await http.get(url, auth=AUTH)).json()
        if not answer["items"]:
            break
        seen += [e["user-variables"]["delivery_id"] for e in answer["items"]]
        url = answer["paging"]["next"]
    assert seen == ["7", "8", "9"]
    later = await http.get(
        "/v3/mg.example.com/events",
        params={**query, "begin": f"{time.time() + 60:.0f}", "ascending": "yes"},
        auth=AUTH,
    )
    assert later.json()["items"] == []


async def test_mailgun_events_check_the_time_range_limit_and_key(sandbox, http):
    events = "/v3/mg.example.com/events"
    assert (await http.get(events, params={"limit": "1"})).status_code == 401
    no_direction = await http.get(events, params={"begin": "1700000000"}, auth=AUTH)
    assert no_direction.status_code == 400
    too_many = await http.get(events, params={"limit": "301", "ascending": "yes"}, auth=AUTH)
    assert too_many.status_code == 400
    unknown = await http.get("/v3/other.example.com/events", params={"limit": "1"}, auth=AUTH)
    assert unknown.status_code == 404
