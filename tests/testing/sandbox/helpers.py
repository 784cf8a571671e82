"""Requests the sandbox tests send: credentials and compliant messages."""

from __future__ import annotations

PM = {"X-Postmark-Server-Token": "pm-sandbox-token"}
SG = {"Authorization": "Bearer SG.sandbox-key"}
RS = {"Authorization": "Bearer re_sandbox_key"}
GOOD_HEADERS = {
    "List-Unsubscribe": "<https://news.example.org/u/1>, <mailto:u@news.example.org>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def postmark_message(to: str = "a@example.com", **fields) -> dict:
    message = {
        "From": "Digest <digest@news.example.org>",
        "To": to,
        "Subject": "Hello",
        "HtmlBody": "<p>hi</p>",
        "TextBody": "hi",
        "Headers": [{"Name": k, "Value": v} for k, v in GOOD_HEADERS.items()],
        "Metadata": {"delivery_id": "1"},
    }
    message.update(fields)
    return message


def resend_email(to: str = "a@example.com", **fields) -> dict:
    email = {
        "from": "Digest <digest@news.example.org>",
        "to": [to],
        "subject": "Hello",
        "html": "<p>hi</p>",
        "text": "hi",
        "headers": GOOD_HEADERS,
    }
    email.update(fields)
    return email


def sendgrid_mail(**fields) -> dict:
    mail = {
        "personalizations": [
            {"to": [{"email": "a@example.com"}], "headers": GOOD_HEADERS},
            {"to": [{"email": "b@example.com"}], "substitutions": {"-name-": "Bob"}},
        ],
        "from": {"email": "digest@news.example.org", "name": "Digest"},
        "subject": "Hi -name-",
        "content": [
            {"type": "text/plain", "value": "Hello -name-"},
            {"type": "text/html", "value": "<p>Hello -name-</p>"},
        ],
    }
    mail.update(fields)
    return mail
