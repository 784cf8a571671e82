"""Migration files read in the order they apply: file N's revision follows file N-1's."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

import digest.store as store_package

MIGRATIONS = Path(store_package.__file__).parent / "migrations"


def test_files_sorted_by_name_are_the_chain_in_order() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    chain = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    by_file = {Path(str(script.path)).name: script.revision for script in scripts.walk_revisions()}
    in_file_order = [by_file[name] for name in sorted(by_file)]
    assert in_file_order == chain, "number migration files in the order they apply"
    prefixes = [name.split("_", 1)[0] for name in sorted(by_file)]
    assert prefixes == [f"{n:04d}" for n in range(1, len(prefixes) + 1)]
