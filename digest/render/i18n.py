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
from typing import Any

import jinja2
from jinja2.nodes import EvalContext
from markupsafe import Markup

__all__ = ["DOMAIN", "LOCALE_DIR", "format_date", "install", "translations"]

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
    """A date as readers of `locale` write it in prose; "" for none. A datetime is written as
    its own calendar date (no time-zone conversion)."""
    if value is None:
        return ""
    return _format_day(value.date() if isinstance(value, datetime) else value, locale)


@lru_cache(maxsize=1024)
def _format_day(day: date, locale: str) -> str:
    """Cached: an issue writes the same few days over and over (babel takes ~20 µs a date)."""
    # lazy: babel.dates costs ~50 ms to import (time-zone data); loaded at the first date
    from babel.dates import format_date as babel_format_date

    if locale == "en":
        return babel_format_date(day, _ENGLISH_DATE, locale="en")
    return babel_format_date(day, "long", locale=locale)


def install(env: jinja2.Environment, catalog: gettext.NullTranslations) -> None:
    """Give templates `_`, `gettext` and `ngettext` in new style (`_("Hi %(name)s,",
    name=...)`, values escaped where autoescape is on), and `{% trans %}` blocks.

    Jinja's own new-style functions go through the template context twice a call; these go
    once, which matters in an issue of 30 stories with two words each.
    """
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]

    @jinja2.pass_eval_context
    def gettext_(eval_ctx: EvalContext, message: str, **values: Any) -> str:
        text = catalog.gettext(message)
        if not values and "%" not in text:
            return Markup(text) if eval_ctx.autoescape else text  # nothing to format
        return (Markup(text) if eval_ctx.autoescape else text) % values

    @jinja2.pass_eval_context
    def ngettext_(eval_ctx: EvalContext, singular: str, plural: str, n: int, **values: Any) -> str:
        values.setdefault("num", n)
        text = catalog.ngettext(singular, plural, n)
        return (Markup(text) if eval_ctx.autoescape else text) % values

    env.globals.update(_=gettext_, gettext=gettext_, ngettext=ngettext_)
