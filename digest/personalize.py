"""Per-recipient messages by substitution into an issue rendered and built once.

`MessageTemplate.build` finds every placeholder token in the frozen HTML and text, works out
the context each one sits in (HTML text, HTML attribute, URL attribute, plain text) and
prepares the complete MIME message around them. `personalize` then only escapes a handful of
short values and joins prepared pieces: no Jinja, premailer or MIME building per recipient.

The HTML escaping reproduces exactly what lxml (through premailer) writes for the same value,
so a personalized message is byte-identical to rendering the issue for that recipient; the
character set libxml2 percent-escapes in URL attributes is read from libxml2 itself.
"""

from __future__ import annotations

import binascii
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, parseaddr
from functools import cache
from html import unescape as html_unescape

import orjson
from lxml import etree

from digest.errors import RenderError
from digest.models import OutgoingMessage, Recipient
from digest.render import FieldSpec, RenderedIssue, RenderSettings, tidy_text, token_pattern

__all__ = ["FrozenBody", "MessageTemplate", "personalize_all", "render_preview"]

MAX_LINE = 998  # RFC 5322 line limit in bytes, without CRLF


# --------------------------------------------------------------------------------------------
# Escaping, as lxml's HTML serializer does it
# --------------------------------------------------------------------------------------------


def escape_text(value: str) -> str:
    """HTML text: lxml writes & < > as entities and every other character as is."""
    if "&" in value or "<" in value or ">" in value:
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


@cache
def _uri_safe() -> frozenset[str]:
    """The ASCII characters libxml2 leaves as they are in URL attributes (asked, not assumed)."""
    safe = set()
    for code in range(0x21, 0x7F):
        ch = chr(code)
        out = etree.tostring(etree.Element("a", href=f"a{ch}b"), method="html", encoding="unicode")
        if f"%{code:02X}" not in out:
            safe.add(ch)  # written as is, or as an entity (& < > ")
    return frozenset(safe)


@cache
def _is_uri_attribute(tag: str, attr: str) -> bool:
    """Whether libxml2 treats this attribute as a URL (strips, percent-escapes) on output."""
    el = etree.Element(tag)
    el.set(attr, " x y")
    out = etree.tostring(el, method="html", encoding="unicode")
    return "x%20y" in out


_URI_BLANKS = " \t\n"  # not CR: libxml2 keeps (and entity-escapes) a leading CR


@cache
def _uri_unsafe() -> re.Pattern[str]:
    # CR is no exception to escape here: libxml2 writes it as &#13; (below), even in URLs.
    safe = "".join(sorted(_uri_safe()))
    return re.compile(f"[^{re.escape(safe)}\r]+")


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in match.group().encode())


def serialize_attribute(value: str, uri: bool) -> str:
    """An attribute value with its quotes, as lxml writes it (quotes chosen by content).

    URL attributes lose leading blanks and get spaces, controls and non-ASCII percent-escaped;
    then & < > become entities (and CR &#13;); the value is quoted with " unless it holds a "
    and no ', in which case with ' (with both, " is written as &quot;).
    """
    if uri:
        value = _uri_unsafe().sub(_percent, value.lstrip(_URI_BLANKS))
    value = escape_text(value)
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    if '"' in value:
        if "'" in value:
            return '"' + value.replace('"', "&quot;") + '"'
        return "'" + value + "'"
    return '"' + value + '"'


# --------------------------------------------------------------------------------------------
# Frozen bodies: literal pieces with slots between them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TextSlot:
    spec: int

    def render(self, values: list[str]) -> str:
        return escape_text(values[self.spec])


@dataclass(frozen=True)
class _PlainSlot:
    spec: int

    def render(self, values: list[str]) -> str:
        return values[self.spec]


@dataclass(frozen=True)
class _AttributeSlot:
    """A whole quoted attribute value holding one or more fields (quotes depend on them)."""

    parts: tuple[str | int, ...]  # literal raw text, or a spec index
    uri: bool

    def render(self, values: list[str]) -> str:
        parts = self.parts
        if len(parts) == 1 and isinstance(parts[0], int):
            raw = values[parts[0]]
        else:
            raw = "".join(p if isinstance(p, str) else values[p] for p in parts)
        return serialize_attribute(raw, self.uri)


_Slot = _TextSlot | _PlainSlot | _AttributeSlot

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_ATTRIBUTE = re.compile(r"""\s([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")
_RAW_ELEMENTS = re.compile(
    r"<!--.*?-->|<(style|script|title|textarea)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE
)


class FrozenBody:
    """One part (HTML or text) split at its placeholders, ready to be filled per recipient."""

    def __init__(self, literals: list[str], slots: list[_Slot]) -> None:
        self.literals = literals
        self.slots = slots
        # The same field in the same context (a web link in header and footer) renders once.
        self._unique = list(dict.fromkeys(slots))
        self._slot_map = [self._unique.index(slot) for slot in slots]
        self.literal_bytes = [lit.replace("\n", "\r\n").encode() for lit in literals]
        # The literals already escaped as JSON string content: JSON APIs splice these in, so the
        # 50+ KB of markup (full of quotes to escape) is encoded once per issue, not per message.
        self.literal_json = [orjson.dumps(lit)[1:-1] for lit in literals]
        self._measure()

    def _measure(self) -> None:
        """Line lengths without the slots, to know per recipient if a line can get too long."""
        self.static_max = 0
        self.slot_lines: list[int] = []  # for each slot, which slot-line it is on
        self.line_base: list[int] = []  # bytes of literal text on each slot-line
        current = 0
        on_slot_line = False
        for i, lit in enumerate(self.literal_bytes):
            chunks = lit.split(b"\r\n")
            current += len(chunks[0])
            if len(chunks) > 1:
                if on_slot_line:
                    self.line_base.append(current)
                else:
                    self.static_max = max(self.static_max, current)
                for middle in chunks[1:-1]:
                    self.static_max = max(self.static_max, len(middle))
                current = len(chunks[-1])
                on_slot_line = False
            if i < len(self.slots):
                if not on_slot_line:
                    on_slot_line = True
                self.slot_lines.append(len(self.line_base))
        if on_slot_line:
            self.line_base.append(current)
        else:
            self.static_max = max(self.static_max, current)

    @classmethod
    def from_html(cls, html: str, pattern: re.Pattern[str], specs: SpecTable) -> FrozenBody:
        raw_ranges = [(m.start(), m.end()) for m in _RAW_ELEMENTS.finditer(html)]
        literals: list[str] = []
        slots: list[_Slot] = []
        pos = 0
        matches = list(pattern.finditer(html))
        i = 0
        while i < len(matches):
            m = matches[i]
            if any(a <= m.start() < b for a, b in raw_ranges):
                raise RenderError(
                    "a recipient field sits in a comment, <style>, <script> or <title>; "
                    "put it in text or an attribute"
                )
            tag_start = html.rfind("<", 0, m.start())
            if tag_start > html.rfind(">", 0, m.start()):
                tag_end = html.index(">", m.end())
                attr = _attribute_around(html, tag_start, tag_end, m.start())
                if attr is None:
                    raise RenderError("a recipient field is used as an attribute or tag name")
                name, v_start, v_end = attr
                if name.lower() == "style" or name.lower().startswith("on"):
                    raise RenderError(f"a recipient field sits in a {name} attribute")
                tag = _TAG_NAME.match(html, tag_start + 1)
                if tag is None:
                    raise RenderError("a recipient field sits in a malformed tag")
                inner_start = v_start + 1 if html[v_start] in "\"'" else v_start
                inner_end = v_end - 1 if html[v_start] in "\"'" else v_end
                parts: list[str | int] = []
                at = inner_start
                while i < len(matches) and matches[i].start() < inner_end:
                    mm = matches[i]
                    parts.append(_unescape_attr(html[at : mm.start()]))
                    parts.append(specs.index(mm.group(1)))
                    at = mm.end()
                    i += 1
                parts.append(_unescape_attr(html[at:inner_end]))
                literals.append(html[pos:v_start])
                slots.append(
                    _AttributeSlot(
                        tuple(p for p in parts if p != ""), _is_uri_attribute(tag.group(), name)
                    )
                )
                pos = v_end
                continue
            literals.append(html[pos : m.start()])
            slots.append(_TextSlot(specs.index(m.group(1))))
            pos = m.end()
            i += 1
        literals.append(html[pos:])
        return cls(literals, slots)

    @classmethod
    def from_text(cls, text: str, pattern: re.Pattern[str], specs: SpecTable) -> FrozenBody:
        literals: list[str] = []
        slots: list[_Slot] = []
        pos = 0
        for m in pattern.finditer(text):
            literals.append(text[pos : m.start()])
            slots.append(_PlainSlot(specs.index(m.group(1))))
            pos = m.end()
        literals.append(text[pos:])
        return cls(literals, slots)

    def pieces(self, values: list[str]) -> list[str]:
        """Each slot rendered (escaped for its context) for one recipient's values."""
        if not self.slots:
            return []
        unique = [slot.render(values) for slot in self._unique]
        return [unique[k] for k in self._slot_map]

    def join(self, rendered: list[str]) -> str:
        """The personalized part as text."""
        if not rendered:
            return self.literals[0]
        parts = [self.literals[0]]
        for piece, lit in zip(rendered, self.literals[1:], strict=True):
            parts.append(piece)
            parts.append(lit)
        return "".join(parts)

    def fill_json(self, rendered: list[str]) -> bytes:
        """The personalized part as a JSON string literal, quotes included."""
        parts = [b'"', self.literal_json[0]]
        for piece, lit in zip(rendered, self.literal_json[1:], strict=True):
            parts.append(orjson.dumps(piece)[1:-1])
            parts.append(lit)
        parts.append(b'"')
        return b"".join(parts)

    def fill(self, values: list[str]) -> tuple[str, list[str]]:
        """The personalized text, and the rendered slot strings (reused for the bytes)."""
        if not self.slots:
            return self.literals[0], []
        unique = [slot.render(values) for slot in self._unique]
        rendered = [unique[k] for k in self._slot_map]
        parts = [self.literals[0]]
        for piece, lit in zip(rendered, self.literals[1:], strict=True):
            parts.append(piece)
            parts.append(lit)
        return "".join(parts), rendered

    def fill_bytes(self, rendered: list[str]) -> tuple[bytes, bool]:
        """The part's body bytes (CRLF), and whether every line fits in 998 bytes."""
        if not rendered:
            return self.literal_bytes[0], self.static_max <= MAX_LINE
        encoded = [r.encode() for r in rendered]
        fits = self.static_max <= MAX_LINE
        if fits:
            lines = list(self.line_base)
            for n, e in zip(self.slot_lines, encoded, strict=True):
                lines[n] += len(e)
            fits = max(lines) <= MAX_LINE
        parts = [self.literal_bytes[0]]
        for e, lit in zip(encoded, self.literal_bytes[1:], strict=True):
            parts.append(e)
            parts.append(lit)
        return b"".join(parts), fits


def _attribute_around(html: str, start: int, end: int, at: int) -> tuple[str, int, int] | None:
    """The attribute of the tag html[start:end] whose value contains position `at`."""
    for m in _ATTRIBUTE.finditer(html, start, end):
        if m.group(2) is not None and m.start(2) <= at < m.end(2):
            return m.group(1), m.start(2), m.end(2)
    return None


def _unescape_attr(raw: str) -> str:
    """lxml's attribute text back to the value (lxml writes every & as an entity's start)."""
    return html_unescape(raw) if "&" in raw else raw


class SpecTable:
    """The distinct fields (with filters) an issue uses, decoded once."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self.specs: list[FieldSpec] = []

    def index(self, hexed: str) -> int:
        n = self._index.get(hexed)
        if n is None:
            n = self._index[hexed] = len(self.specs)
            self.specs.append(FieldSpec.decode(hexed))
        return n

    def values(self, recipient: Recipient) -> list[str]:
        return [spec.value(recipient) for spec in self.specs]


# --------------------------------------------------------------------------------------------
# Headers
# --------------------------------------------------------------------------------------------

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
    while len(line) > limit:
        cut = line.rfind(" ", line.index(":") + 2, limit)
        if cut <= 0:
            cut = line.find(" ", limit)
            if cut < 0:
                break
        out.append(line[:cut])
        line = line[cut:]
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


def _atom(value: str) -> str:
    """A conservative dot-atom for Message-ID and List-Id parts."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip(".-") or "x"


class _DateCache:
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


# --------------------------------------------------------------------------------------------
# The message template
# --------------------------------------------------------------------------------------------


class MessageTemplate:
    """The complete MIME message of one issue, built once, with slots for each recipient."""

    def __init__(
        self,
        *,
        settings: RenderSettings,
        subject: str,
        issue_key: str,
        specs: SpecTable,
        html: FrozenBody,
        text: FrozenBody,
        boundary: str,
    ) -> None:
        self.settings = settings
        self.subject = subject
        self.issue_key = _atom(issue_key)
        self.specs = specs
        self.html = html
        self.text = text
        self.boundary = boundary
        self._dates = _DateCache()
        self._message_id_domain = _atom(settings.message_id_domain)
        from_name, from_email = parseaddr(settings.from_addr)
        if not from_email:
            raise RenderError(f"from address {settings.from_addr!r} has no email address")
        self.from_addr = settings.from_addr
        label = display_name(settings.title) or _atom(settings.digest_name)
        self.list_id = f"{label} <{self._list_id_value()}>"
        self._list_id_unfolded = self.list_id.replace("\r\n ", " ")  # for HTTP APIs' fields
        mailto = (settings.unsubscribe_mailto or "").strip()
        if mailto.lower().startswith("mailto:"):
            mailto = mailto[7:]
        self.mailto = f"<mailto:{header_uri(mailto)}?subject=unsubscribe>" if mailto else None
        self._head_from = address_line("From", from_name, from_email)
        self._head_subject = header_line("Subject", subject)
        reply = b""
        if settings.reply_to:
            r_name, r_email = parseaddr(settings.reply_to)
            reply = address_line("Reply-To", r_name, r_email)
        self._head_middle = reply + (fold(f"List-Id: {self.list_id}") + "\r\n").encode()
        self._head_mime = (
            f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n'
            "\r\n"
            f"--{boundary}\r\n"
        ).encode()
        self._text_head = _part_head("plain", qp=False)
        self._html_head = _part_head("html", qp=False)
        self._sep = f"\r\n--{boundary}\r\n".encode()
        self._end = f"\r\n--{boundary}--\r\n".encode()

    def _list_id_value(self) -> str:
        return f"{_atom(self.settings.digest_name)}.{_atom(self.settings.list_id_domain)}"

    @classmethod
    def build(
        cls, rendered: RenderedIssue, settings: RenderSettings, *, issue_key: str
    ) -> MessageTemplate:
        """Prepare an issue for sending; `issue_key` makes Message-IDs unique per issue."""
        if not rendered.nonce:
            raise RenderError("the rendered issue carries no placeholder nonce")
        pattern = token_pattern(rendered.nonce)
        specs = SpecTable()
        html = FrozenBody.from_html(rendered.html, pattern, specs)
        text = FrozenBody.from_text(rendered.text, pattern, specs)
        while True:
            boundary = f"=_digest_{secrets.token_hex(12)}"
            if boundary not in rendered.html and boundary not in rendered.text:
                break
        return cls(
            settings=settings,
            subject=rendered.subject,
            issue_key=issue_key,
            specs=specs,
            html=html,
            text=text,
            boundary=boundary,
        )

    def personalize(self, recipient: Recipient) -> OutgoingMessage:
        """One recipient's message: escape their values, join the prepared pieces.

        Only the values are escaped here; each form of the message (text, JSON literal, MIME)
        is joined from the prepared pieces the first time a transport asks for it.
        """
        values = self.specs.values(recipient)
        html_pieces = self.html.pieces(values)
        text_pieces = self.text.pieces(values)
        text_needs_tidy = "" in text_pieces

        def text() -> str:
            joined = self.text.join(text_pieces)
            # An empty value can leave a trailing space or an extra blank line, which the
            # text part's tidying (done at render time) would have removed: redo it.
            return tidy_text(joined) if text_needs_tidy else joined

        date = self._dates.now()
        message_id = f"<{self.issue_key}.{recipient.delivery_id}@{self._message_id_domain}>"
        headers = {"List-Id": self._list_id_unfolded}
        unsubscribe = []
        url = header_uri(recipient.unsubscribe_url)
        if url:
            unsubscribe.append(f"<{url}>")
        if self.mailto:
            unsubscribe.append(self.mailto)
        unsub_line = b""
        if unsubscribe:
            headers["List-Unsubscribe"] = ", ".join(unsubscribe)
            unsub_line = ("List-Unsubscribe: " + ",\r\n ".join(unsubscribe) + "\r\n").encode()
            if url[:8].lower() == "https://":
                headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
                unsub_line += b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        headers["Message-ID"] = message_id
        headers["Date"] = date

        def mime() -> bytes:
            html_bytes, html_fits = self.html.fill_bytes(html_pieces)
            if text_needs_tidy:
                text_bytes = message.text.replace("\n", "\r\n").encode()
                text_fits = max(len(line) for line in text_bytes.split(b"\r\n")) <= MAX_LINE
            else:
                text_bytes, text_fits = self.text.fill_bytes(text_pieces)
            return b"".join(
                (
                    self._head_from,
                    address_line("To", recipient.name, recipient.email),
                    self._head_subject,
                    b"Date: ",
                    date.encode(),
                    b"\r\nMessage-ID: ",
                    message_id.encode(),
                    b"\r\n",
                    self._head_middle,
                    unsub_line,
                    self._head_mime,
                    self._text_head if text_fits else _part_head("plain", qp=True),
                    text_bytes if text_fits else _qp(text_bytes),
                    self._sep,
                    self._html_head if html_fits else _part_head("html", qp=True),
                    html_bytes if html_fits else _qp(html_bytes),
                    self._end,
                )
            )

        message = OutgoingMessage(
            delivery_id=recipient.delivery_id,
            to_email=recipient.email,
            to_name=recipient.name,
            from_addr=self.from_addr,
            reply_to=self.settings.reply_to,
            subject=self.subject,
            html=lambda: self.html.join(html_pieces),
            text=text,
            headers=headers,
            mime=mime,
            tag=self.settings.digest_name,
            html_json=lambda: self.html.fill_json(html_pieces),
            text_json=(
                (lambda: orjson.dumps(message.text))
                if text_needs_tidy
                else (lambda: self.text.fill_json(text_pieces))
            ),
        )
        return message


def _part_head(subtype: str, *, qp: bool) -> bytes:
    cte = "quoted-printable" if qp else "8bit"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n\r\n'
    ).encode()


def _qp(body: bytes) -> bytes:
    """The rare body with a line over 998 bytes (a huge URL or name) goes quoted-printable."""
    return binascii.b2a_qp(body, quotetabs=False, istext=True, header=False)


def personalize_all(
    template: MessageTemplate, recipients: Iterable[Recipient]
) -> Iterator[OutgoingMessage]:
    """Messages one at a time, so memory stays flat however long the list is."""
    for recipient in recipients:
        yield template.personalize(recipient)


def render_preview(rendered: RenderedIssue, recipient: Recipient) -> tuple[str, str]:
    """The HTML and text a given subscriber would receive (for `digest preview`)."""
    pattern = token_pattern(rendered.nonce)
    specs = SpecTable()
    html = FrozenBody.from_html(rendered.html, pattern, specs)
    text = FrozenBody.from_text(rendered.text, pattern, specs)
    values = specs.values(recipient)
    text_filled, text_pieces = text.fill(values)
    if "" in text_pieces:
        text_filled = tidy_text(text_filled)
    return html.fill(values)[0], text_filled
