"""The issue's own words and dates in the digest's locale: gettext catalogs and babel.

Templates mark their words with `_()` and `ngettext()` (Jinja's i18n extension, new-style:
`_("Hi %(name)s,", name=...)`, escaped like any other value). English is the source language:
the msgids are the English words, so English needs no catalog. The catalogs shipped are in
`digest/locale/<lang>/LC_MESSAGES/digest.po` (German, French and Spanish), compiled to `.mo`
beside them by `bash scripts/catalogs` (a test fails when a `.mo` or the `.pot` is stale). A
digest's own template folder may bring a `locale/` folder of the same shape, which comes first.
Whatever a catalog lacks falls back to English: a locale without a catalog (`it`, `pt_BR`) gets
English words and its own dates, a catalog missing a message gets that message in English.

Dates use babel's long format for the locale ("23. November 2026", "23 novembre 2026",
"23 de noviembre de 2026"), except plain `en`, which keeps the day-month-year form that reads
the same in every English-speaking country ("23 November 2026"; `en_US` gets "November 23,
2026").
"""

from __future__ import annotations

import gettext
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

__all__ = ["DOMAIN", "LOCALE_DIR", "format_date", "translations"]

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "digest"
_ENGLISH_DATE = "d MMMM y"


@lru_cache(maxsize=64)
def translations(locale: str, template_dir: Path | None = None) -> gettext.NullTranslations:
    """The catalogs for `locale`, most specific first (de_CH, then de): the template folder's
    own, then the shipped ones, then English (the msgids themselves)."""
    found: gettext.NullTranslations = gettext.NullTranslations()
    folders = [LOCALE_DIR] if template_dir is None else [template_dir / "locale", LOCALE_DIR]
    for folder in reversed(folders):
        catalog = gettext.translation(DOMAIN, folder, languages=[locale], fallback=True)
        if type(catalog) is not gettext.NullTranslations:
            catalog.add_fallback(found)
            found = catalog
    return found


def format_date(value: date | datetime | None, locale: str = "en") -> str:
    """A date as readers of `locale` write it in prose; "" for none."""
    if value is None:
        return ""
    # lazy: babel.dates costs ~50 ms to import (time-zone data); loaded at the first date
    from babel.dates import format_date as babel_format_date

    if locale == "en":
        return babel_format_date(value, _ENGLISH_DATE, locale="en")
    return babel_format_date(value, "long", locale=locale)
