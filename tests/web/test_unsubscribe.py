"""RFC 8058 one-click unsubscribe and the footer link, over real HTTP against the live app."""

from __future__ import annotations

from digest.models import DeliveryStatus
from tests.web.conftest import Running


def _member(
    live: Running, email: str = "ada@example.org", list_name: str = "open"
) -> tuple[int, int]:
    store = live.ws.store
    list_id = store.ensure_list(list_name, "Open List")
    store.upsert_subscriber(list_id, email, name="Ada")
    row = store.subscriber_by_email(email)
    assert row is not None
    return row.id, list_id


def test_one_click_post_unsubscribes_at_once_and_is_idempotent(live: Running) -> None:
    subscriber_id, list_id = _member(live)
    token = live.ws.signer.unsubscribe_token(subscriber_id, list_id)
    # exactly what Gmail sends: no cookie, no auth, urlencoded, 26 bytes
    response = live.client.post(
        f"/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert "location" not in response.headers
    assert live.ws.store.membership_status(list_id, subscriber_id) == "unsubscribed"
    again = live.client.post(
        f"/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert again.status_code == 200
    unsubscribes = [
        e for e in live.ws.store.events_for("ada@example.org") if e.kind == "unsubscribe"
    ]
    assert len(unsubscribes) == 1  # recorded once, the second POST changed nothing
    assert unsubscribes[0].payload["list_id"] == list_id


def test_multipart_one_click_is_accepted(live: Running) -> None:
    subscriber_id, list_id = _member(live)
    token = live.ws.signer.unsubscribe_token(subscriber_id, list_id)
    response = live.client.post(
        f"/unsubscribe/{token}", files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert response.status_code == 200
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    assert live.ws.store.membership_status(list_id, subscriber_id) == "unsubscribed"


def test_get_shows_a_button_and_changes_nothing(live: Running) -> None:
    subscriber_id, list_id = _member(live)
    token = live.ws.signer.unsubscribe_token(subscriber_id, list_id)
    for _ in range(3):  # a link scanner following the link, repeatedly
        page = live.client.get(f"/unsubscribe/{token}")
        assert page.status_code == 200
    assert live.ws.store.membership_status(list_id, subscriber_id) == "active"
    html = page.text
    assert '<form method="post">' in html
    assert 'name="List-Unsubscribe" value="One-Click"' in html
    assert "a***@example.org" in html and "ada@example.org" not in html
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'name="viewport"' in html
    # the page's own button posts exactly the one-click body
    clicked = live.client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert clicked.status_code == 200
    assert live.ws.store.membership_status(list_id, subscriber_id) == "unsubscribed"


def test_forged_truncated_and_tampered_tokens_change_nothing(live: Running) -> None:
    subscriber_id, list_id = _member(live)
    token = live.ws.signer.unsubscribe_token(subscriber_id, list_id)
    other_id, _ = _member(live, "grace@example.org")
    forged_by_other_key = __import__("digest.tokens").tokens.LinkSigner("not-the-key")
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    candidates = [
        token[:-5],
        tampered,
        forged_by_other_key.unsubscribe_token(subscriber_id, list_id),
        live.ws.signer.issue_token(subscriber_id),  # a valid token of another kind
        "x",
    ]
    for bad in candidates:
        for method in ("get", "post"):
            response = live.client.request(
                method.upper(),
                f"/unsubscribe/{bad}",
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert 400 <= response.status_code < 500, (bad, method)
    assert live.ws.store.membership_status(list_id, subscriber_id) == "active"
    assert live.ws.store.membership_status(list_id, other_id) == "active"
    assert live.ws.store.events_for() == []


def test_post_without_the_one_click_body_is_refused(live: Running) -> None:
    subscriber_id, list_id = _member(live)
    token = live.ws.signer.unsubscribe_token(subscriber_id, list_id)
    for body in (b"", b"List-Unsubscribe=Yes", b"foo=bar"):
        response = live.client.post(
            f"/unsubscribe/{token}",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 400
    assert live.ws.store.membership_status(list_id, subscriber_id) == "active"


def test_token_names_no_address(live: Running) -> None:
    import base64

    subscriber_id, list_id = _member(live)
    token = live.ws.signer.unsubscribe_token(subscriber_id, list_id)
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"ada" not in decoded and b"example" not in decoded


def test_unsubscribed_reader_is_skipped_by_a_frozen_issue(live: Running) -> None:
    store = live.ws.store
    subscriber_id, list_id = _member(live)
    _member(live, "grace@example.org")
    issue_id = store.claim_issue("weekly", "2026-W48", "test")
    assert issue_id is not None
    store.save_draft(issue_id, subject="S", html="<p>h</p>", text="t", content={}, report={})
    store.freeze_issue(issue_id, "weekly", list_id, [])
    token = live.ws.signer.unsubscribe_token(subscriber_id, list_id)
    live.client.post(
        f"/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    from datetime import timedelta

    claimed = store.claim_batch(issue_id, list_id, "t", 10, timedelta(minutes=5))
    assert [row.email for row in claimed] == ["grace@example.org"]
    counts = store.delivery_counts(issue_id)
    assert counts.get(DeliveryStatus.SKIPPED) == 1


def test_oversized_body_gets_413(live: Running) -> None:
    subscriber_id, list_id = _member(live)
    token = live.ws.signer.unsubscribe_token(subscriber_id, list_id)
    big = b"List-Unsubscribe=One-Click&pad=" + b"x" * (2 * 1024 * 1024)
    response = live.client.post(
        f"/unsubscribe/{token}",
        content=big,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413

    def chunks():  # no Content-Length: the limit still holds
        for _ in range(40):
            yield b"x" * 65536

    response = live.client.post("/webhooks/postmark", content=chunks())
    assert response.status_code == 413
    assert live.ws.store.membership_status(list_id, subscriber_id) == "active"
