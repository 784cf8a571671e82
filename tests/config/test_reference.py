"""config/reference.toml is generated from the declarations: never stale, every setting helped.

In the spirit of datasette's tests/test_docs.py: a setting added without help, or a change of a
default without regenerating the reference, fails here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from digest.config import Config
from digest.config.reference import missing_help, reference, settings

REFERENCE = Path(__file__).resolve().parents[2] / "config" / "reference.toml"


def test_every_setting_has_help() -> None:
    assert missing_help() == [], "declare a one-line description= for each of these"


def test_the_committed_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference(), (
        "config/reference.toml is stale: run "
        "`.venv/bin/python -m digest.config.reference > config/reference.toml`"
    )


def test_the_reference_names_every_key_and_parses_as_toml() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    tables = tomllib.loads(text)
    assert set(tables) == {
        name
        for name, info in Config.model_fields.items()
        if not info.exclude and "Config" in str(info.annotation)
    }
    for path, key, _ in settings():
        table, _, _ = path.rpartition(".")
        assert f"# {key} =" in text or f"[{path}" in text, path
        assert not table or f"[{table}]" in text, path


def test_a_setting_without_help_is_reported() -> None:
    """The check can fail: a declaration stripped of its help shows up by its key path."""
    from digest.config.settings import FetchConfig

    field = FetchConfig.model_fields["per_host"]
    saved = field.description
    field.description = None
    try:
        assert missing_help() == ["fetch.per_host"]
    finally:
        field.description = saved
