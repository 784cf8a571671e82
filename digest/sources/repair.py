"""The blemishes that make most real feeds ill-formed, repaired so the strict parser can read them.

    leading whitespace    a blank line (or a BOM left twice) before `<?xml`
    HTML entities         `&nbsp;`, `&eacute;`... which XML does not know: numeric references
    bare ampersands       `AT&T`, `?a=1&b=2`: escaped to `&amp;`
    control characters    form feeds, escapes and other C0 bytes XML forbids: removed

CDATA sections are left alone: there `&nbsp;` and `&` are text already. A document that is still
not well-formed after this goes to feedparser (see `feed.parse_document`).
"""

from __future__ import annotations

import re
from html.entities import html5

__all__ = ["repair"]

_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.DOTALL)
_AMPERSAND = re.compile(rb"&(#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)?")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_ENTITIES = frozenset((b"amp;", b"lt;", b"gt;", b"quot;", b"apos;"))


def _entity(match: re.Match[bytes]) -> bytes:
    reference = match.group(1)
    if reference is None:
        return b"&amp;"  # a bare ampersand
    if reference[:1] == b"#" or reference in _XML_ENTITIES:
        return match.group(0)
    text = html5.get(reference.decode("ascii"))
    if text is None:  # no entity at all: keep it as the text it reads as
        return b"&amp;" + reference
    return b"".join(b"&#%d;" % ord(char) for char in text)


def repair(data: bytes) -> tuple[bytes, list[str]]:
    """The document with its common blemishes repaired, and what was repaired (empty: none)."""
    fixes: list[str] = []
    start = len(data) - len(data.lstrip())
    if data[start : start + 3] == b"\xef\xbb\xbf":
        start += 3 + len(data[start + 3 :]) - len(data[start + 3 :].lstrip())
    if start:
        data = data[start:]
        fixes.append("leading whitespace")
    parts = _CDATA.split(data)
    entities = ampersands = controls = 0
    for index in range(0, len(parts), 2):  # even parts are outside CDATA sections
        part = parts[index]
        if b"&" in part:
            fixed = _AMPERSAND.sub(_entity, part)
            if fixed != part:
                for match in _AMPERSAND.finditer(part):
                    if match.group(1) is None:
                        ampersands += 1
                    elif match.group(1)[:1] != b"#" and match.group(1) not in _XML_ENTITIES:
                        entities += 1
                part = fixed
        if _CONTROL.search(part):
            part, count = _CONTROL.subn(b"", part)
            controls += count
        parts[index] = part
    for index in range(1, len(parts), 2):  # control characters are not allowed in CDATA either
        if _CONTROL.search(parts[index]):
            parts[index], count = _CONTROL.subn(b"", parts[index])
            controls += count
    if entities:
        fixes.append("HTML entities")
    if ampersands:
        fixes.append("bare ampersands")
    if controls:
        fixes.append("control characters")
    return b"".join(parts), fixes
