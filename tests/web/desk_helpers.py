"""A workspace with a draft waiting, desk users, and a logged-in client for the desk's tests."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from digest.accounts import add_user
from digest.config import load_config
from digest.models import IssueStatus, Role
from digest.pipeline import run_digest
from digest.workspace import TransportFactory, Workspace

PASSWORD = "a long enough passphrase"


def desk_workspace(
    example_dir: Path,
    home: Path,
    *,
    archive: bool = True,
    transports: TransportFactory | None = None,
) -> Workspace:
    """The offline example with approval, served over plain http, with a draft built and an
    editor `ed` and an operator `op`."""
    config = example_dir / "example.toml"
    text = config.read_text()
    text = text.replace('base_url = "https://news.example.org"', 'base_url = "http://127.0.0.1"')
    extra = "approval = true\n" + ("" if archive else "archive = false\n")
    text = text.replace("[digests.example]\n", "[digests.example]\n" + extra)
    config.write_text(text)
    ws = Workspace.open(load_config(config), home, transports=transports)
    report = asyncio.run(run_digest(ws, "example", max_wait=5))
    assert report.status == IssueStatus.DRAFT, report.message
    add_user(ws.store, "ed", Role.EDITOR, PASSWORD)
    add_user(ws.store, "op", Role.OPERATOR, PASSWORD)
    return ws


def token_of(html: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, name: str = "ed", password: str = PASSWORD) -> None:
    page = await client.get("/desk/login")
    answer = await client.post(
        "/desk/login",
        data={
            "name": name,
            "password": password,
            "next": "/desk/",
            "csrftoken": token_of(page.text),
        },
    )
    assert answer.status_code == 303, answer.text
