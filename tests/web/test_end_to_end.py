"""A reader clicks one-click unsubscribe in their mail client and gets no further issue."""

from __future__ import annotations

import asyncio
import email
import re
from email import policy
from pathlib import Path

import httpx
import pytest

from digest.config import load_config
from digest.pipeline import run_digest, sync_lists
from digest.web import create_app
from digest.workspace import Workspace
from tests.web.conftest import LiveServer


@pytest.mark.slow
def test_one_click_from_a_sent_issue_stops_further_issues(example_dir: Path, home: Path) -> None:
    config = example_dir / "example.toml"
    # Without an archive, the "view in your browser" link is the signed web view.
    config.write_text(
        config.read_text().replace("[digests.example]\n", "[digests.example]\narchive = false\n")
    )
    ws = Workspace.open(load_config(config), home)
    try:
        result = asyncio.run(run_digest(ws, "example", max_wait=5))
        assert result.issue_id is not None, result.message
        messages = [
            email.message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted((home / "outbox").glob("*.eml"))
        ]
        ada = next(m for m in messages if "ada@example.org" in str(m["To"]))
        assert ada["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        urls = re.findall(r"<([^>]+)>", str(ada["List-Unsubscribe"]))
        assert urls[0].startswith("https://news.example.org/unsubscribe/")
        assert any(url.startswith("mailto:") for url in urls)
        path = urls[0].removeprefix("https://news.example.org")

        list_id = ws.store.list_id("readers")
        assert list_id is not None
        before = ws.store.count_members(list_id)
        body = ada.get_body(("plain",))
        assert body is not None
        web_path = re.search(r"https://news\.example\.org(/issues/\S+)", body.get_content())
        assert web_path is not None
        with LiveServer(create_app(ws)) as server:
            base = f"http://127.0.0.1:{server.port}"
            # the "view in your browser" link shows the issue, with nobody's data in it
            view = httpx.get(base + web_path.group(1))
            assert view.status_code == 200, view.text
            assert "The Example Brief" in view.text and "<html" in view.text
            assert "ada@example.org" not in view.text and "Ada Lovelace" not in view.text
            assert httpx.get(base + web_path.group(1)[:-3]).status_code == 400
            # what the mail client sends, to the URL from the header, nothing else
            response = httpx.post(
                base + path,
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert response.status_code == 200
        row = ws.store.subscriber_by_email("ada@example.org")
        assert row is not None
        assert ws.store.membership_status(list_id, row.id) == "unsubscribed"

        # the next run imports the list's CSV again (ada is still in it): she stays out
        sync_lists(ws)
        assert ws.store.membership_status(list_id, row.id) == "unsubscribed"
        issue_id = ws.store.claim_issue("example", "next-week", "test")
        assert issue_id is not None
        ws.store.save_draft(
            issue_id,
            subject="S",
            html="<p>h</p>",
            text="t",
            content={"list_id": list_id},
            report={},
        )
        planned = ws.store.freeze_issue(issue_id, "example", list_id, [])
        assert planned == before["active"] - 1
        from datetime import timedelta

        claimed = ws.store.claim_batch(issue_id, list_id, "t", 100, timedelta(minutes=1))
        assert "ada@example.org" not in {r.email for r in claimed}
    finally:
        ws.close()
