"""Shared fixtures: a copy of the example configuration, stores on SQLite and real PostgreSQL.

Markers (`bash scripts/test --fast` runs what has none of them):
    postgres   talks to the real PostgreSQL server (every test that uses `postgres_url`)
    browser    drives Debian's Chromium through Playwright
    slow       takes more than about a second (real processes, real time)
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tables the CLI prints are as wide as the terminal; tests read them whole, whether pytest runs
# in a terminal, a pipe or an xdist worker.
os.environ["COLUMNS"] = "160"

from digest.store import Store, open_store  # after the width is set

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config"
POSTGRES_URL = os.environ.get(
    "DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    """A private copy of config/ (example.toml and its files) to run and break."""
    target = tmp_path / "config"
    shutil.copytree(EXAMPLE, target)
    return target


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def sqlite_store(home: Path) -> Iterator[Store]:
    store = open_store(None, home)
    yield store
    store.close()


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_URL}")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database on the real server, dropped afterwards."""
    import psycopg

    name = f"digest_test_{uuid.uuid4().hex[:12]}"
    admin = postgres_admin_url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = postgres_admin_url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    """A port nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
def store(request: pytest.FixtureRequest, home: Path) -> Iterator[Store]:
    """The same tests over both engines."""
    if request.param == "sqlite":
        opened = open_store(None, home)
    else:
        opened = open_store(request.getfixturevalue("postgres_url"), home)
    yield opened
    opened.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for a PostgreSQL database is a `postgres` test, however it asks."""
    for item in items:
        if {"postgres_url", "postgres_admin_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A command run with -v or --log-format configures the root logger; undo it after."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if type(h).__module__ == "digest.logs"]:
        root.removeHandler(handler)
    root.setLevel(level)
