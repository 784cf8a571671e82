"""The front page and the sign-up pages, with httpx over the ASGI app: what a reader finds, and
that its forms reach the sign-up they always reached (double opt-in included)."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urljoin

import pytest

from digest.web.pages import SECURITY_HEADERS
from digest.workspace import Workspace
from tests.web.subscriber_helpers import browser_like, csrf_of, forms_of, reader_workspace


@pytest.fixture
def ws(tmp_path: Path, home: Path) -> Iterator[Workspace]:
    workspace = reader_workspace(tmp_path, home)
    yield workspace
    workspace.close()


def _outbox(ws: Workspace) -> list[EmailMessage]:
    folder = Path(str(ws.config.providers["outbox"].directory))
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(folder.glob("*.eml"))
    ]


async def test_the_front_page_lists_the_digests_that_take_sign_ups(ws: Workspace) -> None:
    async with browser_like(ws) as client:
        page = await client.get("/")
    assert page.status_code == 200
    # the sign-up pages send their origin along with their form (POST /subscribe checks it)
    for header, value in {**SECURITY_HEADERS, "Referrer-Policy": "same-origin"}.items():
        assert page.headers[header] == value
    html = page.text
    headings = re.findall(r"<h2 [^>]*><a [^>]*>(.*?)</a></h2>", html)
    # the list that takes no sign-ups is not offered; titles are escaped, in config order
    assert headings == ["The Morning &lt;Brief&gt;", "Weekly &amp; Co", "Monthly"]
    assert "Internal Notes" not in html and "<Brief>" not in html
    assert "Every weekday at 07:00, Europe/Berlin time" in html
    assert "Every Monday at 08:00, UTC time" in html
    assert re.search(r"Next issue \w{3} \d\d \w{3} \d{4}, 09:00, UTC time", html)
    # archive links only where the archive is on (weekly has archive = false)
    assert 'href="archive/morning/"' in html and 'href="archive/monthly/"' in html
    assert "archive/weekly/" not in html
    assert html.count("Signing up also brings") == 2  # weekly and monthly share a list
    forms = forms_of(html)
    assert len(forms) == 3
    token = csrf_of(html)
    for form, list_name in zip(forms, ("readers", "shared", "shared"), strict=True):
        assert 'method="post" action="subscribe"' in form
        assert f'name="csrftoken" value="{token}"' in form
        assert f'name="list" value="{list_name}"' in form
        assert 'type="email" name="email" required' in form
    ids = re.findall(r'id="(email-\d)"', html)
    assert len(set(ids)) == 3  # each label names its own field
    assert "csrftoken=" in page.headers["set-cookie"]


async def test_a_front_page_with_nothing_to_sign_up_for_says_so(tmp_path: Path, home: Path) -> None:
    with reader_workspace(tmp_path, home, signup=False) as ws:
        assert not any(listed.signup for listed in ws.config.lists.values())
        async with browser_like(ws) as client:
            page = await client.get("/")
    assert page.status_code == 200
    assert "No newsletter takes sign-ups here at the moment." in page.text
    assert "<form" not in page.text


async def test_the_sign_up_page_is_named_after_its_digests(ws: Workspace) -> None:
    async with browser_like(ws) as client:
        one = await client.get("/subscribe/readers")
        shared = await client.get("/subscribe/shared")
        closed = await client.get("/subscribe/closed")
        unknown = await client.get("/subscribe/nobody")
        older = await client.get("/subscribe", params={"list": "readers"})
    assert one.status_code == 200
    assert "<h1>Subscribe to The Morning &lt;Brief&gt;</h1>" in one.text
    assert "Readers list" not in one.text  # the list's own name is not what readers know
    assert 'action="../subscribe"' in one.text and 'href="../archive/morning/"' in one.text
    assert "<h1>Subscribe to Weekly &amp; Co and Monthly</h1>" in shared.text
    assert "Shared list" not in shared.text
    assert shared.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    for missing in (closed, unknown):
        assert missing.status_code == 404 and "No such newsletter" in missing.text
    assert older.status_code == 200 and 'action="subscribe"' in older.text  # old links work


async def test_the_sign_up_page_form_signs_up_with_double_opt_in(ws: Workspace) -> None:
    async with browser_like(ws) as client:
        page = await client.get("/subscribe/readers")
        [form] = forms_of(page.text)
        action = re.search(r'action="([^"]+)"', form)
        assert action is not None
        target = urljoin(str(page.url), action.group(1))
        assert target == "http://127.0.0.1/subscribe"
        without_token = await client.post(
            target, data={"email": "ada@example.org", "list": "readers"}
        )
        answer = await client.post(
            target,
            data={"email": "ada@example.org", "list": "readers", "csrftoken": csrf_of(page.text)},
        )
    assert without_token.status_code == 403  # the browser has the cookie: the form needs its token
    assert answer.status_code == 202 and "check your inbox" in answer.text
    assert "The Morning &lt;Brief&gt;" in answer.text
    store = ws.store
    row = store.subscriber_by_email("ada@example.org")
    list_id = store.list_id("readers")
    assert row is not None and list_id is not None
    assert store.membership_status(list_id, row.id) == "pending"
    [confirmation] = _outbox(ws)
    assert "The Morning <Brief>" in confirmation.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def test_a_bad_address_shows_the_page_again_escaped(ws: Workspace) -> None:
    async with browser_like(ws) as client:
        page = await client.get("/")
        answer = await client.post(
            "/subscribe",
            data={"email": "<b>nope</b>", "list": "shared", "csrftoken": csrf_of(page.text)},
        )
    assert answer.status_code == 422
    assert "<b>nope</b>" not in answer.text and "That address does not look right" in answer.text
    assert "<h1>Subscribe to Weekly &amp; Co and Monthly</h1>" in answer.text
    assert 'action="subscribe"' in answer.text
