"""Mailgun's contract in the sandbox."""

from __future__ import annotations

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
