"""Header writing: display names, encoded words, folding, URLs in List-Unsubscribe."""

from __future__ import annotations

import email
import email.policy
import random
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest

from digest.errors import RenderError
from digest.render.headers import (
    SUBJECT_MAX,
    _address,
    _address_text,
    address_line,
    cut_subject,
    display_name,
    dot_atom,
    encoded_words,
    fold,
    header_line,
    header_uri,
    list_id,
    mailbox,
    one_line,
)


def parse_head(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw + b"\r\n", policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("text", ["Zoë", "Łukasz Ünal-Łukasiewicz 😀 " * 6, "李" * 40])
def test_encoded_words_are_short_and_decode_back(text: str) -> None:
    encoded = encoded_words(text)
    assert all(len(word.strip()) <= 75 for word in encoded.split("\r\n"))
    assert str(make_header(decode_header(encoded))) == text


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Ada Lovelace", "Ada Lovelace"),
        ("O'Neil, Jr.", '"O\'Neil, Jr."'),
        ('Say "hi" \\o/', '"Say \\"hi\\" \\\\o/"'),
        ("  spaced\r\n  out ", "spaced out"),
        ("", ""),
    ],
)
def test_display_names_plain_or_quoted(name: str, shown: str) -> None:
    assert display_name(name) == shown


def test_non_ascii_display_names_are_encoded() -> None:
    assert display_name("Zoë") == "=?utf-8?b?Wm/Dqw==?="


def test_fold_breaks_at_spaces_and_unfolds_to_the_same() -> None:
    line = "Subject: " + " ".join(f"word{i}" for i in range(40))
    folded = fold(line)
    assert all(len(part) <= 78 for part in folded.split("\r\n"))
    assert folded.replace("\r\n", "") == line


def test_a_name_too_long_to_fold_is_encoded() -> None:
    raw = address_line("To", "x" * 1500, "reader@example.com")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.isascii() and b"=?utf-8?b?" in raw
    assert str(make_header(decode_header(raw[len(b"To: ") : raw.rindex(b" <")].decode()))) == (
        "x" * 1500
    )
    assert parse_head(raw)["To"].addresses[0].addr_spec == "reader@example.com"


def test_a_long_name_folds_over_several_lines() -> None:
    """Three lines or more: each continuation folds at its own spaces (this used to raise)."""
    name = " ".join(f"Name{i}" for i in range(40))
    raw = address_line("To", name, "reader@example.com")
    lines = raw.decode().split("\r\n")
    assert len(lines) > 3 and all(len(line) <= 78 for line in lines)
    parsed = parse_head(raw)
    assert parsed["To"].addresses[0].display_name == name
    assert parsed["To"].addresses[0].addr_spec == "reader@example.com"


def test_header_values_stay_on_one_logical_line() -> None:
    raw = header_line("Subject", "Breaking\r\nBcc: victim@example.com ☕")
    assert raw.isascii() and raw.endswith(b"\r\n")
    parsed = parse_head(raw)
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Breaking Bcc: victim@example.com ☕"


def test_header_uris_escape_what_uri_syntax_forbids() -> None:
    url = "https://digest.example.org/u/7?a=1&b=%41"
    assert header_uri(url) == url
    assert header_uri("https://x.org/über a<b>") == "https://x.org/%C3%BCber%20a%3Cb%3E"


def test_dot_atoms_for_message_ids() -> None:
    assert dot_atom("example/2026-11-26") == "example-2026-11-26"
    assert dot_atom("..") == "x"


def test_one_line_turns_every_control_character_into_a_space() -> None:
    assert one_line("a\x00b\tc\r\nd\x1b[2J\x85e  f ") == "a b c d [2J e f"
    assert one_line("plain") == "plain"


def test_subjects_are_cut_at_a_word_with_an_ellipsis() -> None:
    assert cut_subject("Short\r\nsubject") == "Short subject"
    words = cut_subject("word " * 100)
    assert len(words) <= SUBJECT_MAX and words.endswith("word…")
    one_word = cut_subject("A" * 1000)
    assert one_word == "A" * (SUBJECT_MAX - 1) + "…"


@pytest.mark.parametrize(
    ("value", "name", "spec"),
    [
        ('"News: Weekly" <news@example.org>', "News: Weekly", "news@example.org"),
        ("Example Inc. <x@example.org>", "Example Inc.", "x@example.org"),
        ("x@example.org", "", "x@example.org"),
        ("Zoë <z@example.org>", "Zoë", "z@example.org"),
    ],
)
def test_mailboxes_are_read_by_the_email_package(value: str, name: str, spec: str) -> None:
    found = mailbox(value)
    assert (found.display_name, found.addr_spec) == (name, spec)
    parsed = parse_head(address_line("From", found.display_name, found.addr_spec))
    assert parsed["From"].addresses[0].display_name == name


@pytest.mark.parametrize(
    "value",
    [
        "News: Weekly <news@example.org>",  # a group: parseaddr kept only "Weekly"
        "a@example.org, b@example.org",
        "Name <>",
        "just a name",
        "Evil <a@example.org>\r\nBcc: x@example.org",
    ],
)
def test_anything_but_one_mailbox_is_refused(value: str) -> None:
    with pytest.raises(RenderError):
        mailbox(value)


def test_list_ids_quote_or_encode_their_label() -> None:
    assert list_id("The Brief", "brief.lists.example.org") == (
        "The Brief <brief.lists.example.org>"
    )
    assert list_id("News: Weekly", "n.example.org") == '"News: Weekly" <n.example.org>'
    parsed = parse_head(f"List-Id: {list_id('Le Bréf ☕', 'b.example.org')}\r\n".encode())
    assert parsed["List-Id"] == "Le Bréf ☕ <b.example.org>"


def test_the_shortcut_for_plain_names_writes_what_address_writes() -> None:
    """`address_line` skips building an Address when nothing needs quoting or encoding; for any
    name and address, what it writes must be what the email package's Address writes."""
    rng = random.Random(13)
    alphabet = "aZ09 .-_+'\"\\,:;<>@()[]!#$%&*/=?^`{|}~éü☕\t\r\n\x00"
    names = ["", "Ada Lovelace", "O'Neil & Sons", "Zoë Ünal", "<b>Bob</b>", "a.b", "李" * 40]
    names += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(3000)]
    locals_ = ["reader", "first.last", "a+tag", 'we"ird', "sp ace", "x(y)", "dots..", "ünï"]
    for index, name in enumerate(names):
        addr = f"{locals_[index % len(locals_)]}@example.org"
        expected = str(_address(name, addr))
        assert _address_text(name, addr) == expected, (name, addr)
