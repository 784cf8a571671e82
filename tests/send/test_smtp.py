"""SMTP against a real aiosmtpd server with STARTTLS (a certificate made for the test) and AUTH."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from digest.errors import (
    PermanentDeliveryError,
    ProviderAuthError,
    ProviderSetupError,
    RetryableDeliveryError,
)
from digest.models import Outcome
from digest.pipeline import resume_unfinished, run_digest
from digest.send.smtp import SmtpTransport
from tests.conftest import free_port
from tests.send.helpers import add_provider, configure, workspace

USER, PASSWORD = "digest", "s3cret-pass"


@dataclass
class Handler:
    """Accepts mail, refusing configured recipients with a given reply."""

    refuse: dict[str, str] = field(default_factory=dict)
    refuse_data: dict[str, str] = field(default_factory=dict)  # answer to DATA
    data_delay: float = 0.0
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        for address in envelope.rcpt_tos:
            if address in self.refuse_data:
                return self.refuse_data[address]
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        if session.peer not in self.peers:
            self.peers.append(session.peer)
        return "250 2.0.0 Queued"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535 itself


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command line."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class Server:
    handler: Handler
    port: int
    client_tls: ssl.SSLContext
    controller: Controller
    server_tls: ssl.SSLContext
    implicit: bool

    def restart(self) -> None:
        """Stop and start again on the same port: every open connection is dropped."""
        self.controller.stop()
        self.controller = _start(self.handler, self.port, self.server_tls, self.implicit)


def _start(handler: Handler, port: int, tls: ssl.SSLContext, implicit: bool) -> Controller:
    kwargs: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": port,
        "authenticator": _authenticate,
        "auth_required": True,
    }
    if implicit:
        # aiosmtpd only counts STARTTLS as TLS; this connection is TLS from the first byte.
        kwargs.update(ssl_context=tls, auth_require_tls=False)
    else:
        kwargs.update(tls_context=tls, require_starttls=True)
    controller = Controller(handler, **kwargs)
    controller.start()
    return controller


def _server(certificate, implicit: bool) -> Iterator[Server]:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    handler = Handler()
    port = free_port()
    running = Server(
        handler, port, client_tls, _start(handler, port, server_tls, implicit), server_tls, implicit
    )
    try:
        yield running
    finally:
        running.controller.stop()


@pytest.fixture
def smtp_server(certificate) -> Iterator[Server]:
    yield from _server(certificate, implicit=False)


@pytest.fixture
def smtps_server(certificate) -> Iterator[Server]:
    yield from _server(certificate, implicit=True)


def transport(server: Server, **kwargs: Any) -> SmtpTransport:
    kwargs.setdefault("username", USER)
    kwargs.setdefault("password", PASSWORD)
    kwargs.setdefault("tls_context", server.client_tls)
    kwargs.setdefault("timeout", 5)
    return SmtpTransport("127.0.0.1", server.port, **kwargs)


async def test_one_connection_serves_many_messages(smtp_server, make_messages):
    sender = transport(smtp_server)
    try:
        first = await sender.send_batch(make_messages(5))
        second = await sender.send_batch(make_messages(5, start=6))
    finally:
        await sender.aclose()
    assert {r.outcome for r in first + second} == {Outcome.SENT}
    assert sender.connections_opened == 1
    assert len(smtp_server.handler.peers) == 1, "the server saw a single client connection"
    assert len(smtp_server.handler.received) == 10
    mail_from, rcpts, content = smtp_server.handler.received[2]
    assert mail_from == "digest@news.example.org"
    assert rcpts == ["reader3@example.com"]
    parsed = message_from_bytes(content, policy=default_policy)
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://news.example.org/u/3-token" in parsed["List-Unsubscribe"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_implicit_tls(smtps_server, make_messages):
    sender = transport(smtps_server, tls="tls")
    try:
        results = await sender.send_batch(make_messages(2))
    finally:
        await sender.aclose()
    assert {r.outcome for r in results} == {Outcome.SENT}


async def test_refusals_are_per_recipient(smtp_server, make_messages):
    messages = make_messages(4)
    smtp_server.handler.refuse = {
        messages[1].to_email: "550 5.1.1 No such user",
        messages[2].to_email: "451 4.3.0 Mailbox busy, try later",
    }
    sender = transport(smtp_server)
    try:
        results = await sender.send_batch(messages)
    finally:
        await sender.aclose()
    assert [r.outcome for r in results] == [
        Outcome.SENT,
        Outcome.FAILED,
        Outcome.RETRY,
        Outcome.SENT,
    ]
    assert results[1].error == "550 5.1.1 No such user"
    assert sender.connections_opened == 1


async def test_refusal_after_data(smtp_server, make_messages):
    messages = make_messages(3)
    smtp_server.handler.refuse_data = {
        messages[0].to_email: "554 5.7.1 Message rejected as spam",
        messages[1].to_email: "452 4.3.1 Insufficient storage",
    }
    sender = transport(smtp_server)
    try:
        results = await sender.send_batch(messages)
    finally:
        await sender.aclose()
    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.RETRY, Outcome.SENT]
    assert sender.connections_opened == 1


@pytest.mark.slow
async def test_cancelled_batch_does_not_share_the_connection(smtp_server, make_messages):
    smtp_server.handler.data_delay = 0.2
    sender = transport(smtp_server)
    inside, most = 0, 0
    guard = threading.Lock()
    send_one = sender._send_one

    def counting(message):  # how many threads are in the middle of an SMTP exchange
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        try:
            return send_one(message)
        finally:
            with guard:
                inside -= 1

    sender._send_one = counting  # type: ignore[method-assign]
    try:
        first = asyncio.create_task(sender.send_batch(make_messages(1)))
        await asyncio.sleep(0.05)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        # The cancelled batch's thread is still talking to the server; this one must wait.
        results = await sender.send_batch(make_messages(2, start=2))
    finally:
        await sender.aclose()
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sorted(r[1][0] for r in smtp_server.handler.received) == [
        "reader1@example.com",
        "reader2@example.com",
        "reader3@example.com",
    ]
    assert sender.connections_opened == 1
    assert most == 1, "two threads used the one SMTP connection at once"


async def test_421_stops_the_batch_as_retryable(smtp_server, make_messages):
    messages = make_messages(3)
    smtp_server.handler.refuse = {messages[1].to_email: "421 4.3.2 Service shutting down"}
    sender = transport(smtp_server)
    try:
        results = await sender.send_batch(messages)
        assert [r.outcome for r in results] == [Outcome.SENT, Outcome.RETRY, Outcome.RETRY]
        with pytest.raises(RetryableDeliveryError, match="421"):
            await sender.send_batch(messages[1:2])
    finally:
        await sender.aclose()


async def test_reconnects_when_the_server_dropped_the_idle_connection(smtp_server, make_messages):
    sender = transport(smtp_server)
    try:
        await sender.send_batch(make_messages(2))
        smtp_server.restart()
        results = await sender.send_batch(make_messages(2, start=3))
    finally:
        await sender.aclose()
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert sender.connections_opened == 2
    assert len(smtp_server.handler.received) == 4


async def test_wrong_password_is_an_auth_error(smtp_server, make_messages):
    sender = transport(smtp_server, password="wrong")
    with pytest.raises(ProviderAuthError, match="rejected the login"):
        await sender.send_batch(make_messages(1))
    await sender.aclose()
    assert smtp_server.handler.received == []


async def test_untrusted_certificate_is_permanent(smtp_server, make_messages):
    sender = transport(smtp_server, tls_context=ssl.create_default_context())
    with pytest.raises(PermanentDeliveryError, match="not trusted"):
        await sender.send_batch(make_messages(1))
    await sender.aclose()


async def test_server_down_is_retryable(make_messages):
    sender = SmtpTransport("127.0.0.1", free_port(), username=None, password=None, timeout=2)
    with pytest.raises(RetryableDeliveryError, match="cannot connect"):
        await sender.send_batch(make_messages(1))
    await sender.aclose()


async def test_stream_sends_the_next_message_only_when_asked(smtp_server, make_messages):
    """What lets the ledger record each message before the next one goes out."""
    sender = transport(smtp_server)
    stream = sender.stream_batch(make_messages(3))
    try:
        first = await anext(stream)
        assert [r.delivery_id for r in first] == [1] and first[0].outcome is Outcome.SENT
        await asyncio.sleep(0.2)
        assert len(smtp_server.handler.received) == 1, "the second went out before it was asked"
        rest = [r async for part in stream for r in part]
        assert [r.delivery_id for r in rest] == [2, 3]
    finally:
        await stream.aclose()
        await sender.aclose()
    assert len(smtp_server.handler.received) == 3


@pytest.fixture
def plain_server() -> Iterator[Server]:
    """A relay that offers no STARTTLS and asks for no login (a local relay, or a downgrade)."""
    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        unused = ssl.create_default_context()  # no TLS here; `restart` is not used
        yield Server(handler, port, unused, controller, unused, False)
    finally:
        controller.stop()


async def test_no_starttls_when_required_is_one_setup_error(plain_server, make_messages):
    """Raised once for the batch (not a refusal per recipient), naming the setting to change."""
    sender = SmtpTransport("127.0.0.1", plain_server.port, username=None, password=None, timeout=5)
    with pytest.raises(ProviderSetupError) as raised:
        await sender.send_batch(make_messages(3))
    await sender.aclose()
    message = str(raised.value)
    assert "\n" not in message
    assert f"127.0.0.1:{plain_server.port} does not offer STARTTLS" in message
    assert 'smtp.tls = "none"' in message
    assert plain_server.handler.received == []
    unencrypted = SmtpTransport(
        "127.0.0.1", plain_server.port, username=None, password=None, tls="none", timeout=5
    )
    try:
        assert {r.outcome for r in await unencrypted.send_batch(make_messages(2))} == {Outcome.SENT}
    finally:
        await unencrypted.aclose()


def test_no_starttls_stops_the_issue_with_its_deliveries_pending(
    example_dir: Path, home: Path, plain_server: Server
) -> None:
    path = configure(example_dir, "mail", 12)
    block = f'[providers.mail]\nkind = "smtp"\nhost = "127.0.0.1"\nport = {plain_server.port}'
    original = path.read_text()
    add_provider(path, block)
    ws = workspace(path, home)
    try:
        report = asyncio.run(run_digest(ws, "example", max_wait=5))
        assert report.status == "failed"
        assert report.dispatch is not None and report.dispatch.error is not None
        error = report.dispatch.error
        assert "\n" not in error and "does not offer STARTTLS" in error
        assert 'providers.mail.tls = "none"' in error
        issue_id = report.issue_id or 0
        assert ws.store.delivery_counts(issue_id) == {"pending": 12}  # nothing marked failed
        assert plain_server.handler.received == []
    finally:
        ws.close()
    # `security`, the setting's former name, still works: the issue resumes and completes
    path.write_text(original)
    add_provider(path, block + '\nsecurity = "none"')
    ws = workspace(path, home)
    try:
        [resumed] = asyncio.run(resume_unfinished(ws, "example", max_wait=5))
        assert resumed.status == "complete" and resumed.counts == {"sent": 12}
    finally:
        ws.close()
    assert len(plain_server.handler.received) == 12
