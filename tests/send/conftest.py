"""Shared fixtures for the transport tests: message records and a sandbox on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTP
from email.utils import formataddr, formatdate

import httpx
import pytest

from digest.models import OutgoingMessage
from digest.send.base import Transport
from digest.send.mailgun import MailgunTransport
from digest.send.postmark import PostmarkTransport
from digest.send.resend import ResendTransport
from digest.send.sendgrid import SendGridTransport
from digest.send.ses import SesTransport
from digest.testing.sandbox import RunningSandbox, SandboxConfig, run_sandbox

FROM = "Weekly Digest <digest@news.example.org>"
SITE = "https://news.example.org"


def make_message(
    delivery_id: int,
    email: str | None = None,
    *,
    name: str = "",
    subject: str = "This week: five things",
    html: str | None = None,
    text: str | None = None,
    from_addr: str = FROM,
    reply_to: str | None = "editor@news.example.org",
    tag: str | None = "weekly",
    extra_headers: dict[str, str] | None = None,
) -> OutgoingMessage:
    """One personalized message, as the renderer will hand it over (with its MIME form)."""
    email = email or f"reader{delivery_id}@example.com"
    unsubscribe = f"{SITE}/u/{delivery_id}-token"
    html = (
        html
        if html is not None
        else (
            f"<html><body><p>Hello {name or email}</p>"
            f'<p><a href="{unsubscribe}">Unsubscribe</a></p></body></html>'
        )
    )
    text = text if text is not None else f"Hello {name or email}\n\nUnsubscribe: {unsubscribe}\n"
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>, <mailto:unsubscribe@news.example.org?subject="
        f"{delivery_id}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": "Weekly Digest <weekly.news.example.org>",
        "Message-ID": f"<delivery-{delivery_id}@news.example.org>",
        **(extra_headers or {}),
    }
    # The stdlib's compat32 MIME classes: five times faster than EmailMessage for big batches.
    mime = MIMEMultipart("alternative")
    mime["From"] = from_addr
    mime["To"] = formataddr((name, email)) if name else email
    mime["Subject"] = subject
    mime["Date"] = formatdate(1_800_000_000, usegmt=True)
    if reply_to:
        mime["Reply-To"] = reply_to
    for key, value in headers.items():
        mime[key] = value
    mime.attach(MIMEText(text, "plain", "utf-8"))  # plainest first (RFC 2046)
    mime.attach(MIMEText(html, "html", "utf-8"))
    return OutgoingMessage(
        delivery_id=delivery_id,
        to_email=email,
        to_name=name,
        from_addr=from_addr,
        reply_to=reply_to,
        subject=subject,
        html=html,
        text=text,
        headers=headers,
        mime=mime.as_bytes(policy=SMTP),
        tag=tag,
    )


def make_messages(n: int, start: int = 1) -> list[OutgoingMessage]:
    return [make_message(i) for i in range(start, start + n)]


def _copy(base: OutgoingMessage, **changes: object) -> OutgoingMessage:
    """The message with some fields changed (OutgoingMessage is not a dataclass)."""
    fields = {
        name: getattr(base, name)
        for name in (
            "delivery_id",
            "to_email",
            "to_name",
            "from_addr",
            "reply_to",
            "subject",
            "html",
            "text",
            "headers",
            "mime",
            "tag",
        )
    }
    return OutgoingMessage(**{**fields, **changes})  # type: ignore[arg-type]


def make_bulk(n: int, start: int = 1) -> list[OutgoingMessage]:
    """Many personalized messages for the JSON APIs, fast: the MIME form is shared (unused)."""
    base = make_message(0)
    out = []
    for i in range(start, start + n):
        email = f"reader{i}@example.com"
        unsubscribe = f"{SITE}/u/{i}-token"
        out.append(
            _copy(
                base,
                delivery_id=i,
                to_email=email,
                html=base.html.replace("reader0@example.com", email).replace(
                    f"{SITE}/u/0-token", unsubscribe
                ),
                text=base.text.replace("reader0@example.com", email).replace(
                    f"{SITE}/u/0-token", unsubscribe
                ),
                headers={
                    **base.headers,
                    "List-Unsubscribe": f"<{unsubscribe}>",
                    "Message-ID": f"<delivery-{i}@news.example.org>",
                },
            )
        )
    return out


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[RunningSandbox]:
    with run_sandbox() as running:
        yield running


@pytest.fixture
def sandbox(sandbox_server: RunningSandbox) -> Iterator[RunningSandbox]:
    """The shared sandbox, reset (messages, faults, keys, counters) for each test."""
    sandbox_server.state.reset()
    sandbox_server.state.config = SandboxConfig()
    yield sandbox_server
    sandbox_server.state.reset()


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """One TLS context for all test clients (loading CA certificates is slow; we use http)."""
    return ssl.create_default_context()


@pytest.fixture
async def client(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0), verify=tls) as c:
        yield c


@pytest.fixture
async def short_client(tls: ssl.SSLContext) -> AsyncIterator[httpx.AsyncClient]:
    """A client that gives up after 0.2 s, for slow-answer faults."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.2, connect=2.0), verify=tls) as c:
        yield c


SES_KEY_ID = "AKIDSANDBOXEXAMPLE"
SES_SECRET = "sandbox/secret/EXAMPLEKEY"


def make_transport(
    provider: str, base_url: str, client: httpx.AsyncClient, *, bad_credentials: bool = False
) -> Transport:
    """A transport pointed at the sandbox with its valid (or deliberately wrong) credentials."""
    wrong = "wrong-credential"
    if provider == "postmark":
        return PostmarkTransport(
            wrong if bad_credentials else "pm-sandbox-token", base_url=base_url, client=client
        )
    if provider == "sendgrid":
        return SendGridTransport(
            wrong if bad_credentials else "SG.sandbox-key", base_url=base_url, client=client
        )
    if provider == "mailgun":
        return MailgunTransport(
            wrong if bad_credentials else "mg-sandbox-key",
            "mg.example.com",
            base_url=base_url,
            client=client,
        )
    if provider == "resend":
        return ResendTransport(
            wrong if bad_credentials else "re_sandbox_key", base_url=base_url, client=client
        )
    if provider == "ses":
        return SesTransport(
            SES_KEY_ID,
            wrong if bad_credentials else SES_SECRET,
            "eu-west-1",
            base_url=base_url,
            client=client,
        )
    raise ValueError(provider)


@pytest.fixture(name="make_message")
def make_message_fixture() -> Callable[..., OutgoingMessage]:
    """`make_message(delivery_id, email=None, **fields)` (fixtures: tests are not a package)."""
    return make_message


@pytest.fixture(name="make_messages")
def make_messages_fixture() -> Callable[..., list[OutgoingMessage]]:
    return make_messages


@pytest.fixture(name="make_transport")
def make_transport_fixture() -> Callable[..., Transport]:
    """`make_transport(provider, base_url, client, bad_credentials=False)`."""
    return make_transport


@pytest.fixture(name="make_bulk")
def make_bulk_fixture() -> Callable[..., list[OutgoingMessage]]:
    return make_bulk
