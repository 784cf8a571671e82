"""The shipped catalogs are complete and current, and the check notices when they are not."""

from __future__ import annotations

import shutil
from pathlib import Path

from babel.messages.pofile import read_po

from digest.render import DEFAULT_TEMPLATE_DIR
from digest.render.catalogs import languages, main, stale, write
from digest.render.i18n import LOCALE_DIR


def test_the_shipped_catalogs_are_complete_and_current() -> None:
    """If this fails, run `python -m digest.render.catalogs`, translate what it lists as
    untranslated in each .po, and run it again (it compiles the .mo files)."""
    assert languages() == ["de", "es", "fr"]
    assert stale() == []
    assert main(["--check"]) == 0


def _copies(tmp_path: Path) -> tuple[Path, Path]:
    templates, locale_dir = tmp_path / "email", tmp_path / "locale"
    shutil.copytree(DEFAULT_TEMPLATE_DIR, templates)
    shutil.copytree(LOCALE_DIR, locale_dir)
    return templates, locale_dir


def test_a_new_word_makes_the_catalogs_stale_until_merged_and_translated(
    tmp_path: Path,
) -> None:
    templates, locale_dir = _copies(tmp_path)
    more = templates / "partials" / "more.html"
    more.write_text(more.read_text().replace("</ol>", '</ol>\n<p>{{ _("See you next week") }}</p>'))
    problems = stale(locale_dir, templates)
    assert f"{locale_dir / 'digest.pot'} is stale" in problems
    assert any(
        p.endswith("de/LC_MESSAGES/digest.po is not merged with the templates' words")
        for p in problems
    )

    write(None, locale_dir, templates)
    problems = stale(locale_dir, templates)
    assert sorted(problems) == sorted(
        f"{locale_dir / lang / 'LC_MESSAGES' / 'digest.po'}: 'See you next week' is not translated"
        for lang in ("de", "es", "fr")
    )


def test_a_stale_mo_or_a_dropped_placeholder_is_noticed(tmp_path: Path) -> None:
    templates, locale_dir = _copies(tmp_path)
    po = locale_dir / "de" / "LC_MESSAGES" / "digest.po"
    po.write_text(
        po.read_text().replace(
            'msgstr "Diese E-Mail ging an %(email)s."', 'msgstr "Diese E-Mail ging an Sie."'
        )
    )
    assert stale(locale_dir, templates) == [
        f"{po.with_suffix('.mo')} is not compiled from digest.po",
        f"{po}: 'This copy went to %(email)s.': the translation 'Diese E-Mail ging an Sie.' "
        "leaves out %(email)s",
    ]


def test_a_new_language_starts_empty(tmp_path: Path) -> None:
    templates, locale_dir = _copies(tmp_path)
    write("it", locale_dir, templates)
    assert languages(locale_dir) == ["de", "es", "fr", "it"]
    untranslated = [p for p in stale(locale_dir, templates) if "/it/" in p]
    with open(LOCALE_DIR / "digest.pot", "rb") as pot:
        messages = [m for m in read_po(pot) if m.id]  # every message of the templates
    assert len(messages) > 10
    assert len(untranslated) == len(messages)
    assert all(p.endswith("is not translated") for p in untranslated)
