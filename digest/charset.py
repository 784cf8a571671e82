"""Bytes to text, for feeds and pages alike, the way a careful browser reads them.

    byte-order mark (UTF-8, UTF-16, UTF-32)
      -> UTF-16/32 without one, recognized by where the zero bytes of "<" fall
      -> the declared charset: Content-Type, then <?xml encoding>, then <meta charset>
      -> valid UTF-8 wins over a label that says otherwise (multi-byte UTF-8 hardly ever
         happens by accident), and a label of UTF-8 on bytes that are not UTF-8 is ignored
      -> the declared charset, if it decodes
      -> Windows-1252 when the result reads as Western text (what most mislabelled pages are)
      -> charset-normalizer's guess, then Windows-1252 with replacement characters

Labels are read as the WHATWG encoding standard says browsers read them ("latin-1" and
"ascii" mean windows-1252), and a label naming something that is not a text encoding
(base64, rot13, zlib...) is ignored. Decoding never raises.
"""

from __future__ import annotations

import codecs
import re

__all__ = ["declared_charset", "decode", "decode_text"]

REPLACED = "+replaced"
"""Suffix of the charset `decode` reports when it had to replace undecodable bytes."""

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose mark it starts with
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# How "<" (the first character of any feed or page) looks in each wide encoding.
_WIDE_STARTS = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_XML_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']""")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE
)  # <meta charset=..> and <meta http-equiv=Content-Type content="..; charset=..">
_HIGH_LETTER = re.compile(r"[^\x00-\x7f\W\d_]")
_WIDE = frozenset({"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"})
_SAMPLE = 200_000  # bytes charset-normalizer looks at: enough to judge, bounded in time


def codec_for(label: str | None) -> str | None:
    """The Python codec a charset label stands for, as browsers read labels; None for an
    unknown label or one naming a codec that is not a text encoding (base64, rot13...)."""
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().lower())
    except LookupError:
        return None
    if not getattr(info, "_is_text_encoding", True):
        return None
    if info.name in {"latin_1", "iso8859-1", "ascii"}:
        return "cp1252"  # WHATWG: on the web these labels mean windows-1252 (curly quotes, €)
    return info.name


def declared_charset(data: bytes, content_type: str | None = None) -> str | None:
    """The charset a document claims: byte-order mark, Content-Type, then its own
    declaration (<?xml encoding>, <meta charset>); the label as written, or None."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    if content_type and (header := _HEADER_CHARSET.search(content_type)):
        return header.group(1)
    head = data[:8192]
    found = _XML_DECLARATION.match(head) or _META_CHARSET.search(head)
    return found.group(1).decode("ascii", "ignore") if found else None


def decode(data: bytes, content_type: str | None = None) -> tuple[str, str]:
    """The text and the codec used; the codec ends in "+replaced" when bytes were replaced."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _decoded(data[len(bom) :], codec)
    for start, codec in _WIDE_STARTS:
        if data.startswith(start):
            return _decoded(data, codec)
    declared = codec_for(declared_charset(data, content_type))
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and (declared in {None, "utf-8"} or not text.isascii()):
        return text, "utf-8"
    if declared and declared != "utf-8" and declared not in _WIDE:
        try:
            return data.decode(declared), declared
        except UnicodeDecodeError:
            pass
    return _detected(data)


def decode_text(data: bytes, content_type: str | None = None) -> str:
    """Only the text of `decode`."""
    return decode(data, content_type)[0]


def _decoded(data: bytes, codec: str) -> tuple[str, str]:
    try:
        return data.decode(codec), codec
    except UnicodeDecodeError:
        return data.decode(codec, errors="replace"), codec + REPLACED


def _western_share(text: str) -> float:
    """Share of non-ASCII letters that touch an ASCII letter: high for Western text ("café",
    "München"), low for another script read as cp1252 ("Ïðèâåò", all high letters)."""
    high = near = 0
    for index, match in enumerate(_HIGH_LETTER.finditer(text)):
        if index >= 5000:
            break
        high += 1
        start, end = match.span()
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        near += (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha())
    return near / high if high else 1.0


def _detected(data: bytes) -> tuple[str, str]:
    """Bytes that are neither UTF-8 nor what they claim: most often Windows-1252 (whatever the
    label says), kept when it reads as Western text; else charset-normalizer's guess; else
    Windows-1252 with replacement characters."""
    western = data.decode("cp1252", errors="replace")
    clean = "\ufffd" not in western
    if "\ufffd" not in western[:_SAMPLE] and _western_share(western) >= 0.7:
        return western, "cp1252" if clean else "cp1252" + REPLACED
    from charset_normalizer import from_bytes  # lazy: 35 ms that well-labelled text never pays

    best = from_bytes(data[:_SAMPLE]).best()
    if best is not None and best.encoding and codec_for(best.encoding):
        try:
            return data.decode(best.encoding), best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    return western, "cp1252" if clean else "cp1252" + REPLACED
