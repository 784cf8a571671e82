"""Message headers as RFC 5322 and RFC 2047 want them, made with the email package.

Addresses are `email.headerregistry.Address` objects (configured ones parsed by the email
package's address parser), so quoting a display name is its job; the Subject is folded by
`email.policy.SMTP` (78 columns, encoded words where needed), and cut with an ellipsis past
`SUBJECT_MAX` characters. Every value is made one line first (control characters and line
breaks become spaces), so no name or subject can add a header or break one; no line passes
998 octets. The per-recipient To line is the one header made per message: what `Address`
writes, its display name RFC 2047-encoded when not ASCII, folded at spaces; a name and address
with nothing to quote are written without building the Address (checked to agree with it).
"""

from __future__ import annotations

import binascii
import email.policy
import re
import time
from datetime import UTC, datetime
from email.errors import InvalidHeaderDefect
from email.headerregistry import Address
from email.utils import format_datetime

from digest.errors import RenderError

__all__ = [
    "MAX_LINE",
    "SUBJECT_MAX",
    "DateCache",
    "address_line",
    "cut_subject",
    "display_name",
    "dot_atom",
    "encoded_words",
    "fold",
    "header_line",
    "header_uri",
    "list_id",
    "mailbox",
    "one_line",
]

MAX_LINE = 998  # RFC 5322 line limit in bytes, without CRLF
SUBJECT_MAX = 250  # characters; a longer subject is cut with an ellipsis (mail clients show ~80)

_POLICY = email.policy.SMTP  # CRLF, lines folded at 78 columns, non-ASCII as encoded words
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(value: str) -> str:
    """The value on one line: control characters (CR, LF, NUL, tab...) become spaces, runs of
    whitespace one space. What every header value goes through first."""
    if value.isprintable() and "  " not in value:
        return value.strip()
    return " ".join(_CONTROL.sub(" ", value).split())


def cut_subject(subject: str) -> str:
    """The subject on one line, cut at a word past `SUBJECT_MAX` characters, with an ellipsis."""
    subject = one_line(subject)
    if len(subject) <= SUBJECT_MAX:
        return subject
    cut = subject[: SUBJECT_MAX - 1]
    space = cut.rfind(" ")
    if space > SUBJECT_MAX * 0.8:  # a word boundary near the end; else cut inside the word
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def mailbox(value: str) -> Address:
    """A configured address ("Name <news@example.org>"), read by the email package's parser.

    Exactly one address with a local part and a domain, else RenderError: an unquoted ":" or
    "," in a name ("News: Weekly <...>") would otherwise be read as a group or a list.
    """
    header = email.policy.default.header_factory("From", value)
    groups = header.groups
    if len(groups) != 1 or groups[0].display_name is not None or len(groups[0].addresses) != 1:
        raise RenderError(
            f"{value!r} is not one address like 'Name <news@example.org>' (quote a name "
            'holding ":" or ",": \'"News: Weekly" <news@example.org>\')'
        )
    found = header.addresses[0]
    invalid = any(isinstance(d, InvalidHeaderDefect) for d in header.defects)
    if invalid or not (found.username and found.domain):
        raise RenderError(f"{value!r} has no email address like 'Name <news@example.org>'")
    return Address(one_line(found.display_name), found.username, found.domain)


def encoded_words(text: str) -> str:
    """RFC 2047 encoded-words of at most 75 characters, folded onto continuation lines."""
    data = text.encode()
    if len(data) <= 45:  # 45 bytes -> 60 base64 characters -> a 72-character word
        return f"=?utf-8?b?{binascii.b2a_base64(data, newline=False).decode()}?="
    words = []
    chunk = b""
    for ch in text:
        b = ch.encode()
        if len(chunk) + len(b) > 45:
            words.append(chunk)
            chunk = b""
        chunk += b
    if chunk:
        words.append(chunk)
    return "\r\n ".join(
        f"=?utf-8?b?{binascii.b2a_base64(w, newline=False).decode()}?=" for w in words
    )


def _address(name: str, addr: str, *, encode: bool = False) -> Address:
    """An `Address` fit for a header: the name one line, RFC 2047-encoded unless it is plain
    ASCII (encoded words separated by spaces, for folding); `Address` quotes the rest."""
    name = one_line(name)
    if name and (encode or not name.isascii()):
        name = encoded_words(name).replace("\r\n", "")
    if not addr.isprintable() or " " in addr:  # stored addresses never are; be safe anyway
        addr = one_line(addr).replace(" ", "")
    local, at, domain = addr.rpartition("@")
    return Address(name, local, domain) if at else Address(name, addr)


def display_name(name: str) -> str:
    """A display name for From/To: plain, quoted or RFC 2047-encoded, one logical line."""
    if not one_line(name):
        return ""
    shown = str(_address(name, "x@x"))
    return shown[: shown.rindex(" <")]


def fold(line: str, limit: int = 78) -> str:
    """Fold a header line (`Name: value`) at spaces so lines stay short; unfolding undoes it.

    A value with no space to fold at within 998 bytes is sent as encoded words instead by
    the caller (`address_line`); encoded words are already folded.
    """
    if len(line) <= limit or "\r\n" in line:
        return line
    out = []
    start = line.index(":") + 2  # never between the name and the value
    while len(line) > limit:
        cut = line.rfind(" ", start, limit)
        if cut <= 0:
            cut = line.find(" ", limit)
            if cut < 0:
                break
        out.append(line[:cut])
        line = line[cut:]
        start = 1  # a continuation line starts with the space it was folded at
    out.append(line)
    return "\r\n".join(out)


# The characters that make `Address` quote a display name or a local part (the email package's
# SPECIALS and DOT_ATOM_ENDS); a value without them it writes as it is.
_NAME_QUOTED = re.compile(r'[][\\()<>@,:;".]')
_LOCAL_QUOTED = re.compile(r'[][\\()<>@,:;"\s]')


def _address_text(name: str, addr: str) -> str:
    """`str(Address(...))` for one recipient, without building the Address when nothing in
    the name or the address would be quoted or encoded: then the email package writes them
    as they are, and building one costs a few microseconds a message (a test checks that
    both ways agree)."""
    name = one_line(name)
    if not name.isascii():
        name = encoded_words(name).replace("\r\n", "")  # as `_address` encodes it
    local, at, _ = addr.rpartition("@")  # Address writes the domain as it is
    if (
        _NAME_QUOTED.search(name) is None
        and at
        and addr.isprintable()
        and _LOCAL_QUOTED.search(local) is None
    ):
        return f"{name} <{addr}>" if name else addr
    return str(_address(name, addr))


def address_line(header: str, name: str, addr: str) -> bytes:
    """`To: name <addr>` folded; a name that cannot be folded legally is encoded instead."""
    line = f"{header}: {_address_text(name, addr)}"
    if len(line) <= 78:
        return (line + "\r\n").encode()
    line = fold(line)
    if max(len(part.encode()) for part in line.split("\r\n")) > MAX_LINE:
        line = fold(f"{header}: {_address(name, addr, encode=True)}")
    return (line + "\r\n").encode()


def header_line(name: str, value: str) -> bytes:
    """One unstructured header (Subject) of plain text, folded by the email package."""
    header = _POLICY.header_factory(name, one_line(value))
    return _POLICY.fold_binary(name, header)


def list_id(label: str, identifier: str) -> str:
    """A List-Id value (RFC 2919), `label <identifier>`, the label quoted or encoded."""
    return str(_address(label, identifier)) if one_line(label) else f"<{identifier}>"


_URI_HEADER_UNSAFE = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")


def header_uri(url: str) -> str:
    """A URL fit for `<...>` in List-Unsubscribe: anything outside URI syntax %-escaped."""
    if _URI_HEADER_UNSAFE.search(url) is None:
        return url
    return _URI_HEADER_UNSAFE.sub(
        lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), one_line(url)
    )


def dot_atom(value: str) -> str:
    """A conservative dot-atom for Message-ID and List-Id parts."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip(".-") or "x"


class DateCache:
    """RFC 5322 dates cost a few microseconds; one per second is plenty."""

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._value = format_datetime(datetime.fromtimestamp(second, UTC))
        return self._value
