"""One date parser for feeds, pages and folders: a written date to an aware UTC datetime.

    ISO 8601 / RFC 3339   2026-03-01T10:00:00+05:30, 2026-03-01 10:00Z, 2026-03-01, 20260301T1000Z
    RFC 822 / 2822        Tue, 10 Jun 2003 04:00:00 EST, 10 Jun 03 04:00 +0200, ... GMT+01:00
    ctime                 Tue Jun 10 04:00:00 EST 2003
    spelled out           June 10, 2003 4:00 PM PDT; 10 June 2003; 10. März 2026; 1er mars 2026

Offsets are read as written (+05:30, -0800, +05, GMT+1). Zone names (table `ZONES`) are read as
their fixed offset, except the US names without a season (ET, CT, MT, PT, and AKT, HT), which
follow their region's daylight-saving rules for the date in question. Three choices are made
where names are ambiguous: IST is India (+05:30), the zone feeds that write it most often mean;
BST is British Summer Time (+01:00); CST is US Central (-06:00), as RFC 822 defines it. Military
letters other than Z carry no reliable meaning, and RFC 2822 (section 4.3) reads them and any
zone name it does not know as UTC; so does this module, as it does a date without a zone. A
string that is no date gives None; nothing here raises.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

__all__ = ["ZONES", "parse_date", "utcnow"]

ZONES: dict[str, tzinfo] = {
    **{name: UTC for name in ("z", "ut", "utc", "gmt", "wet", "uct", "zulu")},
    # North America (RFC 822 names first)
    "est": timezone(timedelta(hours=-5)),
    "edt": timezone(timedelta(hours=-4)),
    "cst": timezone(timedelta(hours=-6)),
    "cdt": timezone(timedelta(hours=-5)),
    "mst": timezone(timedelta(hours=-7)),
    "mdt": timezone(timedelta(hours=-6)),
    "pst": timezone(timedelta(hours=-8)),
    "pdt": timezone(timedelta(hours=-7)),
    "akst": timezone(timedelta(hours=-9)),
    "akdt": timezone(timedelta(hours=-8)),
    "hst": timezone(timedelta(hours=-10)),
    "ast": timezone(timedelta(hours=-4)),
    "adt": timezone(timedelta(hours=-3)),
    "nst": timezone(timedelta(hours=-3, minutes=-30)),
    "ndt": timezone(timedelta(hours=-2, minutes=-30)),
    # US regions without a season: the region's rules decide
    "et": ZoneInfo("America/New_York"),
    "ct": ZoneInfo("America/Chicago"),
    "mt": ZoneInfo("America/Denver"),
    "pt": ZoneInfo("America/Los_Angeles"),
    "akt": ZoneInfo("America/Anchorage"),
    "ht": ZoneInfo("Pacific/Honolulu"),
    # Europe and Africa
    "west": timezone(timedelta(hours=1)),
    "bst": timezone(timedelta(hours=1)),
    "ist": timezone(timedelta(hours=5, minutes=30)),
    "cet": timezone(timedelta(hours=1)),
    "met": timezone(timedelta(hours=1)),
    "mez": timezone(timedelta(hours=1)),
    "cest": timezone(timedelta(hours=2)),
    "mest": timezone(timedelta(hours=2)),
    "mesz": timezone(timedelta(hours=2)),
    "eet": timezone(timedelta(hours=2)),
    "eest": timezone(timedelta(hours=3)),
    "msk": timezone(timedelta(hours=3)),
    "wat": timezone(timedelta(hours=1)),
    "cat": timezone(timedelta(hours=2)),
    "sast": timezone(timedelta(hours=2)),
    "eat": timezone(timedelta(hours=3)),
    # Asia and Oceania
    "pkt": timezone(timedelta(hours=5)),
    "ict": timezone(timedelta(hours=7)),
    "wib": timezone(timedelta(hours=7)),
    "sgt": timezone(timedelta(hours=8)),
    "hkt": timezone(timedelta(hours=8)),
    "awst": timezone(timedelta(hours=8)),
    "pht": timezone(timedelta(hours=8)),
    "jst": timezone(timedelta(hours=9)),
    "kst": timezone(timedelta(hours=9)),
    "acst": timezone(timedelta(hours=9, minutes=30)),
    "acdt": timezone(timedelta(hours=10, minutes=30)),
    "aest": timezone(timedelta(hours=10)),
    "aedt": timezone(timedelta(hours=11)),
    "nzst": timezone(timedelta(hours=12)),
    "nzdt": timezone(timedelta(hours=13)),
    # South America
    "brt": timezone(timedelta(hours=-3)),
    "art": timezone(timedelta(hours=-3)),
}


def utcnow() -> datetime:
    """Now, aware, in UTC: the one clock every stored time is read from (tests travel it)."""
    return datetime.now(UTC)


_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "jan january januar janvier enero janv ene gennaio jänner",
        "feb february februar février fevrier febrero févr fevr febbraio",
        "mar march märz maerz mars marzo mär",
        "apr april avril abril abr aprile",
        "may mai mayo maggio",
        "jun june juni juin junio giugno",
        "jul july juli juillet julio juil luglio",
        "aug august août aout agosto ago",
        "sep sept september septembre septiembre settembre set",
        "oct october oktober octobre octubre okt ott ottobre",
        "nov november novembre noviembre",
        "dec december dezember décembre decembre diciembre déc dez dic dicembre",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number

_OFFSET = r"[+-]\d{1,2}(?::?\d{2})?"
_ZONE = rf"(?:(?:gmt|utc|ut)\s*{_OFFSET}|{_OFFSET}|[a-z]{{1,5}})"
_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([ap]\.?m\.?)?"

_ISO = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})"
    r"(?:[t\s]+(\d{2}):?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?"
    rf"\s*({_ZONE})?$"
)
_DAY_MONTH_YEAR = re.compile(
    r"^(?:[a-zäéû]{2,10}\.?,?\s+)?(\d{1,2})(?:st|nd|rd|th|er|\.)?\s*[\s./-]\s*([a-zäéû]{3,10})\.?"
    rf",?[\s./-]\s*(\d{{2,4}})(?:,?\s+(?:at\s+|um\s+|à\s+)?{_TIME})?\s*({_ZONE})?$"
)
_MONTH_DAY_YEAR = re.compile(
    r"^(?:[a-z]{2,10}\.?,?\s+)?([a-zäéû]{3,10})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})"
    rf"(?:,?\s+(?:at\s+)?{_TIME})?\s*({_ZONE})?$"
)
_CTIME = re.compile(
    rf"^[a-z]{{3}}\s+([a-z]{{3}})\s+(\d{{1,2}})\s+{_TIME}\s+(?:({_ZONE})\s+)?(\d{{4}})$"
)
_SLASHED = re.compile(rf"^(\d{{4}})/(\d{{1,2}})/(\d{{1,2}})(?:[t\s]+{_TIME})?\s*({_ZONE})?$")


_RFC822_COMMON = re.compile(
    r"^[A-Za-z]{3}, (\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d\d):(\d\d):(\d\d) ([+-]\d{4}|[A-Z]{1,4})$"
)
"""The one spelling most RSS feeds use, read without the general rules (4x faster)."""


def parse_date(value: str | None) -> datetime | None:
    """`value` as an aware datetime in UTC, or None when it is no date this module reads."""
    if not value:
        return None
    raw = value.strip()
    if raw[:4].isdigit():
        try:  # RFC 3339, the commonest ISO 8601 spellings: the standard library's C reader
            when = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    elif common := _RFC822_COMMON.match(raw):
        day, month, year, hour, minute, second, zone = common.groups()
        number = _MONTHS.get(month.lower())
        zone_info = _zone(zone.lower())
        if number is not None and zone_info is not None:
            return _make(
                int(year), number, int(day), int(hour), int(minute), int(second), zone=zone_info
            )
    text = " ".join(raw.split()).lower()
    if not text or len(text) > 80:
        return None
    for read in (_read_iso, _read_day_month, _read_month_day, _read_ctime, _read_slashed):
        found = read(text)
        if found is not None:
            return found
    return _read_email(value.strip())


@functools.lru_cache(maxsize=256)  # a feed writes the same zone on every item
def _zone(text: str | None) -> tzinfo | None:
    """The zone a suffix names; None when it names none this module knows."""
    if not text:
        return UTC
    text = text.replace(" ", "")
    for prefix in ("gmt", "utc", "ut"):
        if text.startswith(prefix) and text[len(prefix) : len(prefix) + 1] in ("+", "-"):
            text = text[len(prefix) :]
            break
    if text[:1] in "+-":
        sign = -1 if text[0] == "-" else 1
        digits = text[1:].replace(":", "")
        if len(digits) <= 2:
            hours, minutes = int(digits), 0
        elif len(digits) in (3, 4):
            hours, minutes = int(digits[:-2]), int(digits[-2:])
        else:
            return None
        if hours > 23 or minutes > 59:
            return None
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    if len(text) == 1 and text.isalpha():
        return UTC  # a military letter: no reliable meaning (RFC 2822 section 4.3)
    return ZONES.get(text)


def _hour(hour: str | None, meridiem: str | None) -> int:
    value = int(hour or 0)
    if meridiem:
        pm = meridiem.startswith("p")
        value = value % 12 + (12 if pm else 0)
    return value


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:  # RFC 2822 section 4.3: 00-49 is 20xx, 50-99 is 19xx
        year += 2000 if year < 50 else 1900
    return year


def _make(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    micro: int = 0,
    zone: tzinfo | None = UTC,
) -> datetime | None:
    if zone is None:
        return None
    try:
        local = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        return None
    return local.astimezone(UTC)


def _read_iso(text: str) -> datetime | None:
    match = _ISO.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    return _make(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        _zone(zone),
    )


def _read_day_month(text: str) -> datetime | None:
    match = _DAY_MONTH_YEAR.match(text)
    if match is None:
        return None
    day, month_name, year, hour, minute, second, meridiem, zone = match.groups()
    month = _MONTHS.get(month_name.rstrip("."))
    if month is None:
        return None
    return _make(
        _year(year),
        month,
        int(day),
        _hour(hour, meridiem),
        int(minute or 0),
        int(second or 0),
        zone=_zone(zone),
    )


def _read_month_day(text: str) -> datetime | None:
    match = _MONTH_DAY_YEAR.match(text)
    if match is None:
        return None
    month_name, day, year, hour, minute, second, meridiem, zone = match.groups()
    month = _MONTHS.get(month_name)
    if month is None:
        return None
    return _make(
        int(year),
        month,
        int(day),
        _hour(hour, meridiem),
        int(minute or 0),
        int(second or 0),
        zone=_zone(zone),
    )


def _read_ctime(text: str) -> datetime | None:
    match = _CTIME.match(text)
    if match is None:
        return None
    month_name, day, hour, minute, second, meridiem, zone, year = match.groups()
    month = _MONTHS.get(month_name)
    if month is None:
        return None
    return _make(
        int(year),
        month,
        int(day),
        _hour(hour, meridiem),
        int(minute),
        int(second or 0),
        zone=_zone(zone),
    )


def _read_slashed(text: str) -> datetime | None:
    match = _SLASHED.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, meridiem, zone = match.groups()
    return _make(
        int(year),
        int(month),
        int(day),
        _hour(hour, meridiem),
        int(minute or 0),
        int(second or 0),
        zone=_zone(zone),
    )


def _read_email(value: str) -> datetime | None:
    """The standard library's RFC 2822 reader, for the odd spellings it knows."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
