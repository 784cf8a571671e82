"""The one date parser: feeds', pages' and folders' dates read with their offsets and zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.dates import parse_date


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RFC 822 / 2822, as RSS writes them
        ("Tue, 10 Jun 2003 04:00:00 EST", utc(2003, 6, 10, 9)),
        ("Tue, 10 Jun 2003 04:00:00 EDT", utc(2003, 6, 10, 8)),
        ("Tue, 10 Jun 2003 04:00:00 GMT", utc(2003, 6, 10, 4)),
        ("Tue, 10 Jun 2003 04:00:00 +0530", utc(2003, 6, 9, 22, 30)),
        ("Tue, 10 Jun 2003 04:00:00 +05:30", utc(2003, 6, 9, 22, 30)),
        ("10 Jun 2003 04:00 -0800", utc(2003, 6, 10, 12)),
        ("Tue, 10 Jun 03 04:00:00 PDT", utc(2003, 6, 10, 11)),
        ("Mon, 2 Mar 2026 10:00:00 MET", utc(2026, 3, 2, 9)),
        ("Mon, 1 Jun 2026 10:00:00 MEST", utc(2026, 6, 1, 8)),
        ("Mon, 1 Jun 2026 10:00:00 CEST", utc(2026, 6, 1, 8)),
        ("Mon, 2 Mar 2026 10:00:00 JST", utc(2026, 3, 2, 1)),
        ("Mon, 2 Mar 2026 10:00:00 GMT+01:00", utc(2026, 3, 2, 9)),
        ("Mon, 2 Mar 2026 10:00:00 UT", utc(2026, 3, 2, 10)),
        ("Mon, 2 Mar 2026 10:00:00 Z", utc(2026, 3, 2, 10)),
        ("Mon, 2 Mar 2026 10:00:00", utc(2026, 3, 2, 10)),
        ("Monday, 02 March 2026 10:00:00 +0000", utc(2026, 3, 2, 10)),
        # US regions without a season follow daylight saving
        ("Mon, 2 Mar 2026 10:00:00 PT", utc(2026, 3, 2, 18)),  # PST in March before the 8th
        ("Mon, 1 Jun 2026 10:00:00 PT", utc(2026, 6, 1, 17)),  # PDT in June
        ("Mon, 1 Jun 2026 10:00:00 ET", utc(2026, 6, 1, 14)),
        # ISO 8601 / RFC 3339
        ("2026-03-01T10:00:00+05:30", utc(2026, 3, 1, 4, 30)),
        ("2026-03-01T10:00:00-08:00", utc(2026, 3, 1, 18)),
        ("2026-03-01T10:00:00Z", utc(2026, 3, 1, 10)),
        ("2026-03-01T10:00:00.123456Z", utc(2026, 3, 1, 10, 0, 0, 123456)),
        ("2026-03-01T10:00:00+0530", utc(2026, 3, 1, 4, 30)),
        ("2026-03-01T10:00+05", utc(2026, 3, 1, 5)),
        ("2026-03-01 10:00:00", utc(2026, 3, 1, 10)),
        ("2026-03-01", utc(2026, 3, 1)),
        ("20260301T100000Z", utc(2026, 3, 1, 10)),
        ("2026-03-01T10:00:00 EST", utc(2026, 3, 1, 15)),
        # ctime, slashes, spelled out
        ("Tue Jun 10 04:00:00 EST 2003", utc(2003, 6, 10, 9)),
        ("Tue Jun 10 04:00:00 2003", utc(2003, 6, 10, 4)),
        ("2026/03/01 10:00", utc(2026, 3, 1, 10)),
        ("June 10, 2003 4:00 PM PDT", utc(2003, 6, 10, 23)),
        ("June 10, 2003", utc(2003, 6, 10)),
        ("10 June 2003", utc(2003, 6, 10)),
        ("10. März 2026", utc(2026, 3, 10)),
        ("1er mars 2026", utc(2026, 3, 1)),
        ("3 de abril de 2026", None),  # Spanish with "de": not a form this parser reads
        ("12 ago 2026 10:30", utc(2026, 8, 12, 10, 30)),
    ],
)
def test_dates_are_read_with_their_zone(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "yesterday", "not a date at all", "2026-13-45", "31 Feb 2026", "Mon, 2 Mar"],
)
def test_what_is_no_date_gives_none(text: str) -> None:
    assert parse_date(text) is None


def test_results_are_aware_utc() -> None:
    when = parse_date("Tue, 10 Jun 2003 04:00:00 +0200")
    assert when is not None and when.tzinfo is UTC


def test_an_unknown_zone_name_is_read_as_utc_as_rfc_2822_says() -> None:
    assert parse_date("Mon, 2 Mar 2026 10:00:00 XYZT") == utc(2026, 3, 2, 10)


def test_a_military_letter_other_than_z_is_utc_as_rfc_2822_says() -> None:
    assert parse_date("Mon, 2 Mar 2026 10:00:00 A") == utc(2026, 3, 2, 10)
