"""The gettext catalogs of the email's words: extracted, merged and compiled with babel.

    python -m digest.render.catalogs              extract, merge into every .po, compile .mo
    python -m digest.render.catalogs --init it    start a catalog for another language
    python -m digest.render.catalogs --check      list what is stale (exit 1), change nothing

The words are extracted from the email templates (`_()`, `ngettext()`) and from
`digest/render/environment.py` into `digest/locale/digest.pot`; each language's
`<lang>/LC_MESSAGES/digest.po` is merged with it (new words untranslated, gone ones dropped) and
compiled to `digest.mo` beside it, which is what Digest reads. The `.mo` files are committed,
so an installed Digest needs no build step; `tests/render/test_catalogs.py` fails when one is
stale, when a message is untranslated or fuzzy, or when a translation drops a placeholder.
Dates are fixed in the headers, so running this again changes nothing unless a word did, and
the checks ignore the babel version a file was written with.
"""

from __future__ import annotations

import argparse
import io
import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from digest.render.environment import DEFAULT_TEMPLATE_DIR
from digest.render.i18n import DOMAIN, LOCALE_DIR

__all__ = ["compiled", "languages", "main", "merged", "stale", "template", "write"]

PACKAGE = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
COMMENT_TAGS = ("Translators:",)
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)  # headers' dates: no churn on every run
WIDTH = 100


def _sources(templates: Path) -> Iterator[tuple[str, Path, str]]:
    """(extraction method, file, the path catalogs show) of every file with words."""
    yield "python", PACKAGE / "render" / "environment.py", "digest/render/environment.py"
    for path in sorted(templates.rglob("*")):
        if path.suffix in (".html", ".txt"):
            yield "jinja2", path, f"templates/email/{path.relative_to(templates)}"


def template(templates: Path = DEFAULT_TEMPLATE_DIR) -> Catalog:
    """The catalog template: every word the email uses, with where and translators' notes."""
    catalog = Catalog(
        project="Digest",
        copyright_holder="Digest contributors",
        creation_date=FIXED_DATE,
        revision_date=FIXED_DATE,
        charset="utf-8",
    )
    for method, path, shown in _sources(templates):
        options = {"trim_blocks": "true", "lstrip_blocks": "true"} if method == "jinja2" else {}
        found = extract_from_file(
            method,
            path,
            keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS,
            options=options,
            strip_comment_tags=True,
        )
        for lineno, message, comments, context in found:
            catalog.add(message, None, [(shown, lineno)], auto_comments=comments, context=context)
    return catalog


def languages(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """The languages with a catalog, by folder name (de, fr, es...)."""
    return sorted(p.parent.parent.name for p in locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def _po_path(locale_dir: Path, language: str) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(
        buffer,
        catalog,
        width=WIDTH,
        sort_by_file=True,
        ignore_obsolete=True,
        omit_header=False,
        include_lineno=False,  # a line added above a word would make every catalog stale
    )
    return buffer.getvalue()


def merged(language: str, pot: Catalog, locale_dir: Path = LOCALE_DIR) -> Catalog:
    """The language's catalog brought up to date with the template."""
    with _po_path(locale_dir, language).open("rb") as file:
        catalog = read_po(file, locale=language, domain=DOMAIN)
    catalog.update(pot, no_fuzzy_matching=True, update_creation_date=False)
    catalog.revision_date = FIXED_DATE
    return catalog


def _same_po(path: Path, data: bytes) -> bool:
    """The file holds `data`, whichever babel version wrote either."""
    if not path.is_file():
        return False

    def lines(raw: bytes) -> list[bytes]:
        return [line for line in raw.splitlines() if not line.startswith(b'"Generated-By:')]

    return lines(path.read_bytes()) == lines(data)


def _messages(mo: bytes) -> list[tuple[object, object]]:
    catalog = read_mo(io.BytesIO(mo))
    return sorted(((m.id, m.string) for m in catalog if m.id), key=repr)


_PLACEHOLDER = re.compile(r"%\((\w+)\)")


def _forms(value: object) -> list[str]:
    """A message's id or string as a list of its forms (one unless plural)."""
    return [str(v) for v in value] if isinstance(value, tuple | list) else [str(value or "")]


def _lost_placeholders(message: Message) -> list[str]:
    """A translation must keep the original's values (babel allows dropping them): a plural
    form may leave out the count ("ein Artikel"), nothing else."""
    if not message.id or not message.string:
        return []
    wanted = set(_PLACEHOLDER.findall(_forms(message.id)[0]))
    if message.pluralizable:
        wanted.discard("num")
    return [
        f"the translation {string!r} leaves out %({name})s"
        for string in _forms(message.string)
        if string
        for name in sorted(wanted - set(_PLACEHOLDER.findall(string)))
    ]


def compiled(catalog: Catalog) -> bytes:
    """The .mo of a catalog; fuzzy translations are left out (English stands in)."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def stale(locale_dir: Path = LOCALE_DIR, templates: Path = DEFAULT_TEMPLATE_DIR) -> list[str]:
    """What is out of date or incomplete, one line each; empty when all is well."""
    problems: list[str] = []
    pot = template(templates)
    pot_path = locale_dir / f"{DOMAIN}.pot"
    if not _same_po(pot_path, _po_bytes(pot)):
        problems.append(f"{pot_path} is stale")
    for language in languages(locale_dir):
        catalog = merged(language, pot, locale_dir)
        po_path = _po_path(locale_dir, language)
        if not _same_po(po_path, _po_bytes(catalog)):
            problems.append(f"{po_path} is not merged with the templates' words")
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.is_file() or _messages(mo_path.read_bytes()) != _messages(compiled(catalog)):
            problems.append(f"{mo_path} is not compiled from {po_path.name}")
        for message in catalog:
            if message.id and (message.fuzzy or not all(_forms(message.string))):
                problems.append(f"{po_path}: {message.id!r} is not translated")
            problems.extend(f"{po_path}: {message.id!r}: {p}" for p in _lost_placeholders(message))
        for message, errors in catalog.check():
            for error in errors:
                problems.append(f"{po_path}: {message.id!r}: {error}")
    return problems


def write(
    language: str | None = None,
    locale_dir: Path = LOCALE_DIR,
    templates: Path = DEFAULT_TEMPLATE_DIR,
) -> list[Path]:
    """Extract, merge and compile; with `language`, start its catalog first. Files written."""
    pot = template(templates)
    locale_dir.mkdir(parents=True, exist_ok=True)
    pot_path = locale_dir / f"{DOMAIN}.pot"
    pot_path.write_bytes(_po_bytes(pot))
    written = [pot_path]
    if language is not None and not _po_path(locale_dir, language).exists():
        fresh = Catalog(
            locale=language,
            domain=DOMAIN,
            header_comment=f"# The words of Digest's email in {language}.\n"
            "# This file is distributed under the same license as Digest.\n#",
            project="Digest",
            copyright_holder="Digest contributors",
            last_translator="Digest contributors",
            language_team=f"{language} <https://github.com/digest-newsletter>",
            creation_date=FIXED_DATE,
            revision_date=FIXED_DATE,
            charset="utf-8",
            fuzzy=False,
        )
        _po_path(locale_dir, language).parent.mkdir(parents=True, exist_ok=True)
        _po_path(locale_dir, language).write_bytes(_po_bytes(fresh))
    for name in languages(locale_dir):
        po_path = _po_path(locale_dir, name)
        po_path.write_bytes(_po_bytes(merged(name, pot, locale_dir)))
        # compiled from the file as written (a new plural message gets all its forms there)
        po_path.with_suffix(".mo").write_bytes(compiled(merged(name, pot, locale_dir)))
        written += [po_path, po_path.with_suffix(".mo")]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m digest.render.catalogs", description=__doc__)
    parser.add_argument("--init", metavar="LANG", help="start a catalog for this language")
    parser.add_argument("--check", action="store_true", help="list what is stale; change nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    for path in write(args.init):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
