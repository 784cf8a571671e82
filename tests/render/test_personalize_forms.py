"""Every form of a personalized message says the same thing: text, JSON literal and MIME."""

from __future__ import annotations

import email
import email.policy

import orjson
import pytest
from render_samples import sample_content, sample_settings

from digest.models import Recipient
from digest.render import MessageTemplate, render_issue

NAMES = ["<script>alert(1)</script>", "O'Neil & Sons", 'Say "hi"\\ \u2028', "", "Zoë 李"]


@pytest.mark.parametrize("name", NAMES)
def test_json_literals_decode_to_the_text_forms(name: str) -> None:
    settings = sample_settings()
    rendered = render_issue(sample_content(5), settings)
    template = MessageTemplate.build(rendered, settings, issue_key="weekly.7")
    message = template.personalize(
        Recipient(
            delivery_id=3,
            subscriber_id=9,
            email="reader@example.org",
            name=name,
            unsubscribe_url="https://news.example.org/unsubscribe/t?a=1&b=2",
            web_url="https://news.example.org/issues/x",
        )
    )
    assert message.html_json is not None and message.text_json is not None
    assert orjson.loads(message.html_json) == message.html
    assert orjson.loads(message.text_json) == message.text
    parsed = email.message_from_bytes(message.mime, policy=email.policy.default)
    text_part, html_part = parsed.iter_parts()
    assert text_part.get_content().replace("\r\n", "\n") == message.text
    assert html_part.get_content().replace("\r\n", "\n") == message.html
