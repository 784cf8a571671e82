"""The one decoder for feeds and pages: labels read as browsers read them, wrong labels survived."""

from __future__ import annotations

import pytest

from digest.charset import codec_for, decode, decode_text
from digest.extract.html import extract_html
from digest.sources.feed import parse_document

PARIS = (
    "<html><head>{meta}<title>Café crème</title></head><body><h1>Café crème</h1>"
    "<p>Le café est très apprécié à Paris, où les habitants boivent chaque matin une tasse de "
    "crème avant de partir travailler.</p></body></html>"
)


@pytest.mark.parametrize(
    "text",
    [
        "<p>Grüße aus München, schöne Straße</p>",
        "<p>Le café à côté de l'hôtel était fermé.</p>",
        "<p>El niño comió piñata en España, ¿verdad?</p>",
        "<h1>Ærø</h1><p>Smørrebrød på Ærø – “citat” 5 €</p>",
    ],
)
def test_short_western_text_mislabelled_as_utf8(text: str) -> None:
    assert decode_text(text.encode("cp1252"), "text/html; charset=utf-8") == text


def test_undeclared_cyrillic_is_detected() -> None:
    text = (
        "<html><body><p>Привет, как дела? Это тестовая страница на русском языке, "
        "написанная в кодировке windows-1251.</p></body></html>"
    )
    assert decode_text(text.encode("cp1251")) == text


def test_meta_charset_used_when_header_has_none() -> None:
    data = PARIS.format(
        meta='<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    )
    encoded = data.replace("crème", "crème – “quoted”").encode("cp1252")
    assert "“quoted”" in decode_text(encoded)


def test_header_charset_beats_meta() -> None:
    text = PARIS.format(meta="<meta charset='utf-8'>").replace("Paris", "Москва")
    data = text.encode("koi8-r", errors="replace")
    assert "Москва" in decode_text(data, "text/html; charset=KOI8-R")


def test_charset_header_then_declaration_then_detection() -> None:
    latin = "Café crème à la française, déjà vu".encode("iso-8859-1")
    assert decode(latin, "text/xml; charset=ISO-8859-1") == (
        "Café crème à la française, déjà vu",
        "cp1252",
    )
    declared = b'<?xml version="1.0" encoding="iso-8859-1"?><a>' + latin + b"</a>"
    text, charset = decode(declared, "application/xml")
    assert "Café" in text and charset == "cp1252"
    assert decode("Grüße".encode(), None) == ("Grüße", "utf-8")
    detected = ("Привет, мир! Это проверка определения кодировки текста. " * 8).encode("cp1251")
    text, charset = decode(detected, None)
    assert text.startswith("Привет") and charset == "cp1251"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    broken = b'<?xml version="1.0" encoding="utf-8"?><rss>ok \xff\xfe\xfa bad</rss>'
    text, charset = decode(broken, "application/xml; charset=utf-8")
    assert text.startswith("<?xml") and "ok" in text
    assert charset  # either detected or utf-8 with replacements, never an exception


def test_bom_wins() -> None:
    body = "\ufeffhello".encode("utf-16")
    assert decode(body, "text/plain; charset=iso-8859-1")[0].lstrip("\ufeff") == "hello"


WINDOWS_1252_FEED = (
    '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    "<title>Café Société</title><item><title>Crème brûlée at the “Bistro”</title>"
    "<description>Prices rose by 5 € – Zoë’s café saw queues.</description></item>"
    "</channel></rss>"
)


def test_a_windows_1252_feed_labelled_utf8_reads_as_windows_1252() -> None:
    """Feeds and pages share this decoder: the old feed path guessed cp1257 for such a feed."""
    data = WINDOWS_1252_FEED.encode("cp1252")
    for content_type in ("application/rss+xml; charset=utf-8", None):
        text, codec = decode(data, content_type)
        assert text == WINDOWS_1252_FEED
        assert codec == "cp1252"


def test_the_feed_parser_reads_it_through_the_same_decoder() -> None:
    feed = parse_document(WINDOWS_1252_FEED.encode("cp1252"), None, "text/xml; charset=utf-8")
    assert feed.title == "Café Société"
    assert feed.entries[0].title == "Crème brûlée at the “Bistro”"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_encodings_without_a_byte_order_mark(codec: str) -> None:
    text = '<?xml version="1.0"?><rss><channel><title>Grüße</title></channel></rss>'
    assert decode(text.encode(codec), None) == (text, codec)


@pytest.mark.parametrize("label", ["base64", "rot13", "zlib", "hex", "bz2", "no-such-charset"])
def test_a_label_that_is_no_text_encoding_falls_back_to_detection(label: str) -> None:
    text = "Grüße aus München"
    assert decode(text.encode("utf-8"), f"text/html; charset={label}") == (text, "utf-8")
    assert decode(text.encode("cp1252"), f"text/html; charset={label}") == (text, "cp1252")
    assert codec_for(label) is None


@pytest.mark.parametrize("label", ["base64", "rot13", "zlib", "hex"])
def test_a_feed_declaring_a_non_text_codec_is_read_by_detection(label: str) -> None:
    """In the header or the XML declaration: `encoding="base64"` would "decode" to bytes or
    raise; the label is ignored and the bytes read as what they are."""
    declared = WINDOWS_1252_FEED.replace('encoding="utf-8"', f'encoding="{label}"')
    for data, content_type in (
        (declared.encode("cp1252"), None),
        (WINDOWS_1252_FEED.encode("cp1252"), f"application/rss+xml; charset={label}"),
        (declared.encode("utf-8"), f"application/rss+xml; charset={label}"),
    ):
        feed = parse_document(data, None, content_type)
        assert feed.title == "Café Société"
        assert feed.entries[0].title == "Crème brûlée at the “Bistro”"


@pytest.mark.parametrize("label", ["base64", "rot13", "zlib", "hex"])
def test_a_page_declaring_a_non_text_codec_is_read_by_detection(label: str) -> None:
    page = PARIS.format(meta=f'<meta charset="{label}">')
    for data, content_type in (
        (page.encode("cp1252"), None),
        (page.encode("cp1252"), f"text/html; charset={label}"),
        (page.encode("utf-8"), f"text/html; charset={label}"),
    ):
        article = extract_html(data, "https://example.org/paris", content_type=content_type)
        assert article.title == "Café crème"
        assert "très apprécié à Paris" in article.lead
