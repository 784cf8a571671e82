"""The desk in real headless Chromium (Debian's, driven by Playwright), as an editor uses it:
log in, open the draft, drop a story, rewrite a summary and the subject, approve; what the
subscribers get is exactly that. Axe-core checks the desk's pages and the archive."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from digest.models import IssueStatus
from digest.pipeline import editing, send_approved
from digest.web import create_app
from digest.workspace import Workspace
from tests.web.conftest import LiveServer
from tests.web.desk_helpers import PASSWORD, desk_workspace

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
    workspace = desk_workspace(example_dir, home)
    yield workspace
    workspace.close()


@pytest.fixture
def site(ws: Workspace) -> Iterator[str]:
    with LiveServer(create_app(ws)) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.fixture
def page(site: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(base_url=site, bypass_csp=True)
        tab = context.new_page()
        dialogs: list[str] = []
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        tab.dialogs = dialogs
        yield tab
        browser.close()


def _log_in(page: Any, name: str = "ed") -> None:
    page.goto("/desk/login")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/desk/")


def _next_firing(ws: Workspace) -> None:
    """What the digest's next firing does with an approved issue (in a thread of its own:
    Playwright's synchronous API holds this thread's event loop)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, send_approved(ws, "example", max_wait=5)).result()


def _outbox(ws: Workspace) -> list[EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted((ws.home / "outbox").glob("*.eml"))
    ]


def test_an_anonymous_visitor_is_sent_to_the_login_page(page: Any) -> None:
    page.goto("/desk/")
    assert page.url.endswith("/desk/login?next=/desk/")
    assert page.get_by_role("heading", name="Log in to the desk").is_visible()


def test_an_editor_changes_and_approves_the_issue_subscribers_get(page: Any, ws: Workspace) -> None:
    _log_in(page)
    draft = ws.store.issues_of("example", statuses=(IssueStatus.DRAFT,), limit=1)[0]
    stories = editing.edited_stories(draft)
    dropped, rewritten = stories[0].article.title, stories[1]

    page.get_by_role("link", name=f"Issue {draft.id}:").click()
    page.wait_for_url(f"**/desk/issues/{draft.id}")
    assert page.locator("iframe[sandbox]").count() == 2

    page.get_by_role("button", name=f"Drop: {dropped}").click()
    page.wait_for_url(f"**/desk/issues/{draft.id}*")
    assert page.get_by_role("status").inner_text() == "Story dropped."

    story = page.locator(f"#story-{rewritten.id}")
    story.get_by_text("Edit title and summary").click()
    story.get_by_label("Summary").fill("The editor's own summary of the ferry news.")
    story.get_by_role("button", name="Save story").click()
    page.wait_for_url(f"**/desk/issues/{draft.id}*")

    page.get_by_label("Subject (empty: the digest's own)").fill("Ferries and libraries")
    page.get_by_role("button", name="Save subject").click()
    page.wait_for_url(f"**/desk/issues/{draft.id}*")

    preview = page.frame_locator("iframe").first
    assert "The editor's own summary" in preview.locator("body").inner_text()
    assert dropped not in preview.locator("body").inner_text()

    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_url(f"**/desk/issues/{draft.id}*")
    assert "Approved" in page.get_by_role("status").inner_text()

    _next_firing(ws)
    messages = _outbox(ws)
    assert len(messages) == 3
    for message in messages:
        assert message["Subject"] == "Ferries and libraries"
        html = message.get_body(("html",))
        assert html is not None
        body = str(html.get_content())
        assert "The editor's own summary of the ferry news." in body
        assert dropped not in body


def test_a_form_posted_without_its_csrf_token_is_refused(page: Any, ws: Workspace) -> None:
    _log_in(page)
    draft = ws.store.issues_of("example", statuses=(IssueStatus.DRAFT,), limit=1)[0]
    page.goto(f"/desk/issues/{draft.id}")
    page.evaluate("document.querySelectorAll('input[name=csrftoken]').forEach(i => i.remove())")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Approve", exact=True).click()
    assert answer.value.status == 403
    assert ws.store.get_issue(draft.id).status == IssueStatus.DRAFT


def test_a_script_in_a_title_shows_as_text(page: Any, ws: Workspace) -> None:
    draft = ws.store.issues_of("example", statuses=(IssueStatus.DRAFT,), limit=1)[0]
    story = editing.edited_stories(draft)[0]
    hostile = "<script>alert('x')</script><img src=x onerror=alert(2)> Harbour"
    editing.edit(ws, draft.id, "ed", title=(story.id, hostile))
    _log_in(page)
    page.goto(f"/desk/issues/{draft.id}")
    heading = page.locator(f"#story-{story.id} h3")
    assert heading.inner_text().startswith(hostile)
    assert heading.locator("script, img").count() == 0
    page.frame_locator("iframe").first.locator("body").wait_for()
    assert page.dialogs == []


def _serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} - {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_axe_finds_nothing_serious_on_the_desk_and_the_archive(page: Any, ws: Workspace) -> None:
    page.goto("/desk/login")
    assert _serious(page) == []
    _log_in(page)
    assert _serious(page) == []
    draft = ws.store.issues_of("example", statuses=(IssueStatus.DRAFT,), limit=1)[0]
    page.goto(f"/desk/issues/{draft.id}")
    assert _serious(page) == []
    editing.approve(ws, draft.id, "ed")
    _next_firing(ws)
    page.goto(f"/desk/issues/{draft.id}")
    assert _serious(page) == []
    page.goto("/archive/example/")
    assert _serious(page) == []
    page.goto(f"/archive/example/{draft.id}/")
    assert _serious(page) == []


def test_an_operator_imports_a_list_from_the_console_after_a_dry_run(
    page: Any, ws: Workspace, tmp_path: Path
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name\nnew.one@example.org,New One\nnot-an-address,X\n")
    _log_in(page, "op")
    page.get_by_role("link", name="Lists").click()
    assert _serious(page) == []
    page.get_by_label("Import a CSV file").set_input_files(str(people))
    page.get_by_role("button", name="Check the file").click()
    status = page.get_by_role("status")
    assert "1 imported" in status.inner_text() and "dry run, nothing written" in status.inner_text()
    assert ws.store.subscriber_by_email("new.one@example.org") is None
    assert _serious(page) == []
    page.get_by_role("button", name="Import these rows").click()
    assert "dry run" not in page.get_by_role("status").inner_text()
    assert ws.store.subscriber_by_email("new.one@example.org") is not None

    page.get_by_role("link", name="Subscribers").click()
    page.get_by_label("Find by address").fill("new.one")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="new.one@example.org").click()
    page.get_by_label("Reason").first.fill("asked us to stop")
    page.get_by_role("button", name="Unsubscribe").click()
    assert "Unsubscribed." in page.get_by_role("status").first.inner_text()
    audit = page.locator("section", has=page.locator("#audit")).inner_text()
    assert "desk:op" in audit and "asked us to stop" in audit
    assert _serious(page) == []
    page.get_by_role("link", name="Sources").click()
    assert _serious(page) == []
