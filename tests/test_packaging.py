"""What an installed (not editable) Digest needs is in the package and declared for the wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

import digest
from digest.render import DEFAULT_TEMPLATE_DIR
from digest.web.pages import TEMPLATES

PACKAGE = Path(digest.__file__).parent
ROOT = PACKAGE.parent


def test_templates_are_found_through_the_package() -> None:
    for folder in (DEFAULT_TEMPLATE_DIR, TEMPLATES):
        assert folder.is_dir()
        assert folder.parent == PACKAGE / "templates"  # not ../templates: a wheel has no such place
        assert any(folder.glob("*.html"))


def test_the_wheel_declares_templates_migrations_catalogs_and_types() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = config["tool"]["setuptools"]["package-data"]["digest"]
    for pattern in (
        "templates/**/*",
        "store/alembic.ini",
        "store/migrations/versions/*.py",
        "locale/*/LC_MESSAGES/*.mo",
        "locale/*/LC_MESSAGES/*.po",
        "locale/*.pot",
    ):
        assert pattern in data
        assert list(PACKAGE.glob(pattern)), pattern
