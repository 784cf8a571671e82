"""Digests and lists as readers meet them (sign-up pages, preferences), and a client that keeps
the CSRF cookie as a browser does (the app is served over plain http here, so it is sent)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from digest.config import load_config
from digest.store import Store, open_store
from digest.tokens import LinkSigner
from digest.web import create_app
from digest.workspace import Workspace

CONFIG = """
[web]
base_url = "http://127.0.0.1"

[providers.outbox]
kind = "outbox"
directory = "{outbox}"

[sources.desk]
kind = "folder"
path = "{articles}"

[lists.readers]
title = "Readers list"
double_opt_in = true
confirm_provider = "outbox"
confirm_from = "Brief <brief@news.example.org>"

[lists.shared]
title = "Shared list"
double_opt_in = false

[lists.closed]
title = "Closed list"
signup = false

[digests.morning]
title = "The Morning <Brief>"
sources = ["desk"]
list = "readers"
provider = "outbox"
from = "Brief <brief@news.example.org>"
schedule = "0 7 * * 1-5"
timezone = "Europe/Berlin"

[digests.weekly]
title = "Weekly & Co"
sources = ["desk"]
list = "shared"
provider = "outbox"
from = "Brief <brief@news.example.org>"
schedule = "0 8 * * MON"
archive = false

[digests.monthly]
title = "Monthly"
sources = ["desk"]
list = "shared"
provider = "outbox"
from = "Brief <brief@news.example.org>"
schedule = "*/30 9 1 * *"

[digests.internal]
title = "Internal Notes"
sources = ["desk"]
list = "closed"
provider = "outbox"
from = "Brief <brief@news.example.org>"
"""


def reader_workspace(
    folder: Path, home: Path, store: Store | None = None, *, signup: bool = True
) -> Workspace:
    """Three digests on two lists that take sign-ups (or none, with `signup=False`), one on a
    list that does not."""
    (folder / "articles").mkdir(exist_ok=True)
    path = folder / "digest.toml"
    text = CONFIG.format(outbox=folder / "outbox", articles=folder / "articles")
    if not signup:
        text = text.replace('\ntitle = "Readers list"', '\ntitle = "Readers list"\nsignup = false')
        text = text.replace('\ntitle = "Shared list"', '\ntitle = "Shared list"\nsignup = false')
    path.write_text(text, encoding="utf-8")
    opened = store or open_store(None, home)
    return Workspace(load_config(path), home, opened, LinkSigner("test-secret-key"))


@asynccontextmanager
async def browser_like(ws: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ws))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', html)
    assert found is not None, "the page has no CSRF token"
    return found.group(1)


def forms_of(html: str) -> list[str]:
    """Each <form ...>...</form> of a page."""
    return re.findall(r"<form\b.*?</form>", html, flags=re.S)
