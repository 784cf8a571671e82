"""Mailgun: multipart bodies, recipient-variables, per-domain routes, and the events search that
finds what it accepted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from digest.dates import utcnow
from digest.errors import PermanentDeliveryError, ProviderAuthError
from digest.models import Outcome
from digest.send.base import SentQuery
from digest.send.mailgun import MailgunTransport


def mailgun(sandbox, client, domain: str = "mg.example.com", key: str = "mg-sandbox-key"):
    return MailgunTransport(key, domain, base_url=sandbox.base_url, client=client)


def requests(sandbox) -> int:
    return sandbox.state.stats()["counters"].get("requests.mailgun", 0)


async def test_identical_messages_share_a_call_and_stay_private(sandbox, client, make_message):
    same = {
        "html": "<p>hi</p>",
        "text": "hi",
        "extra_headers": {"List-Unsubscribe": "<https://x.example/u>"},
    }
    messages = [make_message(i, **same) for i in range(1, 4)]
    # make_message gives each its own Message-ID; identical means identical headers too.
    for m in messages:
        m.headers["Message-ID"] = "<shared@news.example.org>"
    results = await mailgun(sandbox, client).send_batch(messages)

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert requests(sandbox) == 1
    recorded = sandbox.state.messages("mailgun")
    assert {m.to: m.metadata["delivery_id"] for m in recorded} == {
        m.to_email: str(m.delivery_id) for m in messages
    }
    assert all(not m.warnings for m in recorded), "recipient-variables keep the To list private"


async def test_personal_headers_mean_one_call_each(sandbox, client, make_messages):
    messages = make_messages(3)
    await mailgun(sandbox, client).send_batch(messages)
    assert requests(sandbox) == 3
    for m in messages:
        (got,) = sandbox.state.messages(to=m.to_email)
        assert got.headers["List-Unsubscribe"] == m.headers["List-Unsubscribe"]
        assert got.headers["Reply-To"] == "editor@news.example.org"
        assert got.tags == ["weekly"]


async def test_unknown_domain_is_permanent(sandbox, client, make_messages):
    with pytest.raises(PermanentDeliveryError, match=r"404.*Domain not found"):
        await mailgun(sandbox, client, domain="other.example.com").send_batch(make_messages(1))


async def test_wrong_key_is_auth_error(sandbox, client, make_messages):
    with pytest.raises(ProviderAuthError, match="401"):
        await mailgun(sandbox, client, key="nope").send_batch(make_messages(2))


async def test_invalid_address_fails_that_message(sandbox, client, make_messages):
    messages = make_messages(3)
    sandbox.state.set_invalid(messages[0].to_email)
    results = await mailgun(sandbox, client).send_batch(messages)
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.SENT, Outcome.SENT]
    assert "not a valid address" in (results[0].error or "")


async def test_tag_is_made_acceptable(sandbox, client, make_message):
    results = await mailgun(sandbox, client).send_batch([make_message(1, tag="Zürich weekly")])
    assert results[0].outcome is Outcome.SENT
    assert sandbox.state.messages()[0].tags == ["Zrich weekly"]


async def test_find_sent_matches_the_delivery_id_in_accepted_events(sandbox, client, make_messages):
    transport = mailgun(sandbox, client)
    messages = make_messages(3)
    results = await transport.send_batch(messages[:2])
    since = utcnow() - timedelta(minutes=1)
    found = await transport.find_sent(
        [SentQuery(m.delivery_id, m.to_email, since) for m in messages]
    )
    assert found == {1: results[0].provider_message_id, 2: results[1].provider_message_id}
    # the same recipient, another delivery id (an earlier issue): not this delivery
    assert await transport.find_sent([SentQuery(9, messages[0].to_email, since)]) == {}
    # events before the attempt are not searched
    later = utcnow() + timedelta(hours=1)
    assert await transport.find_sent([SentQuery(1, messages[0].to_email, later)]) == {}
