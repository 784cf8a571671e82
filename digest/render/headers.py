"""Message headers as RFC 5322 and RFC 2047 want them, written directly as bytes.

Display names plain, quoted or encoded-word; long lines folded at spaces; URLs in
List-Unsubscribe escaped; values one line, so no name or subject can inject a header.
"""

from __future__ import annotations

import binascii
import re
import time
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime

__all__ = [
    "MAX_LINE",
    "DateCache",
    "address",
    "address_line",
    "display_name",
    "dot_atom",
    "encoded_words",
    "fold",
    "header_line",
    "header_uri",
]

MAX_LINE = 998  # RFC 5322 line limit in bytes, without CRLF

_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def _one_line(value: str) -> str:
    if value.isprintable() and "  " not in value:
        return value.strip()
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


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


def display_name(name: str) -> str:
    """A display name for From/To: plain, quoted or RFC 2047-encoded, one logical line."""
    name = _one_line(name)
    if not name:
        return ""
    if name.isascii() and name.isprintable():
        if _SPECIALS.search(name):
            return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return name
    return encoded_words(name)


def address(name: str, email: str) -> str:
    email = _one_line(email).replace(" ", "")
    shown = display_name(name)
    return f"{shown} <{email}>" if shown else email


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


def address_line(header: str, name: str, email: str) -> bytes:
    """`To: name <addr>` folded; a name that cannot be folded legally is encoded instead."""
    line = f"{header}: {address(name, email)}"
    if len(line) <= 78:
        return (line + "\r\n").encode()
    line = fold(line)
    if max(len(part.encode()) for part in line.split("\r\n")) > MAX_LINE:
        email = _one_line(email).replace(" ", "")
        line = fold(f"{header}: {encoded_words(_one_line(name))} <{email}>")
    return (line + "\r\n").encode()


def header_line(name: str, value: str) -> bytes:
    """One header, folded; non-ASCII encoded per RFC 2047 (the value is plain text)."""
    value = _one_line(value)
    if value.isascii() and len(name) + 2 + len(value) <= 78:
        return f"{name}: {value}\r\n".encode()
    charset = "us-ascii" if value.isascii() else "utf-8"
    folded = Header(value, charset, header_name=name).encode(linesep="\r\n")
    return f"{name}: {folded}\r\n".encode()


_URI_HEADER_UNSAFE = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")


def header_uri(url: str) -> str:
    """A URL fit for `<...>` in List-Unsubscribe: anything outside URI syntax %-escaped."""
    if _URI_HEADER_UNSAFE.search(url) is None:
        return url
    return _URI_HEADER_UNSAFE.sub(
        lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), _one_line(url)
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
