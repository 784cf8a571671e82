"""Personalization by substitution must equal a direct render, and make sound MIME."""

from __future__ import annotations

import email
import email.policy
import inspect
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import orjson
import pytest
from render_samples import sample_content, sample_recipient, sample_settings

from digest.errors import RenderError
from digest.models import Recipient
from digest.render import (
    MessageTemplate,
    RenderedIssue,
    RenderSettings,
    personalize_all,
    render_issue,
    render_preview,
)
from digest.render.headers import SUBJECT_MAX
from digest.render.placeholders import clean_value

# operator_templates/issue.html uses recipient fields in every context: text, plain attribute,
# URL attribute (whole and in the query, with urlencode), with default and upper filters.
OPERATOR_TEMPLATES = Path(__file__).parent / "operator_templates"

NAMES = [
    "<script>alert(1)</script>",
    "O'Neil & Sons",
    'Say "hi"',
    "both ' and \" quotes",
    "Zoë Ünal-Łukasiewicz 😀",
    "non\u00a0breaking",
    "  spaced   out  ",
    "",
    "tab\tcr\r\nlf\nnul\x00end",
    "&amp; already &lt;escaped&gt;",
    "%41 percent %zz",
    "x" * 1500,
]

CITIES = ["Springfield", "Zürich & Co", "", "a/b?c=d#e f", "São Paulo <b>"]


@pytest.fixture(scope="module")
def settings() -> RenderSettings:
    return sample_settings(template_dir=OPERATOR_TEMPLATES)


@pytest.fixture(scope="module")
def frozen(settings: RenderSettings) -> RenderedIssue:
    return render_issue(sample_content(3), settings)


@pytest.fixture(scope="module")
def template(frozen: RenderedIssue, settings: RenderSettings) -> MessageTemplate:
    return MessageTemplate.build(frozen, settings, issue_key="example/2026-11-26")


def parse_mime(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("name", NAMES, ids=lambda n: repr(n[:20]))
def test_substitution_equals_a_direct_render(
    name: str, frozen: RenderedIssue, template: MessageTemplate, settings: RenderSettings
) -> None:
    recipient = sample_recipient(
        7,
        name=name,
        attributes={"city": CITIES[len(name) % len(CITIES)]},
        unsubscribe_url="https://digest.example.org/u/7?a=1&b=<x> ü",
        preferences_url='https://digest.example.org/p/7?x="1"&y=<2>',
        web_url=" https://digest.example.org/w/über \"q\" 'a'",
    )
    message = template.personalize(recipient)
    direct = render_issue(sample_content(3), settings, recipient=recipient, nonce=frozen.nonce)
    assert message.html == direct.html
    assert message.text == direct.text
    assert (message.html, message.text) == render_preview(frozen, recipient)


def test_escaping_is_visible_where_it_matters(template: MessageTemplate) -> None:
    message = template.personalize(sample_recipient(name="<script>alert(1)</script>"))
    assert "<script>" not in message.html
    assert "Hi &lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt;, from Springfield" in message.html
    assert 'title="&lt;script&gt;alert(1)&lt;/script&gt;"' in message.html
    assert "Hi <script>alert(1)</script>," in message.text  # plain text stays plain
    message = template.personalize(
        sample_recipient(name="O'Neil & Sons", attributes={"city": "Zürich & Co"})
    )
    assert "Hi O'NEIL &amp; SONS, from Zürich &amp; Co" in message.html
    assert "?city=Z%C3%BCrich%20%26%20Co&amp;who=O'Neil%20&amp;%20Sons" in message.html
    assert 'alt="Map of Zürich &amp; Co"' in message.html


def test_mime_message_is_complete_and_sound(template: MessageTemplate) -> None:
    recipient = sample_recipient(9, name="Zoë O'Neil, Jr.")
    message = template.personalize(recipient)
    parsed = parse_mime(message.mime)
    assert parsed["From"] == "The Example Brief <news@example.org>"
    assert parsed["To"].addresses[0].display_name == "Zoë O'Neil, Jr."
    assert parsed["To"].addresses[0].addr_spec == "reader9@example.com"
    assert parsed["Reply-To"] == "Editors <editors@example.org>"
    assert parsed["Subject"] == message.subject == template.subject
    assert parsed["Subject"].startswith("The Example Brief — 26 November 2026: Council approves")
    assert parsed["List-Id"] == "The Example Brief <example.lists.example.org>"
    assert parsed["List-Unsubscribe"] == (
        "<https://digest.example.org/u/9.sig-AbC_9>, "
        "<mailto:unsubscribe@example.org?subject=unsubscribe>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Message-ID"] == "<example-2026-11-26.9@mail.example.org>"
    assert parsedate_to_datetime(parsed["Date"]).tzinfo is not None
    assert parsed["MIME-Version"] == "1.0"
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part, body in zip(parts, (message.text, message.html), strict=True):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "8bit"
        assert part.get_content().replace("\r\n", "\n") == body
    assert message.headers == {
        "List-Id": parsed["List-Id"],
        "List-Unsubscribe": parsed["List-Unsubscribe"],
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Message-ID": parsed["Message-ID"],
        "Date": parsed["Date"],
    }
    assert message.tag == "example" and message.to_email == "reader9@example.com"


def test_every_line_is_crlf_and_short(template: MessageTemplate) -> None:
    for name in ("Ada", "é" * 400, "x" * 1500):
        raw = template.personalize(sample_recipient(name=name)).mime
        assert b"\r\n" in raw and re.search(rb"(?<!\r)\n", raw) is None
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_overlong_lines_fall_back_to_quoted_printable(template: MessageTemplate) -> None:
    name = "x" * 1500
    message = template.personalize(sample_recipient(name=name))
    html_part = list(parse_mime(message.mime).iter_parts())[1]
    assert html_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert html_part.get_content().replace("\r\n", "\n") == message.html
    assert f"Hi {name.upper()}" in message.html


def test_names_cannot_inject_headers_or_parts(template: MessageTemplate) -> None:
    boundary = template.boundary
    name = f"Eve\r\nBcc: victim@example.com\r\n\r\n--{boundary}\r\nContent-Type: text/html"
    message = template.personalize(sample_recipient(name=name, email="eve@example.com\r\nCc: x@y"))
    parsed = parse_mime(message.mime)
    assert parsed["Bcc"] is None and parsed["Cc"] is None
    assert len(list(parsed.iter_parts())) == 2
    assert parsed["To"].addresses[0].display_name == clean_value(name)


def test_a_long_name_folds_in_the_to_header(template: MessageTemplate) -> None:
    name = " ".join(f"Name{i}" for i in range(40))  # 3+ folded lines (this used to raise)
    parsed = parse_mime(template.personalize(sample_recipient(name=name)).mime)
    assert parsed["To"].addresses[0].display_name == name


def test_message_ids_are_unique_per_recipient(template: MessageTemplate) -> None:
    ids = {template.personalize(sample_recipient(i)).headers["Message-ID"] for i in range(50)}
    assert len(ids) == 50


def test_without_mailto_or_https_url(frozen: RenderedIssue, settings: RenderSettings) -> None:
    settings = sample_settings(template_dir=settings.template_dir, unsubscribe_mailto=None)
    template = MessageTemplate.build(frozen, settings, issue_key="k")
    message = template.personalize(sample_recipient(1))
    assert message.headers["List-Unsubscribe"] == "<https://digest.example.org/u/1.sig-AbC_9>"
    message = template.personalize(sample_recipient(1, unsubscribe_url="http://plain.example/u"))
    assert "List-Unsubscribe-Post" not in message.headers
    assert b"List-Unsubscribe-Post" not in message.mime


def test_non_ascii_title_and_subject_are_encoded() -> None:
    settings = sample_settings(title="Le Bréf ☕", subject_template="{{ title }} n°{{ count }}")
    rendered = render_issue(sample_content(2), settings)
    message = MessageTemplate.build(rendered, settings, issue_key="k").personalize(
        sample_recipient()
    )
    head = message.mime.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    parsed = parse_mime(message.mime)
    assert parsed["Subject"] == "Le Bréf ☕ n°2"
    assert parsed["List-Id"] == "Le Bréf ☕ <example.lists.example.org>"


def test_personalize_all_is_lazy(template: MessageTemplate) -> None:
    def recipients() -> Iterator[Recipient]:
        yield sample_recipient(1)
        raise AssertionError("read past what was asked for")

    messages = personalize_all(template, recipients())
    lazy = inspect.isgenerator(messages)  # a generator: nothing is made before it is asked for
    assert lazy
    assert next(messages).delivery_id == 1


def test_render_refuses_fields_in_style_attributes(tmp_path: Path) -> None:
    (tmp_path / "issue.html").write_text(
        '{% extends "base.html" %}{% block content %}<tr><td style="color: red">'
        '<a href="x" style="font-family: {{ recipient.name }}">x</a></td></tr>{% endblock %}'
    )
    settings = sample_settings(template_dir=tmp_path)
    with pytest.raises(RenderError, match="style attribute"):
        render_issue(sample_content(1), settings)


def test_forged_tokens_in_articles_stay_text(
    template: MessageTemplate, settings: RenderSettings
) -> None:
    """An article quoting a token of another issue is not a placeholder here."""
    from dataclasses import replace

    content = sample_content(1)
    forged = "DgsT0123456789_5b22656d61696c222c5b5d5d_"
    content.articles[0] = replace(content.articles[0], summary=f"Look: {forged}")
    rendered = render_issue(content, settings)
    message = MessageTemplate.build(rendered, settings, issue_key="k").personalize(
        sample_recipient()
    )
    assert forged in message.html and forged in message.text


@pytest.mark.parametrize("city", ["", "X", "a  b"])
def test_empty_values_alone_on_lines_and_in_elements(city: str) -> None:
    """An empty value can leave blank text nodes in HTML and trailing spaces in text."""
    settings = sample_settings(template_dir=Path(__file__).parent / "blank_templates")
    frozen = render_issue(sample_content(1), settings)
    recipient = sample_recipient(attributes={"city": city})
    message = MessageTemplate.build(frozen, settings, issue_key="k").personalize(recipient)
    direct = render_issue(sample_content(1), settings, recipient=recipient, nonce=frozen.nonce)
    assert (message.html, message.text) == (direct.html, direct.text)
    plain = parse_mime(message.mime).get_body(("plain",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == message.text


def test_a_huge_article_url_is_folded_or_sent_quoted_printable() -> None:
    from dataclasses import replace

    content = sample_content(2)
    long_url = "https://news.example.org/a?" + "&".join(f"k{i}=v{i}" for i in range(200))
    content.articles[0] = replace(content.articles[0], url=long_url)
    settings = sample_settings()
    rendered = render_issue(content, settings)
    assert long_url.replace("&", "&amp;") in rendered.html
    message = MessageTemplate.build(rendered, settings, issue_key="k").personalize(
        sample_recipient()
    )
    assert max(len(line) for line in message.mime.split(b"\r\n")) <= 998
    text_part, html_part = parse_mime(message.mime).iter_parts()
    assert html_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert html_part.get_content().replace("\r\n", "\n") == message.html
    assert text_part["Content-Transfer-Encoding"] == "quoted-printable"  # "[1] <url>" is long too
    assert text_part.get_content().replace("\r\n", "\n") == message.text


FORM_NAMES = ["<script>alert(1)</script>", "O'Neil & Sons", 'Say "hi"\\ \u2028', "", "Zoë 李"]


@pytest.mark.parametrize("name", FORM_NAMES)
def test_json_literals_decode_to_the_text_forms(name: str) -> None:
    """Every form of a personalized message says the same thing: text, JSON literal and MIME."""
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


@pytest.mark.parametrize(
    "subject",
    ["A" * 5000, "é" * 3000, "word " * 1000, "https://example.org/" + "a" * 1200 + " ☕"],
    ids=["ascii-word", "non-ascii", "words", "url"],
)
def test_a_long_subject_is_cut_and_folded_within_998_octets(subject: str) -> None:
    """One unbreakable 5,000-character word went out as a 5,001-octet line; now the subject is
    cut with an ellipsis and folded by the email package (encoded words where needed)."""
    settings = sample_settings(subject_template=subject)
    rendered = render_issue(sample_content(2), settings)
    message = MessageTemplate.build(rendered, settings, issue_key="k").personalize(
        sample_recipient()
    )
    assert max(len(line) for line in message.mime.split(b"\r\n")) <= 998
    head = message.mime.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert len(message.subject) <= SUBJECT_MAX and message.subject.endswith("…")
    assert " ".join(subject.split()).startswith(message.subject[:-1].rstrip())
    assert parse_mime(message.mime)["Subject"] == message.subject  # what HTTP APIs are given


def test_what_http_apis_are_given_is_one_line_too(frozen: RenderedIssue) -> None:
    """Providers' JSON fields (To, Subject, From, Reply-To) get the same one-line values as the
    MIME head: a line break in a name or subject cannot add a header or get a batch refused."""
    settings = sample_settings(
        template_dir=OPERATOR_TEMPLATES,
        subject_template="Breaking\r\nBcc: victim@example.com {{ title }}",
        from_addr='"News: Weekly" <news@example.org>',
        reply_to='"Desk, \\"Editors\\"" <editors@example.org>',
    )
    rendered = render_issue(sample_content(2), settings)
    template = MessageTemplate.build(rendered, settings, issue_key="k")
    name = 'Eve: "Boss"\r\nBcc: victim@example.com'
    message = template.personalize(sample_recipient(name=name))
    fields = [message.to_header, message.subject, message.from_addr, message.reply_to or ""]
    for value in fields:
        assert "\r" not in value and "\n" not in value, value
    assert message.subject == "Breaking Bcc: victim@example.com The Example Brief"
    header = email.policy.default.header_factory
    [to] = header("To", message.to_header).addresses
    assert (to.display_name, to.addr_spec) == (
        'Eve: "Boss" Bcc: victim@example.com',
        "reader1@example.com",
    )
    [sender] = header("From", message.from_addr).addresses
    assert (sender.display_name, sender.addr_spec) == ("News: Weekly", "news@example.org")
    parsed = parse_mime(message.mime)
    assert parsed["Bcc"] is None
    assert parsed["From"].addresses[0].display_name == "News: Weekly"
    assert parsed["Reply-To"].addresses[0].display_name == 'Desk, "Editors"'
    assert parsed["To"].addresses[0].display_name == to.display_name


def test_a_from_address_that_is_not_one_mailbox_is_refused(frozen: RenderedIssue) -> None:
    """parseaddr read "News: Weekly <...>" as "Weekly <...>"; the email package reads a group."""
    for from_addr in ("News: Weekly <news@example.org>", "a@example.org, b@example.org"):
        settings = sample_settings(template_dir=OPERATOR_TEMPLATES, from_addr=from_addr)
        with pytest.raises(RenderError, match="not one address"):
            MessageTemplate.build(frozen, settings, issue_key="k")
