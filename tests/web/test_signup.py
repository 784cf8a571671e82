"""Sign-up with double opt-in, over real HTTP; the confirmation is read from the outbox."""

from __future__ import annotations

import email
import re
import time
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import time_machine

from tests.web.conftest import Running


def _outbox(live: Running, expect: int = 0) -> list[email.message.EmailMessage]:
    """The messages written so far; waits for `expect` (they are sent after the answer)."""
    folder = Path(str(live.ws.config.providers["outbox"].directory))
    deadline = time.monotonic() + 5
    while True:
        paths = sorted(folder.glob("*.eml")) if folder.exists() else []
        if len(paths) >= expect or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    failures = [e for e in live.ws.store.events_for() if e.kind == "confirmation_failed"]
    assert failures == []
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in paths
    ]


def _link(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = re.search(r"https://news\.example\.org(/confirm/\S+)", body.get_content())
    assert found is not None
    return found.group(1)


def test_double_opt_in_from_a_form_to_an_active_subscription(live: Running) -> None:
    response = live.client.post(
        "/subscribe", data={"email": "New.Reader@Example.org", "name": "New", "list": "readers"}
    )
    assert response.status_code == 202
    store = live.ws.store
    list_id = store.list_id("readers")
    assert list_id is not None
    row = store.subscriber_by_email("new.reader@example.org")
    assert row is not None
    assert store.membership_status(list_id, row.id) == "pending"
    [message] = _outbox(live, 1)
    assert message["To"] == "New <new.reader@example.org>"
    assert message["Subject"] == "Please confirm your subscription"
    html = message.get_body(("html",))
    assert html is not None and "/confirm/" in html.get_content()
    path = _link(message)
    page = live.client.get(path)  # a link scanner, or the reader's first look
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert store.membership_status(list_id, row.id) == "pending"
    confirmed = live.client.post(path)
    assert confirmed.status_code == 200
    assert store.membership_status(list_id, row.id) == "active"
    [membership] = store.memberships_of(row.id)
    assert membership.confirmed_at is not None
    assert live.client.post(path).status_code == 200  # twice is harmless


def test_a_colon_or_quotes_in_a_name_cannot_break_the_confirmation(live: Running) -> None:
    name = 'Mallory: "admin", Esq. <root@example.org>'
    response = live.client.post(
        "/subscribe", data={"email": "mallory@example.org", "name": name, "list": "readers"}
    )
    assert response.status_code == 202
    [message] = _outbox(live, 1)
    [to] = message["To"].addresses
    assert to.addr_spec == "mallory@example.org"
    assert to.display_name in ("", name)  # the name, whole, if the confirmation shows it
    assert message["Subject"] == "Please confirm your subscription"
    assert not message.defects and "/confirm/" in _link(message)


def test_json_sign_up_answers_the_same_whatever_the_address(live: Running) -> None:
    store = live.ws.store
    list_id = store.ensure_list("readers", "R")
    store.upsert_subscriber(list_id, "active@example.org")
    store.upsert_subscriber(list_id, "left@example.org")
    left = store.subscriber_by_email("left@example.org")
    assert left is not None
    store.set_membership_status(list_id, left.id, "unsubscribed")
    store.suppress("bounced@example.org", "hard bounce")
    answers = []
    for address in (
        "fresh@example.org",
        "active@example.org",
        "left@example.org",
        "bounced@example.org",
        "fresh@example.org",
    ):
        response = live.client.post(
            "/subscribe",
            json={"email": address, "list": "readers"},
            headers={"X-Forwarded-For": address},  # ignored: not behind a trusted proxy
        )
        answers.append((response.status_code, response.content))
    # new, active, unsubscribed, suppressed: one answer; then the client's burst (4) is spent
    assert answers[:4] == [answers[0]] * 4
    assert answers[0][0] == 202
    assert answers[4][0] == 429
    # nobody who left was put back without confirming, the suppressed one got nothing
    assert store.membership_status(list_id, left.id) == "unsubscribed"
    recipients = sorted(str(m["To"]) for m in _outbox(live, 2))
    assert recipients == ["fresh@example.org", "left@example.org"]


def test_sign_up_without_double_opt_in_is_active_at_once(live: Running) -> None:
    response = live.client.post("/subscribe", json={"email": "a@example.org", "list": "open"})
    assert response.status_code == 202
    store = live.ws.store
    row = store.subscriber_by_email("a@example.org")
    list_id = store.list_id("open")
    assert row is not None and list_id is not None
    assert store.membership_status(list_id, row.id) == "active"
    assert _outbox(live) == []


def test_bad_requests(live: Running) -> None:
    assert live.client.post("/subscribe", json={"email": "nope", "list": "open"}).status_code == 422
    assert (
        live.client.post(
            "/subscribe", json={"email": "a@example.org", "list": "closed"}
        ).status_code
        == 404
    )
    assert live.client.post("/subscribe", json=["a"]).status_code == 400
    assert live.client.get("/subscribe", params={"list": "closed"}).status_code == 404
    form = live.client.get("/subscribe", params={"list": "readers"})
    assert form.status_code == 200 and 'type="email"' in form.text


def test_control_characters_in_a_field_are_a_400_and_store_nothing(live: Running) -> None:
    cases = [
        ("form", {"email": "nul@example.org", "name": "N\x00ul", "list": "readers"}, "name"),
        ("json", {"email": "esc@example.org", "name": "E\x1b[2Jsc", "list": "readers"}, "name"),
        ("json", {"email": "bad\x00@example.org", "list": "readers"}, "email"),
        ("form", {"email": "nel@example.org", "name": "Ne\x85l", "list": "open"}, "name"),
    ]
    for kind, fields, field in cases:
        if kind == "form":
            response = live.client.post("/subscribe", data=fields)
        else:
            response = live.client.post("/subscribe", json=fields)
        assert response.status_code == 400, (fields, response.text)
        if kind == "json":
            assert f"the {field} field holds a control character" in response.json()["error"]
    assert live.ws.store.events_for() == []
    for address in ("nul@example.org", "esc@example.org", "nel@example.org"):
        assert live.ws.store.subscriber_by_email(address) is None


def test_deeply_nested_json_is_a_400_not_a_500(live: Running) -> None:
    """Ten thousand levels broke the parser's stack (a 500); forty are more than any client
    sends. Four requests: the sign-up limit's burst."""
    head = b'{"email": "deep@example.org", "list": "open", "name": '
    for depth in (100_000, 40):
        response = live.client.post(
            "/subscribe",
            content=head + b"[" * depth + b"]" * depth + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, depth
        assert response.json()["error"] == "the JSON body is nested too deeply"
    assert live.ws.store.subscriber_by_email("deep@example.org") is None
    fine = live.client.post("/subscribe", json={"email": "deep@example.org", "list": "open"})
    assert fine.status_code == 202


def test_expired_and_forged_confirmation_links(live: Running) -> None:
    live.client.post("/subscribe", json={"email": "late@example.org", "list": "readers"})
    path = _link(_outbox(live, 1)[0])
    store = live.ws.store
    row = store.subscriber_by_email("late@example.org")
    list_id = store.list_id("readers")
    assert row is not None and list_id is not None
    assert live.client.post(path[:-4]).status_code == 400
    other = live.ws.signer.unsubscribe_token(row.id, list_id)
    assert live.client.post(f"/confirm/{other}").status_code == 400
    # the list's window is 2h; three hours later the genuine link has expired (410, not 400)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=3), tick=True):
        assert live.client.get(path).status_code == 410
        assert live.client.post(path).status_code == 410
    assert store.membership_status(list_id, row.id) == "pending"
    assert live.client.post(path).status_code == 200  # within the window it works


def test_signup_form_page_escapes_what_it_shows(live: Running) -> None:
    response = live.client.post(
        "/subscribe", data={"email": "<script>alert(1)</script>", "list": "readers"}
    )
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in response.text
