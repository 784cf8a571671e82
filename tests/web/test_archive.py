"""The public archive: an index per digest, each sent issue's web edition, an Atom feed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from lxml import etree

from digest.pipeline import editing, send_approved
from digest.web import create_app
from digest.workspace import Workspace
from tests.web.desk_helpers import desk_workspace

ATOM = "{http://www.w3.org/2005/Atom}"


def _sent(ws: Workspace) -> int:
    draft = editing.waiting_issue(ws, "example")
    editing.approve(ws, draft.id, "ed")
    asyncio.run(send_approved(ws, "example", max_wait=5))
    return draft.id


def _get(ws: Workspace, path: str) -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(ws))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(path)

    return asyncio.run(get())


@pytest.mark.slow
def test_the_archive_shows_sent_issues_without_anyones_data(example_dir: Path, home: Path) -> None:
    with desk_workspace(example_dir, home) as ws:
        assert "<li>" not in (_get(ws, "/archive/example/")).text  # nothing sent yet
        issue = _sent(ws)
        index = _get(ws, "/archive/example/")
        assert index.status_code == 200 and f"/archive/example/{issue}/" in index.text
        page = _get(ws, f"/archive/example/{issue}/")
        assert page.status_code == 200 and "Night ferry returns" in page.text
        for private in ("ada@example.org", "Ada Lovelace", "This copy went to", "Unsubscribe"):
            assert private not in page.text
        assert "/subscribe/readers" in page.text  # a working subscribe link instead
        subscribe = _get(ws, "/subscribe/readers")
        assert subscribe.status_code == 200 and "The Example Brief" in subscribe.text
        # the link every subscriber got is this page
        message = next((ws.home / "outbox").glob("*.eml")).read_text()
        assert f"http://127.0.0.1/archive/example/{issue}/" in message

        feed = _get(ws, "/archive/example/feed.atom")
        assert feed.headers["content-type"].startswith("application/atom+xml")
        root = etree.fromstring(feed.content)
        entries = root.findall(f"{ATOM}entry")
        assert [e.findtext(f"{ATOM}id") for e in entries] == [
            f"http://127.0.0.1/archive/example/{issue}/"
        ]
        assert root.findtext(f"{ATOM}title") == "The Example Brief"

        for missing in ("/archive/nope/", f"/archive/example/{issue + 1}/"):
            assert (_get(ws, missing)).status_code == 404


@pytest.mark.slow
def test_archive_false_turns_it_off(example_dir: Path, home: Path) -> None:
    with desk_workspace(example_dir, home, archive=False) as ws:
        issue = _sent(ws)
        for path in (
            "/archive/example/",
            f"/archive/example/{issue}/",
            "/archive/example/feed.atom",
        ):
            assert (_get(ws, path)).status_code == 404
        message = next((ws.home / "outbox").glob("*.eml")).read_text()
        assert "/archive/" not in message and "http://127.0.0.1/issues/" in message
