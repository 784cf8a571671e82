"""Reading CSV files with every defect an operator's file has: BOMs, encodings, stray quotes."""

from __future__ import annotations

from pathlib import Path

from digest.subscribers import read_rows
from tests.subscribers.helpers import write_file


def test_header_bom_semicolon_latin1_and_quotes(tmp_path: Path) -> None:
    data = (
        b"\xef\xbb\xbfE-Mail;Vorname;Nachname;Stadt\r\n"
        b"anna@example.de;Anna;M\xfcller;K\xc3\xb6ln\r\n"  # one Latin-1 byte, one UTF-8 char
        b'"bob@example.de";"Bob ""B""";;"Line\r\nbreak"\r\n'
    )
    rows = list(read_rows(write_file(tmp_path, data)))
    assert [(r.line, r.email, r.name) for r in rows] == [
        (2, "anna@example.de", "Anna Müller"),
        (3, "bob@example.de", 'Bob "B"'),
    ]
    assert rows[0].attributes == {"vorname": "Anna", "nachname": "Müller", "stadt": "Köln"}
    assert rows[1].attributes["stadt"] == "Line\r\nbreak"


def test_no_header_and_tabs(tmp_path: Path) -> None:
    rows = list(
        read_rows(write_file(tmp_path, "Ada Lovelace\tada@example.org\nGrace\tg@example.org\n"))
    )
    assert [(r.line, r.email, r.name) for r in rows] == [
        (1, "ada@example.org", "Ada Lovelace"),
        (2, "g@example.org", "Grace"),
    ]


def test_utf16_export_from_a_spreadsheet(tmp_path: Path) -> None:
    text = "email\tname\r\nzoë@example.org\tZoë\r\n"
    rows = list(read_rows(write_file(tmp_path, text.encode("utf-16"))))
    assert [(r.email, r.name) for r in rows] == [("zoë@example.org", "Zoë")]


def test_runaway_quote_is_one_bad_row_and_reading_goes_on(tmp_path: Path) -> None:
    lines = ["email,name", 'a@example.org,"Ada'] + [f"r{i}@example.org,R{i}" for i in range(80)]
    rows = list(read_rows(write_file(tmp_path, "\n".join(lines) + "\n")))
    assert rows[0].line == 2 and rows[0].problem is not None and "quote" in rows[0].problem
    assert [r.line for r in rows[1:]] == list(range(3, 83))
    assert rows[-1].email == "r79@example.org"


def test_a_stray_quote_closing_soon_costs_one_row(tmp_path: Path) -> None:
    data = (
        'email,note\na@example.org,"oops\nb@example.org,fine\n'
        'c@example.org,"closed\nd@example.org,x\n'
    )
    rows = list(read_rows(write_file(tmp_path, data)))
    assert [(r.line, r.email or r.problem) for r in rows] == [
        (2, "unterminated quote (the row runs on)"),
        (3, "b@example.org"),
        (4, "unterminated quote (the row runs on)"),
        (5, "d@example.org"),
    ]


def test_a_legitimate_multi_line_field_is_kept(tmp_path: Path) -> None:
    data = 'email,address\na@example.org,"1 Quay Street\nHamburg"\nb@example.org,x\n'
    rows = list(read_rows(write_file(tmp_path, data)))
    assert [(r.line, r.email) for r in rows] == [(2, "a@example.org"), (4, "b@example.org")]
    assert rows[0].attributes == {"address": "1 Quay Street\nHamburg"}


def test_csv_errors_do_not_abort(tmp_path: Path) -> None:
    big = "x" * 200_000  # over the csv module's field limit
    data = f"email,name\na@example.org,A\nb@example.org,{big}\nc@example.org,C\n"
    rows = list(read_rows(write_file(tmp_path, data)))
    assert [r.line for r in rows] == [2, 3, 4]
    assert rows[1].problem is not None
    assert rows[2].email == "c@example.org"


def test_control_characters_cost_their_row_and_are_named_not_shown(tmp_path: Path) -> None:
    data = (
        b"Email,Name,Plan\x00\n"  # a NUL in the header is dropped from the column's name
        b"a@example.org,Ann,pro\n"
        b"b@example.org,B\x00b,free\n"
        b"c@example.org,C\x1b[31mc,free\n"
        b'd@example.org,"Dee\nDee",free\n'
        b'e@example.org,Eve,"two\nlines"\n'  # a line break in a note is fine
        b"f@exa\x00mple.org,Fay,free\n"
        b"g@example.org,Gus,fr\x7fee\n"
        b"h@example.org,Hal,free\n"
    )
    rows = list(read_rows(write_file(tmp_path, data)))
    assert [(r.line, r.email or r.problem) for r in rows] == [
        (2, "a@example.org"),
        (3, "control character U+0000 in column 'name'"),
        (4, "control character U+001B in column 'name'"),
        (5, "control character U+000A in column 'name'"),
        (7, "e@example.org"),
        (9, "control character U+0000 in column 'email'"),
        (10, "control character U+007F in column 'plan'"),
        (11, "h@example.org"),
    ]
    assert rows[0].attributes == {"plan": "pro"} and rows[4].attributes == {"plan": "two\nlines"}


def test_a_cell_protected_from_spreadsheets_is_read_without_its_quote(tmp_path: Path) -> None:
    data = "email,name,phone,note\n'-ann@example.org,'=Ann,'+47 555,'''@x\nb@example.org,'Bo,',''\n"
    rows = list(read_rows(write_file(tmp_path, data)))
    assert [(r.email, r.name, r.attributes) for r in rows] == [
        ("-ann@example.org", "=Ann", {"phone": "+47 555", "note": "''@x"}),
        ("b@example.org", "'Bo", {"phone": "'", "note": "''"}),  # no trigger after: kept
    ]
