"""The one MIME builder: one-off messages (confirmations) laid out as the issue's messages are."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest
from render_samples import sample_content, sample_recipient, sample_settings

from digest.errors import RenderError
from digest.models import OutgoingMessage
from digest.render import MessageTemplate, build_message, render_issue
from digest.render.mime import from_line

TEXT = "Hello,\n\nconfirm here: https://news.example.org/confirm/abc\n"
HTML = '<p>Hello,</p>\n<p><a href="https://news.example.org/confirm/abc">Confirm</a></p>\n'


def confirmation(**changes: str) -> OutgoingMessage:
    fields = {
        "to": "new.reader@example.org",
        "to_name": "New",
        "from_addr": "Brief <brief@news.example.org>",
        "subject": "Please confirm your subscription",
        "text": TEXT,
        "html": HTML,
    }
    fields.update(changes)
    return build_message(-7, **fields)


def parse_mime(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_confirmation_is_complete_and_sound() -> None:
    message = confirmation()
    parsed = parse_mime(message.mime)
    assert parsed["From"] == "Brief <brief@news.example.org>"
    assert parsed["To"] == "New <new.reader@example.org>"
    assert parsed["Subject"] == "Please confirm your subscription"
    assert parsedate_to_datetime(parsed["Date"]).tzinfo is not None
    assert re.fullmatch(r"<\S+@news\.example\.org>", parsed["Message-ID"])
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["List-Unsubscribe"] is None and parsed["Reply-To"] is None
    assert parsed["MIME-Version"] == "1.0"
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part, body in zip(parts, (TEXT, HTML), strict=True):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "8bit"
        assert part.get_content().replace("\r\n", "\n") == body
    assert message.headers == {
        "Message-ID": parsed["Message-ID"],
        "Auto-Submitted": "auto-generated",
    }
    assert (message.delivery_id, message.to_email, message.to_name) == (
        -7,
        "new.reader@example.org",
        "New",
    )
    assert (message.text, message.html, message.tag, message.reply_to) == (
        TEXT,
        HTML,
        "confirmation",
        None,
    )


def test_every_line_is_crlf_and_short() -> None:
    long_html = HTML + "<p>" + "x" * 1500 + "</p>\n"
    raw = confirmation(html=long_html, text="a\r\nb\rc\n").mime
    assert b"\r\n" in raw and re.search(rb"(?<!\r)\n", raw) is None
    assert re.search(rb"\r(?!\n)", raw) is None
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    text_part, html_part = parse_mime(raw).iter_parts()
    assert text_part.get_content().replace("\r\n", "\n") == "a\nb\nc\n"
    assert html_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert html_part.get_content().replace("\r\n", "\n") == long_html


def test_names_and_subjects_are_encoded_not_injected() -> None:
    message = confirmation(
        to_name="Zoë O'Neil, Jr.\r\nBcc: victim@example.com",
        subject="Bitte bestätigen ☕\r\nCc: x@example.com",
    )
    head = message.mime.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    parsed = parse_mime(message.mime)
    assert parsed["Bcc"] is None and parsed["Cc"] is None
    assert parsed["To"].addresses[0].display_name == "Zoë O'Neil, Jr. Bcc: victim@example.com"
    assert parsed["To"].addresses[0].addr_spec == "new.reader@example.org"
    assert parsed["Subject"] == "Bitte bestätigen ☕ Cc: x@example.com"


def test_a_long_name_folds() -> None:
    name = " ".join(f"Name{i}" for i in range(30))
    assert len(name) <= 200  # the sign-up form keeps 200 characters
    parsed = parse_mime(confirmation(to_name=name).mime)
    assert parsed["To"].addresses[0].display_name == name


def test_without_a_name_the_address_stands_alone() -> None:
    assert parse_mime(confirmation(to_name="").mime)["To"] == "new.reader@example.org"


def test_the_same_layout_as_the_issues_messages() -> None:
    settings = sample_settings()
    template = MessageTemplate.build(
        render_issue(sample_content(1), settings), settings, issue_key="k"
    )
    issue_mime = template.personalize(sample_recipient()).mime
    confirmation_mime = confirmation().mime

    def skeleton(raw: bytes) -> list[bytes]:
        """The MIME lines, boundaries made equal, without the bodies and the headers."""
        boundary = re.search(rb'boundary="([^"]+)"', raw)
        assert boundary is not None
        raw = raw.replace(boundary.group(1), b"BOUNDARY")
        start = raw.index(b"MIME-Version:")
        return [
            line
            for line in raw[start:].split(b"\r\n")
            if line.startswith((b"MIME-Version", b"Content-", b"--BOUNDARY"))
        ]

    assert skeleton(issue_mime) == skeleton(confirmation_mime)
    assert len(skeleton(issue_mime)) == 9


def test_a_sender_needs_an_address() -> None:
    assert from_line("Brief <brief@news.example.org>") == (
        b"From: Brief <brief@news.example.org>\r\n"
    )
    with pytest.raises(RenderError, match="no email address"):
        from_line("Just a name <>")


def test_a_confirmation_keeps_to_the_standards_whatever_it_is_given() -> None:
    """A colon, quotes or line breaks in a name, an overlong subject, a quoted colon in the
    sender: one To, one From, no extra header, no line over 998 octets, one-line API fields."""
    message = confirmation(
        to_name='Mallory: "admin"\r\nBcc: victim@example.com',
        subject="Confirm " + "x" * 3000,
        from_addr='"News: Weekly" <brief@news.example.org>',
    )
    assert max(len(line) for line in message.mime.split(b"\r\n")) <= 998
    parsed = parse_mime(message.mime)
    assert parsed["Bcc"] is None
    [to] = parsed["To"].addresses
    assert to.display_name == 'Mallory: "admin" Bcc: victim@example.com'
    assert to.addr_spec == "new.reader@example.org"
    assert parsed["From"].addresses[0].display_name == "News: Weekly"
    assert parsed["Subject"] == message.subject and message.subject.endswith("…")
    assert len(message.subject) <= 250
    for value in (message.to_header, message.subject, message.from_addr):
        assert "\n" not in value and "\r" not in value
