"""The desk over HTTP: logins, sessions, CSRF, and the draft's actions doing what they say."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from digest.accounts import change_password
from digest.models import IssueStatus
from digest.pipeline import editing
from digest.web import create_app
from digest.workspace import Workspace
from tests.web.desk_helpers import PASSWORD, desk_workspace, log_in, token_of


@pytest.fixture
def ws(example_dir: Path, home: Path) -> Iterator[Workspace]:
    workspace = desk_workspace(example_dir, home)
    yield workspace
    workspace.close()


@pytest.fixture
async def client(ws: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ws))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        yield c


def _draft(ws: Workspace) -> int:
    return ws.store.issues_of("example", statuses=(IssueStatus.DRAFT,), limit=1)[0].id


async def test_every_desk_page_needs_a_login(client: httpx.AsyncClient, ws: Workspace) -> None:
    for path in ("/desk/", f"/desk/issues/{_draft(ws)}", f"/desk/issues/{_draft(ws)}/preview"):
        answer = await client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/desk/login?next={path}"
    page = await client.get("/desk/login")
    assert page.status_code == 200 and 'type="password"' in page.text


async def test_a_login_sets_a_signed_httponly_samesite_cookie_that_expires(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/desk/login")
    answer = await client.post(
        "/desk/login",
        data={
            "name": "ed",
            "password": PASSWORD,
            "next": "/desk/",
            "csrftoken": token_of(page.text),
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/desk/"
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "digest_desk" in v
    )
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert re.search(r"max-age=\d+", cookie.lower()) and "path=/desk" in cookie.lower()
    desk = await client.get("/desk/")
    assert desk.status_code == 200 and "The Example Brief" in desk.text
    client.cookies.set("digest_desk", "tampered" + client.cookies["digest_desk"][8:], path="/desk")
    assert (await client.get("/desk/")).status_code == 303


async def test_wrong_passwords_and_too_many_tries(client: httpx.AsyncClient) -> None:
    page = await client.get("/desk/login")
    token = token_of(page.text)
    answers = [
        await client.post(
            "/desk/login", data={"name": "ed", "password": "not it at all", "csrftoken": token}
        )
        for _ in range(12)
    ]
    assert answers[0].status_code == 401 and "Wrong name or password" in answers[0].text
    assert answers[-1].status_code == 429  # the account is limited before a guesser gets far
    assert "Too many attempts" in answers[-1].text
    answer = await client.post(
        "/desk/login", data={"name": "ed", "password": PASSWORD, "csrftoken": token}
    )
    assert answer.status_code == 429  # even the right password waits


async def test_a_form_without_its_csrf_token_is_refused(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    await log_in(client)
    issue = _draft(ws)
    answer = await client.post(f"/desk/issues/{issue}/approve", data={})
    assert answer.status_code == 403
    assert ws.store.get_issue(issue).status == IssueStatus.DRAFT
    bare = httpx.AsyncClient(transport=client._transport, base_url="http://127.0.0.1")
    async with bare:  # no cookie at all: a cross-site form, refused before anything else
        assert (await bare.post("/desk/login", data={"name": "ed"})).status_code == 403


async def test_a_password_change_ends_older_sessions(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    await log_in(client)
    assert (await client.get("/desk/")).status_code == 200
    change_password(ws.store, "ed", "a brand new passphrase")
    assert (await client.get("/desk/")).status_code == 303


async def test_the_draft_page_and_its_actions(client: httpx.AsyncClient, ws: Workspace) -> None:
    await log_in(client)
    issue = _draft(ws)
    page = await client.get(f"/desk/issues/{issue}")
    assert page.status_code == 200
    assert page.text.count("<iframe") == 2 and "sandbox" in page.text
    assert 'width="800"' in page.text and 'width="375"' in page.text
    assert "List-Unsubscribe" in page.text and "Gmail" in page.text
    assert "Why:" in page.text and "Left out" in page.text
    stories = editing.edited_stories(ws.store.get_issue(issue))
    token = token_of(page.text)

    answer = await client.post(
        f"/desk/issues/{issue}/stories/{stories[0].id}", data={"op": "drop", "csrftoken": token}
    )
    assert answer.status_code == 303
    preview = await client.get(f"/desk/issues/{issue}/preview")
    assert stories[0].article.title not in preview.text
    assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]

    await client.post(
        f"/desk/issues/{issue}/subject", data={"subject": "Chosen by hand", "csrftoken": token}
    )
    assert ws.store.get_issue(issue).subject == "Chosen by hand"
    answer = await client.post(
        f"/desk/issues/{issue}/test", data={"address": "ed@example.org", "csrftoken": token}
    )
    assert answer.status_code == 303
    assert len(list((ws.home / "outbox").glob("*.eml"))) == 1
    await client.post(f"/desk/issues/{issue}/approve", data={"csrftoken": token})
    assert ws.store.get_issue(issue).status == IssueStatus.APPROVED
    page = await client.get(f"/desk/issues/{issue}")
    assert "Approved" in page.text
    answer = await client.post(
        f"/desk/issues/{issue}/stories/{stories[1].id}", data={"op": "drop", "csrftoken": token}
    )
    page = await client.get(f"/desk/issues/{issue}")
    assert "Not done: issue" in page.text  # an approved issue no longer changes


async def test_titles_from_outside_are_text_not_markup(
    client: httpx.AsyncClient, ws: Workspace
) -> None:
    await log_in(client)
    issue = _draft(ws)
    story = editing.edited_stories(ws.store.get_issue(issue))[0]
    editing.edit(ws, issue, "ed", title=(story.id, "<script>alert(1)</script> Harbour"))
    page = await client.get(f"/desk/issues/{issue}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Harbour" in page.text


def test_roles_an_operator_may_do_what_an_editor_may_not_the_reverse(ws: Workspace) -> None:
    from starlette.requests import Request

    from digest.models import Role
    from digest.web.auth import Forbidden, LoginRequired, require_user
    from digest.web.site import Site

    site = Site(ws)
    editor, operator = ws.store.user_by_name("ed"), ws.store.user_by_name("op")
    assert editor is not None and operator is not None

    def request(user_id: int | None) -> Request:
        import time

        session = {"uid": user_id, "at": time.time()} if user_id else {}
        return Request({"type": "http", "path": "/desk/lists", "session": session, "headers": []})

    assert require_user(site, request(operator.id), Role.OPERATOR).name == "op"
    assert require_user(site, request(editor.id), Role.EDITOR).name == "ed"
    with pytest.raises(Forbidden):
        require_user(site, request(editor.id), Role.OPERATOR)
    with pytest.raises(LoginRequired):
        require_user(site, request(None), Role.EDITOR)


def test_the_issue_page_counts_deliveries_and_sends_again_to_the_failed(
    example_dir: Path, home: Path
) -> None:
    """A provider refuses one address once; the editor sees why and sends it again."""
    from collections.abc import Sequence

    from digest.config import ProviderConfig
    from digest.models import Outcome, OutgoingMessage, SendResult
    from digest.pipeline import send_approved
    from digest.send import Transport
    from digest.send.outbox import OutboxTransport

    refused: list[str] = []

    class RefusesGraceOnce(OutboxTransport):
        async def send_batch(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
            results = await super().send_batch(messages)
            for n, message in enumerate(messages):
                if message.to_email == "grace@example.net" and not refused:
                    refused.append(message.to_email)
                    results[n] = SendResult(
                        message.delivery_id, Outcome.FAILED, error="550 mailbox unavailable"
                    )
            return results

    def transports(name: str, provider: ProviderConfig, where: Path) -> Transport:
        return RefusesGraceOnce(where / "outbox")

    ws = desk_workspace(example_dir, home, transports=transports)
    try:
        issue = editing.waiting_issue(ws, "example")
        editing.approve(ws, issue.id, "ed")
        asyncio.run(send_approved(ws, "example", max_wait=0))
        assert ws.store.delivery_counts(issue.id) == {"sent": 2, "failed": 1}

        async def editor() -> None:
            transport = httpx.ASGITransport(app=create_app(ws))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                await log_in(c)
                page = await c.get(f"/desk/issues/{issue.id}")
                assert "grace@example.net" in page.text and "550 mailbox unavailable" in page.text
                answer = await c.post(
                    f"/desk/issues/{issue.id}/resend", data={"csrftoken": token_of(page.text)}
                )
                assert answer.status_code == 303

        asyncio.run(editor())
        assert ws.store.delivery_counts(issue.id) == {"sent": 3}
        assert ws.store.get_issue(issue.id).status == IssueStatus.COMPLETE
    finally:
        ws.close()
