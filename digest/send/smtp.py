"""SMTP: the complete MIME message over one authenticated, encrypted connection, reused.

smtplib runs in a worker thread (`asyncio.to_thread`), one message at a time, one batch at a
time, on a connection kept open between batches. A connection the server dropped while idle is
reopened once and the message tried again. Replies map to outcomes per recipient: 5xx refusals
fail that recipient, 4xx ask to retry it, 421 or a lost connection fail the rest of the batch as
retryable, and a rejected login raises `ProviderAuthError`. A server that cannot be used as
configured (no STARTTLS when TLS is required, an untrusted certificate, no AUTH) raises
`ProviderSetupError` once, naming the setting: the issue stops, its deliveries stay pending.

`stream_batch` hands over each message's outcome as the server answers it and sends the next
only when asked, so the ledger records every message before the next one goes out: a sender
killed mid-batch leaves at most the one message in flight to be sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl
import threading
from collections.abc import AsyncGenerator, Sequence
from email.utils import parseaddr
from typing import Literal

from digest.errors import (
    DeliveryError,
    PermanentDeliveryError,
    ProviderAuthError,
    ProviderSetupError,
    RetryableDeliveryError,
)
from digest.models import Outcome, OutgoingMessage, SendResult
from digest.send.base import collect

__all__ = ["SmtpTransport"]

Tls = Literal["starttls", "tls", "none"]
SERVICE_NOT_AVAILABLE = 421
MESSAGE_TOO_BIG = 552


class SmtpTransport:
    """An SMTP relay (STARTTLS on 587, implicit TLS on 465, or plain for local relays)."""

    name = "smtp"
    max_batch = 100
    supports_idempotency = False

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None,
        password: str | None,
        tls: Tls = "starttls",
        timeout: float = 30,
        tls_context: ssl.SSLContext | None = None,
        setting: str = "smtp.tls",
    ) -> None:
        """`setting` is the configuration key of `tls`, named in setup errors."""
        if tls not in ("starttls", "tls", "none"):
            raise ValueError(f"tls must be starttls, tls or none, not {tls!r}")
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.tls = tls
        self.setting = setting
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()
        self.connections_opened = 0  # how many times we (re)connected; for tests and metrics
        self._smtp: smtplib.SMTP | None = None
        self._lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return await collect(self.stream_batch(messages), messages)

    async def stream_batch(
        self, messages: Sequence[OutgoingMessage]
    ) -> AsyncGenerator[list[SendResult], None]:
        """Send one message, yield its result, and send the next only when asked again.

        A failure of the connection raises (results already yielded stand); `send_batch` turns
        one after the first message into retries for the rest.
        """
        if len(messages) > self.max_batch:
            raise RuntimeError(f"smtp: batch of {len(messages)} exceeds {self.max_batch}")
        async with self._lock:
            for message in messages:
                yield [await asyncio.to_thread(self._send_message, message)]

    async def aclose(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._close_locked)

    # Everything below runs in a worker thread. The thread lock matters when a caller is
    # cancelled: its thread keeps going, and the next batch must wait for it.

    def _close_locked(self) -> None:
        with self._thread_lock:
            self._close(True)

    def _send_message(self, message: OutgoingMessage) -> SendResult:
        with self._thread_lock:
            return self._send_with_reconnect(message)

    def _send_with_reconnect(self, m: OutgoingMessage) -> SendResult:
        reused = self._smtp is not None
        try:
            return self._send_one(m)
        except _Dropped as exc:
            if not reused:
                raise RetryableDeliveryError(f"smtp: {exc}") from exc
        # The kept connection died while idle (server timeout, restart): one fresh try.
        try:
            return self._send_one(m)
        except _Dropped as exc:
            raise RetryableDeliveryError(f"smtp: {exc}") from exc

    def _send_one(self, m: OutgoingMessage) -> SendResult:
        smtp = self._connection()
        sender = parseaddr(m.from_addr)[1] or m.from_addr
        try:
            refused = smtp.sendmail(sender, [m.to_email], m.mime)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(m.to_email, (550, b"refused"))
            return self._refusal(m, code, reply)
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code == MESSAGE_TOO_BIG:
                return self._refusal(m, exc.smtp_code, exc.smtp_error)
            self._check_service_closing(exc.smtp_code, exc.smtp_error)
            text = _text(exc.smtp_error)
            if 400 <= exc.smtp_code < 500:
                raise RetryableDeliveryError(
                    f"smtp: sender refused {exc.smtp_code} {text}"
                ) from exc
            raise PermanentDeliveryError(f"smtp: sender refused {exc.smtp_code} {text}") from exc
        except smtplib.SMTPDataError as exc:
            return self._refusal(m, exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPResponseException as exc:
            self._check_service_closing(exc.smtp_code, exc.smtp_error)
            self._close(False)
            raise RetryableDeliveryError(f"smtp: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._close(False)
            raise _Dropped(f"connection lost: {exc!r}") from exc
        if refused:  # only possible with several recipients; kept for completeness
            code, reply = refused[m.to_email]
            return self._refusal(m, code, reply)
        return SendResult(m.delivery_id, Outcome.SENT)

    def _refusal(self, m: OutgoingMessage, code: int, reply: bytes | str) -> SendResult:
        self._check_service_closing(code, reply)
        error = f"{code} {_text(reply)}"
        if 400 <= code < 500:
            return SendResult(m.delivery_id, Outcome.RETRY, error=error)
        return SendResult(m.delivery_id, Outcome.FAILED, error=error)

    def _check_service_closing(self, code: int, reply: bytes | str) -> None:
        if code == SERVICE_NOT_AVAILABLE:
            self._close(False)
            raise RetryableDeliveryError(f"smtp: {code} {_text(reply)}")

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        smtp: smtplib.SMTP | None = None
        try:
            if self.tls == "tls":
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.tls_context
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if self.tls == "starttls":
                if not smtp.has_extn("starttls"):
                    raise ProviderSetupError(
                        f"smtp server {self.host}:{self.port} does not offer STARTTLS; set "
                        f'{self.setting} = "none" for a relay you trust unencrypted, or "tls" '
                        "if it speaks TLS from the first byte (port 465)"
                    )
                smtp.starttls(context=self.tls_context)
                smtp.ehlo()
            if self.username is not None:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _quietly_close(smtp)
            raise ProviderAuthError(
                f"smtp: {self.host}:{self.port} rejected the login for {self.username!r} "
                f"({exc.smtp_code} {_text(exc.smtp_error)}); check username and password"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            _quietly_close(smtp)
            raise ProviderSetupError(f"smtp server {self.host}:{self.port}: {exc}") from exc
        except ssl.SSLCertVerificationError as exc:
            _quietly_close(smtp)
            raise ProviderSetupError(
                f"smtp: TLS certificate of {self.host} not trusted: {exc.verify_message}"
            ) from exc
        except DeliveryError:
            _quietly_close(smtp)
            raise
        except smtplib.SMTPResponseException as exc:
            _quietly_close(smtp)
            raise RetryableDeliveryError(
                f"smtp: {self.host}:{self.port} answered {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(smtp)
            raise RetryableDeliveryError(
                f"smtp: cannot connect to {self.host}:{self.port}: {exc!r}"
            ) from exc
        self.connections_opened += 1
        self._smtp = smtp
        return smtp

    def _close(self, polite: bool) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        if polite:
            try:
                smtp.quit()
                return
            except (smtplib.SMTPException, OSError):
                pass
        _quietly_close(smtp)


class _Dropped(Exception):
    """The connection broke mid-message: reconnect once if it was an idle, reused one."""


def _quietly_close(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
