"""SendGrid's contract in the sandbox."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.testing.sandbox.helpers import SG, sendgrid_mail


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
