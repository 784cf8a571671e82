"""The frozen issue: rendered once, stored as is, and split at its placeholders for sending.

`RenderedIssue` is what rendering hands on and the store keeps: subject, HTML and text with
recipient placeholder tokens (digest.render.placeholders). `FrozenBody` splits one part at its
tokens into literal pieces and slots, and knows the context each slot sits in (HTML text, HTML
attribute, URL attribute, plain text), so a recipient's values are escaped exactly as lxml
(through premailer) would have written them: a personalized message is byte-identical to
rendering the issue for that recipient. The character set libxml2 percent-escapes in URL
attributes is read from libxml2 itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from html import unescape as html_unescape
from typing import Any

import orjson
from lxml import etree

from digest.errors import RenderError
from digest.models import Article, Recipient
from digest.render.headers import MAX_LINE
from digest.render.placeholders import FieldSpec

__all__ = [
    "FrozenBody",
    "RenderedIssue",
    "SpecTable",
    "article_from_json",
    "article_to_json",
    "escape_text",
    "serialize_attribute",
]


# --------------------------------------------------------------------------------------------
# Frozen issue
# --------------------------------------------------------------------------------------------


@dataclass
class RenderedIssue:
    """The frozen issue: subject, HTML and text with recipient placeholders, stored as is."""

    subject: str
    html: str
    text: str
    html_size: int
    warnings: list[str]
    articles: list[Article]
    more: list[Article]
    nonce: str = ""  # identifies this issue's placeholder tokens (digest.render.placeholders)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form for the store; `from_json` reads it back."""
        return {
            "subject": self.subject,
            "html": self.html,
            "text": self.text,
            "html_size": self.html_size,
            "warnings": self.warnings,
            "articles": [article_to_json(a) for a in self.articles],
            "more": [article_to_json(a) for a in self.more],
            "nonce": self.nonce,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderedIssue:
        return cls(
            subject=data["subject"],
            html=data["html"],
            text=data["text"],
            html_size=data["html_size"],
            warnings=list(data["warnings"]),
            articles=[article_from_json(a) for a in data["articles"]],
            more=[article_from_json(a) for a in data["more"]],
            nonce=data["nonce"],
        )


def article_to_json(a: Article) -> dict[str, Any]:
    return {
        "source": a.source,
        "key": a.key,
        "url": a.url,
        "title": a.title,
        "lead": a.lead,
        "summary": a.summary,
        "published": a.published.isoformat() if a.published else None,
        "author": a.author,
        "image": a.image,
        "language": a.language,
        "words": a.words,
    }


def article_from_json(d: dict[str, Any]) -> Article:
    published = datetime.fromisoformat(d["published"]) if d.get("published") else None
    return Article(**{**d, "published": published})


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
