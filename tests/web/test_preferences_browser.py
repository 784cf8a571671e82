"""A subscriber in real headless Chromium (Debian's, driven by Playwright): finds the sign-up
page from the front page and signs up; opens the preferences link of an issue sent to the
outbox, pauses for six weeks and sees it, then resumes. Axe-core checks the pages."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from digest.config import load_config
from digest.models import IssueStatus
from digest.pipeline import run_digest
from digest.web import create_app
from digest.workspace import Workspace
from tests.web.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium"
    ),
]


@pytest.fixture
def ws(example_dir: Path, home: Path) -> Iterator[Workspace]:
    """The offline example served over plain http, with one issue sent to the outbox."""
    config = example_dir / "example.toml"
    text = config.read_text()
    config.write_text(
        text.replace('base_url = "https://news.example.org"', 'base_url = "http://127.0.0.1"')
    )
    workspace = Workspace.open(load_config(config), home)
    report = asyncio.run(run_digest(workspace, "example", max_wait=5))
    assert report.status == IssueStatus.COMPLETE, report.message
    yield workspace
    workspace.close()


@pytest.fixture
def page(ws: Workspace) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with LiveServer(create_app(ws)) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(
            base_url=f"http://127.0.0.1:{server.port}",
            bypass_csp=True,  # for axe's script
        )
        yield context.new_page()
        browser.close()


def _sent_to(ws: Workspace, address: str) -> EmailMessage:
    for path in sorted((ws.home / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if message["To"].addresses[0].addr_spec == address:
            return message
    raise AssertionError(f"nothing was sent to {address}")


def _serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} - {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_a_reader_finds_the_sign_up_page_from_the_front_page(page: Any, ws: Workspace) -> None:
    page.goto("/")
    assert _serious(page) == []
    page.get_by_role("link", name="The Example Brief").click()
    page.wait_for_url("**/subscribe/readers")
    assert page.get_by_role("heading", name="Subscribe to The Example Brief").is_visible()
    assert _serious(page) == []
    page.get_by_label("Email address").fill("new.reader@example.org")
    page.get_by_role("button", name="Subscribe to The Example Brief").click()
    page.wait_for_url("**/subscribe")
    assert "Thank you" in page.locator("main").inner_text()
    row = ws.store.subscriber_by_email("new.reader@example.org")
    list_id = ws.store.list_id("readers")
    assert row is not None and list_id is not None
    # the example's list says nothing: double opt-in, and the confirmation went out
    assert ws.store.membership_status(list_id, row.id) == "pending"
    assert "/confirm/" in str(_sent_to(ws, "new.reader@example.org").get_body(("plain",)))


def test_a_subscriber_pauses_from_the_link_in_their_email(page: Any, ws: Workspace) -> None:
    message = _sent_to(ws, "ada@example.org")
    html = message.get_body(("html",))
    assert html is not None
    found = re.search(
        r'<a href="([^"]+)"[^>]*>pause or manage your subscription</a>', html.get_content()
    )
    assert found is not None
    link = urlsplit(found.group(1))
    assert link.path.startswith("/preferences/")

    page.goto(link.path)
    assert page.get_by_role("heading", name="Your subscriptions").is_visible()
    assert "a***@example.org" in page.locator("main").inner_text()
    assert _serious(page) == []
    page.get_by_label("Pause every list for").select_option("6")
    before = datetime.now(UTC)
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_url("**?done=paused")

    ada = ws.store.subscriber_by_email("ada@example.org")
    assert ada is not None
    [membership] = ws.store.memberships_of(ada.id)
    until = membership.paused_until
    assert until is not None and timedelta(weeks=6) <= until - before < timedelta(
        weeks=6, minutes=1
    )
    day = f"{until:%A} {until.day} {until:%B %Y}"
    assert page.get_by_role("status").inner_text() == "Paused."
    assert page.get_by_role("heading", name=f"Paused until {day}").is_visible()
    line = page.get_by_role("listitem").filter(has_text="The Example Brief")
    assert line.get_by_text(f"Paused until {day}", exact=True).is_visible()
    assert _serious(page) == []

    page.get_by_role("button", name="Resume now").click()
    page.wait_for_url("**?done=resumed")
    assert "Resumed" in page.get_by_role("status").inner_text()
    assert ws.store.memberships_of(ada.id)[0].paused_until is None
    kinds = [e.kind for e in reversed(ws.store.events_for("ada@example.org"))]
    assert kinds[-2:] == ["pause", "resume"]
