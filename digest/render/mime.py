"""The one MIME builder: every message Digest sends is laid out here.

Headers written by `digest.render.headers`, then multipart/alternative with a text part and an
HTML part, UTF-8, 8bit, CRLF line ends; a part with a line over 998 bytes goes
quoted-printable instead. The issue's per-recipient messages (`digest.render.message`) prepare
their headers once per issue and call `Alternatives.message` per recipient; a one-off message
such as the sign-up confirmation is built whole by `build_message`.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Iterable
from email.utils import make_msgid

from digest.models import OutgoingMessage
from digest.render.headers import (
    MAX_LINE,
    DateCache,
    address_line,
    cut_subject,
    header_line,
    mailbox,
    one_line,
)

__all__ = ["Alternatives", "build_message", "crlf_body", "from_line"]


def _part_head(subtype: str, *, qp: bool) -> bytes:
    cte = "quoted-printable" if qp else "8bit"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    ).encode()


_TEXT_8BIT = _part_head("plain", qp=False)
_TEXT_QP = _part_head("plain", qp=True)
_HTML_8BIT = _part_head("html", qp=False)
_HTML_QP = _part_head("html", qp=True)


def _qp(body: bytes) -> bytes:
    """The rare body with a line over 998 bytes (a huge URL or name) goes quoted-printable."""
    return binascii.b2a_qp(body, quotetabs=False, istext=True, header=False)


def crlf_body(text: str) -> tuple[bytes, bool]:
    """A part's body with CRLF line ends (from LF), and whether every line fits in 998 bytes."""
    data = text.replace("\n", "\r\n").encode()
    return data, max(len(line) for line in data.split(b"\r\n")) <= MAX_LINE


def from_line(from_addr: str) -> bytes:
    """The From header of a configured sender (`Name <address>`; RenderError if it is not
    exactly one address)."""
    sender = mailbox(from_addr)
    return address_line("From", sender.display_name, sender.addr_spec)


class Alternatives:
    """A text and an HTML part as multipart/alternative, after the headers, with one boundary.

    `message` joins everything in one pass: the bulk path calls it once per recipient, so each
    body is copied once.
    """

    def __init__(self, boundary: str) -> None:
        self.boundary = boundary
        self._opening = (
            f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n'
            "\r\n"
            f"--{boundary}\r\n"
        ).encode()
        self._separator = f"\r\n--{boundary}\r\n".encode()
        self._closing = f"\r\n--{boundary}--\r\n".encode()

    @classmethod
    def around(cls, *bodies: str) -> Alternatives:
        """With a fresh boundary that occurs in none of the bodies."""
        while True:
            boundary = f"=_digest_{secrets.token_hex(12)}"
            if not any(boundary in body for body in bodies):
                return cls(boundary)

    def message(
        self, head: Iterable[bytes], text: bytes, text_fits: bool, html: bytes, html_fits: bool
    ) -> bytes:
        """The complete message: header lines (each ending in CRLF), then both parts.

        `text` and `html` are CRLF bodies; `*_fits` says whether every line is at most 998
        bytes (else that part is sent quoted-printable).
        """
        return b"".join(
            (
                *head,
                self._opening,
                _TEXT_8BIT if text_fits else _TEXT_QP,
                text if text_fits else _qp(text),
                self._separator,
                _HTML_8BIT if html_fits else _HTML_QP,
                html if html_fits else _qp(html),
                self._closing,
            )
        )


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def build_message(
    delivery_id: int,
    *,
    to: str,
    to_name: str,
    from_addr: str,
    subject: str,
    text: str,
    html: str,
) -> OutgoingMessage:
    """A small transactional text + HTML message (no List-Unsubscribe: nobody is on a list).

    Its headers are made as the issue's are: a name or subject holding a colon, quotes or a
    line break stays inside its own header."""
    sender = mailbox(from_addr)
    message_id = make_msgid(domain=sender.domain)
    subject = cut_subject(subject)
    to_name = one_line(to_name)
    head = (
        address_line("From", sender.display_name, sender.addr_spec),
        address_line("To", to_name, to),
        header_line("Subject", subject),
        f"Date: {DateCache().now()}\r\nMessage-ID: {message_id}\r\n".encode(),
        b"Auto-Submitted: auto-generated\r\n",
    )
    text_body, text_fits = crlf_body(_lf(text))
    html_body, html_fits = crlf_body(_lf(html))
    mime = Alternatives.around(text, html).message(head, text_body, text_fits, html_body, html_fits)
    return OutgoingMessage(
        delivery_id=delivery_id,
        to_email=to,
        to_name=to_name,
        from_addr=str(sender),
        reply_to=None,
        subject=subject,
        html=html,
        text=text,
        headers={"Message-ID": message_id, "Auto-Submitted": "auto-generated"},
        mime=mime,
        tag="confirmation",
    )
