"""The email in the digest's locale: its words from the shipped catalogs, its dates from babel,
English wherever a translation is missing, and a greeting that reads naturally in each."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from render_samples import sample_content, sample_recipient, sample_settings

from digest.render import RenderSettings, render_issue, render_preview
from digest.render.i18n import format_date, translations

NONCE = "0123456789"


def rendered(
    locale: str, *, count: int = 6, name: str = "Ada", **settings: object
) -> tuple[str, str]:
    """The HTML and text a recipient gets of a `locale` issue."""
    issue = render_issue(
        sample_content(count), sample_settings(locale=locale, **settings), nonce=NONCE
    )
    return render_preview(issue, sample_recipient(1, name=name))


def greeting(text: str) -> tuple[str, str]:
    """The text part's greeting line and the sentence after it."""
    lines = text.split("\n")
    at = next(
        i
        for i, line in enumerate(lines)
        if line.startswith(("Hi", "Hallo", "Bonjour", "Hola", "Ciao", "Moin"))
    )
    return lines[at], lines[at + 2]


def html_greeting(html: str) -> tuple[str, str]:
    found = re.search(
        r'<td class="greeting[^>]*>\s*<p[^>]*>([^<]*)</p>\s*<p[^>]*>([^<]*)</p>', html
    )
    assert found, "no greeting"
    return found.group(1), found.group(2)


@pytest.mark.parametrize(
    ("value", "locale", "written"),
    [
        (date(2026, 11, 23), "en", "23 November 2026"),
        (date(2026, 11, 23), "en_US", "November 23, 2026"),
        (date(2026, 11, 23), "de", "23. November 2026"),
        (date(2026, 11, 23), "de_CH", "23. November 2026"),
        (date(2026, 11, 23), "fr", "23 novembre 2026"),
        (date(2026, 11, 23), "es", "23 de noviembre de 2026"),
        (datetime(2026, 3, 1, 23, 59), "it", "1 marzo 2026"),
        (None, "de", ""),
    ],
)
def test_dates_are_written_as_the_locale_writes_them(
    value: date | None, locale: str, written: str
) -> None:
    assert format_date(value, locale) == written


@pytest.mark.parametrize(
    ("locale", "hello", "sentence", "nobody"),
    [
        ("en", "Hi Ada,", "Here are 6 stories worth your time this issue.", "Hi there,"),
        (
            "de",
            "Hallo Ada,",
            "Diese Ausgabe bringt Ihnen 6 lesenswerte Artikel.",
            "Hallo zusammen,",
        ),
        (
            "fr",
            "Bonjour Ada,",
            "Voici 6 articles qui méritent votre attention dans ce numéro.",
            "Bonjour à vous,",
        ),
        (
            "es",
            "Hola, Ada:",
            "Aquí tienes 6 artículos que merecen tu tiempo en este número.",
            "Hola, lector:",
        ),
    ],
)
def test_the_greeting_reads_naturally_in_each_language(
    locale: str, hello: str, sentence: str, nobody: str
) -> None:
    html, text = rendered(locale)
    assert greeting(text) == (hello, sentence)
    assert sentence[0].isupper()
    assert html_greeting(html) == (hello, sentence)
    _html, text = rendered(locale, name="")
    assert greeting(text)[0] == nobody


@pytest.mark.parametrize(
    ("locale", "one"),
    [
        ("en", "Here is 1 story worth your time this issue."),
        ("de", "Diese Ausgabe bringt Ihnen einen lesenswerten Artikel."),
        ("fr", "Voici 1 article qui mérite votre attention dans ce numéro."),
        ("es", "Aquí tienes un artículo que merece tu tiempo en este número."),
    ],
)
def test_one_story_is_singular(locale: str, one: str) -> None:
    assert greeting(rendered(locale, count=1)[1])[1] == one


def test_a_german_issue_has_no_english_words_of_its_own() -> None:
    html, text = rendered("de", count=30, language="de", size_budget=30_000)  # more stories
    assert '<html lang="de" dir="ltr">' in html
    for english in (
        "View this issue",
        "Read more",
        "More stories",
        "Unsubscribe",
        "This copy went",
        "You get this email",
        "November 2026",  # only "20. November 2026": German dates
    ):
        assert english not in html.replace(". November 2026", ""), english
    assert "Weitere Artikel" in html and "WEITERE ARTIKEL" in text and "LINKS" in text
    assert "Abbestellen</a> mit einem Klick, <a" in html
    assert "Ihr Abonnement pausieren oder verwalten</a> oder <a" in html
    assert "Weiterlesen<span" in html


def test_the_web_edition_is_translated_too() -> None:
    content = replace(sample_content(2), public=True)
    settings = sample_settings(locale="fr", subscribe_url="https://news.example.org/subscribe/r")
    issue = render_issue(content, settings, nonce=NONCE)
    assert "Ceci est l’édition web de The Example Brief." in issue.html
    assert '<a href="https://news.example.org/subscribe/r"' in issue.html
    assert "Abonnez-vous</a> pour recevoir chaque numéro par e-mail." in issue.html
    assert "Abonnez-vous pour recevoir chaque numéro par e-mail\u00a0: https://" in issue.text


def test_a_region_uses_its_language_catalog_and_its_own_lang() -> None:
    html, text = rendered("de_CH", language="de-CH")
    assert '<html lang="de-CH"' in html
    assert greeting(text)[0] == "Hallo Ada,"


def test_a_locale_without_a_catalog_gets_english_words_and_its_own_dates() -> None:
    html, text = rendered("it")
    assert greeting(text) == ("Hi Ada,", "Here are 6 stories worth your time this issue.")
    assert "26 novembre 2026" in text  # the issue's date, in Italian
    assert "Unsubscribe" in html


def _catalog(folder: Path, locale: str, words: dict[str, str]) -> None:
    catalog = Catalog(locale=locale, domain="digest", fuzzy=False)
    for msgid, msgstr in words.items():
        catalog.add(msgid, msgstr)
    target = folder / "locale" / locale / "LC_MESSAGES"
    target.mkdir(parents=True)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    (target / "digest.mo").write_bytes(buffer.getvalue())


def test_a_template_folder_brings_its_own_words_and_english_fills_the_gaps(
    tmp_path: Path,
) -> None:
    """An operator's catalog comes first; what it lacks comes from the shipped catalog of the
    language, and what that lacks (a language Digest does not ship) is English."""
    templates = tmp_path / "templates"
    _catalog(templates, "it", {"Read more": "Continua a leggere", "Hi %(name)s,": "Ciao %(name)s,"})
    _catalog(templates, "de", {"Hi %(name)s,": "Moin %(name)s,"})
    html, text = rendered("it", template_dir=templates)
    assert greeting(text) == ("Ciao Ada,", "Here are 6 stories worth your time this issue.")
    assert "Continua a leggere<span" in html and "More stories" not in html
    assert "Unsubscribe</a> with one click" in html
    html, text = rendered("de", template_dir=templates)
    assert greeting(text) == ("Moin Ada,", "Diese Ausgabe bringt Ihnen 6 lesenswerte Artikel.")
    assert translations("it", templates).gettext("Links") == "Links"


def test_the_subject_dates_follow_the_locale() -> None:
    settings: RenderSettings = sample_settings(locale="es")
    issue = render_issue(sample_content(2), settings, nonce=NONCE)
    assert issue.subject.startswith("The Example Brief — 26 de noviembre de 2026: ")


def test_an_operators_template_may_use_trans_blocks(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "issue.txt").write_text(
        "{% trans count=count %}One story.{% pluralize %}{{ count }} stories.{% endtrans %}\n"
        "{% trans %}Unsubscribe{% endtrans %}: {{ recipient.unsubscribe_url }}\n"
    )
    _catalog(templates, "de", {})
    issue = render_issue(
        sample_content(3), sample_settings(locale="de", template_dir=templates), nonce=NONCE
    )
    assert issue.text.startswith("3 stories.Abbestellen: DgsT0123456789_")  # trim_blocks
