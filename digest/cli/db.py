"""`digest db upgrade`: apply the store's schema migrations (also applied on every start)."""

from __future__ import annotations

import typer

from digest.cli.common import ConfigOption, HomeOption, out

__all__ = ["db_upgrade", "register"]

db_app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, home: HomeOption = None) -> None:
    """Apply the schema migrations (also done on every start)."""
    # lazy: `digest --help` starts without SQLAlchemy and pydantic
    from digest.config import load_config
    from digest.store import open_store
    from digest.workspace import ensure_folder, resolve_home

    loaded = load_config(config)
    directory = ensure_folder(resolve_home(home, loaded), "data directory", private=True)
    store = open_store(loaded.store.url, directory)  # migrates
    try:
        out.print(f"store at revision {store.revision()}")
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
