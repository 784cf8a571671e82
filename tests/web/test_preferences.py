"""A subscriber's preferences page, with httpx over the ASGI app: what it shows, that a GET
changes nothing, and that each form (CSRF-protected) leaves, pauses or resumes, recorded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from digest.web.pages import SECURITY_HEADERS
from digest.workspace import Workspace
from tests.web.subscriber_helpers import browser_like, csrf_of, forms_of, reader_workspace

ADA = "ada@example.org"


@pytest.fixture
def ws(tmp_path: Path, home: Path) -> Iterator[Workspace]:
    workspace = reader_workspace(tmp_path, home)
    yield workspace
    workspace.close()


def _member_of_all(ws: Workspace) -> tuple[int, dict[str, int]]:
    """Ada on every list; she left the one that takes no sign-ups."""
    store = ws.store
    ids = {name: store.ensure_list(name, listed.title) for name, listed in ws.config.lists.items()}
    for list_id in ids.values():
        store.upsert_subscriber(list_id, ADA, name="Ada")
    row = store.subscriber_by_email(ADA)
    assert row is not None
    store.unsubscribe(ids["closed"], row.id, source="cli", reason="operator")
    return row.id, ids


async def _post(
    client: httpx.AsyncClient, page: httpx.Response, fields: dict[str, str]
) -> httpx.Response:
    """Post a form of the page as a browser would: its action, its token, the given fields."""
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action is not None
    target = page.url.join(action.group(1))
    return await client.post(target, data={"csrftoken": csrf_of(page.text), **fields})


def _statuses(html: str) -> dict[str, str]:
    return dict(
        re.findall(r"<strong>(.*?)</strong><br>\s*<span class=\"muted\">(.*?)</span>", html)
    )


async def test_the_page_shows_each_list_and_a_get_changes_nothing(ws: Workspace) -> None:
    subscriber_id, ids = _member_of_all(ws)
    path = f"/preferences/{ws.signer.preferences_token(subscriber_id)}"
    events = len(ws.store.events_for(ADA))
    async with browser_like(ws) as client:
        pages = [await client.get(path) for _ in range(3)]  # link scanners, repeatedly
    page = pages[-1]
    assert page.status_code == 200
    for header, value in SECURITY_HEADERS.items():
        assert page.headers[header] == value
    assert "For a***@example.org." in page.text and ADA not in page.text
    assert _statuses(page.text) == {
        "Internal Notes": "You left this list",
        "The Morning &lt;Brief&gt;": "Subscribed",
        "Weekly &amp; Co and Monthly": "Subscribed",
    }
    forms = forms_of(page.text)
    leave = [f for f in forms if 'name="do" value="leave"' in f]
    assert sorted(re.findall(r'name="list" value="(\d+)"', "".join(leave))) == sorted(
        [str(ids["readers"]), str(ids["shared"])]
    )  # one form per list Ada is on; none for the list she left
    assert any('value="leave_all"' in f for f in forms)
    assert any('value="pause"' in f and '<option value="12">' in f for f in forms)
    assert all('name="csrftoken"' in f for f in forms)
    assert "Resume now" not in page.text
    assert len(ws.store.events_for(ADA)) == events
    assert all(m.paused_until is None for m in ws.store.memberships_of(subscriber_id))
    assert ws.store.membership_status(ids["readers"], subscriber_id) == "active"


async def test_forged_and_stale_links(ws: Workspace) -> None:
    subscriber_id, _ = _member_of_all(ws)
    token = ws.signer.preferences_token(subscriber_id)
    async with browser_like(ws) as client:
        assert (await client.get(f"/preferences/{token[:-3]}")).status_code == 400
        other = ws.signer.unsubscribe_token(subscriber_id, 1)  # another kind of token
        assert (await client.get(f"/preferences/{other}")).status_code == 400
        gone = ws.signer.preferences_token(999_999)
        assert (await client.get(f"/preferences/{gone}")).status_code == 404


async def test_leaving_one_list_is_the_unsubscribe_the_one_click_link_records(
    ws: Workspace,
) -> None:
    subscriber_id, ids = _member_of_all(ws)
    token = ws.signer.preferences_token(subscriber_id)
    async with browser_like(ws) as client:
        page = await client.get(f"/preferences/{token}")
        answer = await _post(client, page, {"do": "leave", "list": str(ids["readers"])})
        assert answer.status_code == 303
        assert answer.headers["location"] == f"{token}?done=left"  # relative: prefixes kept
        after = await client.get(page.url.join(answer.headers["location"]))
    assert "Done: you have left the list." in after.text
    assert _statuses(after.text)["The Morning &lt;Brief&gt;"] == "You left this list"
    assert 'href="../subscribe/readers">Sign up again' in after.text
    store = ws.store
    assert store.membership_status(ids["readers"], subscriber_id) == "unsubscribed"
    assert store.membership_status(ids["shared"], subscriber_id) == "active"
    [event] = [e for e in store.events_for(ADA) if e.payload.get("list_id") == ids["readers"]]
    assert (event.provider, event.kind) == ("web", "unsubscribe")
    assert event.payload == {
        "list_id": ids["readers"],
        "subscriber_id": subscriber_id,
        "reason": "preferences page",
    }
    # the one-click path records the very same event (one store method for both)
    one_click = ws.signer.unsubscribe_token(subscriber_id, ids["shared"])
    async with browser_like(ws) as client:
        await client.post(
            f"/unsubscribe/{one_click}",
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    [other] = [e for e in store.events_for(ADA) if e.payload.get("list_id") == ids["shared"]]
    assert (other.provider, other.kind, set(other.payload)) == (
        event.provider,
        event.kind,
        set(event.payload),
    )


async def test_leaving_every_list(ws: Workspace) -> None:
    subscriber_id, ids = _member_of_all(ws)
    async with browser_like(ws) as client:
        page = await client.get(f"/preferences/{ws.signer.preferences_token(subscriber_id)}")
        answer = await _post(client, page, {"do": "leave_all"})
        after = await client.get(page.url.join(answer.headers["location"]))
    assert "you have left every list" in after.text
    assert {m.status for m in ws.store.memberships_of(subscriber_id)} == {"unsubscribed"}
    left = [e.payload["list_id"] for e in ws.store.events_for(ADA) if e.kind == "unsubscribe"]
    assert sorted(left) == sorted(ids.values())  # the operator's earlier one, and these two
    assert "Leave every list" not in after.text and "Take a break" not in after.text


async def test_pausing_for_some_weeks_and_resuming(ws: Workspace) -> None:
    subscriber_id, ids = _member_of_all(ws)
    async with browser_like(ws) as client:
        page = await client.get(f"/preferences/{ws.signer.preferences_token(subscriber_id)}")
        before = datetime.now(UTC)
        answer = await _post(client, page, {"do": "pause", "weeks": "3"})
        paused = await client.get(page.url.join(answer.headers["location"]))
        by_list = {m.list_id: m for m in ws.store.memberships_of(subscriber_id)}
        until = by_list[ids["readers"]].paused_until
        assert until is not None
        assert before + timedelta(weeks=3) <= until <= datetime.now(UTC) + timedelta(weeks=3)
        assert by_list[ids["shared"]].paused_until == until
        assert by_list[ids["closed"]].paused_until is None  # a list she left is not paused
        day = f"{until:%A} {until.day} {until:%B %Y}"
        assert f"<h2>Paused until {day}</h2>" in paused.text
        assert _statuses(paused.text)["Weekly &amp; Co and Monthly"] == f"Paused until {day}"
        assert "Resume now" in paused.text
        resume = next(f for f in forms_of(paused.text) if 'value="resume"' in f)
        assert 'name="csrftoken"' in resume
        answer = await _post(client, paused, {"do": "resume"})
        resumed = await client.get(page.url.join(answer.headers["location"]))
    assert "Resumed" in resumed.text and "Resume now" not in resumed.text
    assert all(m.paused_until is None for m in ws.store.memberships_of(subscriber_id))
    events = [e for e in ws.store.events_for(ADA) if e.kind in ("pause", "resume")]
    assert [(e.provider, e.kind) for e in reversed(events)] == [("web", "pause"), ("web", "resume")]
    assert events[1].payload["until"] == until.isoformat()


@pytest.mark.parametrize(
    "fields",
    [
        {"do": "pause", "weeks": "0"},
        {"do": "pause", "weeks": "13"},
        {"do": "pause", "weeks": "two"},
        {"do": "leave", "list": "x"},
        {"do": "subscribe", "list": "1"},
        {},
    ],
)
async def test_what_the_forms_never_send_changes_nothing(
    ws: Workspace, fields: dict[str, str]
) -> None:
    subscriber_id, _ = _member_of_all(ws)
    events = len(ws.store.events_for(ADA))
    async with browser_like(ws) as client:
        page = await client.get(f"/preferences/{ws.signer.preferences_token(subscriber_id)}")
        answer = await _post(client, page, fields)
    assert answer.status_code == 400 and "Not understood" in answer.text
    assert len(ws.store.events_for(ADA)) == events


async def test_every_form_needs_its_csrf_token_and_the_cookie(ws: Workspace) -> None:
    subscriber_id, ids = _member_of_all(ws)
    path = f"/preferences/{ws.signer.preferences_token(subscriber_id)}"
    async with browser_like(ws) as client:
        page = await client.get(path)
        no_token = await client.post(path, data={"do": "leave_all"})
        wrong = await client.post(
            path, data={"do": "leave_all", "csrftoken": "x" + csrf_of(page.text)}
        )
    async with browser_like(ws) as stranger:  # a cross-site form: no cookie of this site
        cookieless = await stranger.post(
            path, data={"do": "leave_all", "csrftoken": csrf_of(page.text)}
        )
    assert [r.status_code for r in (no_token, wrong, cookieless)] == [403, 403, 403]
    assert ws.store.membership_status(ids["readers"], subscriber_id) == "active"
    assert [e.kind for e in ws.store.events_for(ADA)] == ["unsubscribe"]  # the operator's
