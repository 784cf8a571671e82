"""Sign-up with double opt-in, over real HTTP or through the app in this process; the
confirmations are read from the outbox they are sent through."""

from __future__ import annotations

import email
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import httpx
import pytest
import time_machine

from digest.store import open_store
from digest.web import create_app
from digest.workspace import Workspace
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
    assert message["To"] == "new.reader@example.org"  # no name: nothing the requester typed
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


# -- limits: what one address receives, whoever asks (issue 13.6) -----------------------------


def _sent(ws: Workspace) -> list[email.message.EmailMessage]:
    """The confirmation messages the outbox transport has written, oldest first."""
    folder = Path(str(ws.config.providers["outbox"].directory))
    paths = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in (paths if folder.exists() else [])
    ]


def _client(
    ws: Workspace, peer: str = "192.0.2.10", base: str = "https://news.example.org"
) -> httpx.AsyncClient:
    """Requests through the app in this process, from `peer` (background tasks, the
    confirmation included, have run when a request returns)."""
    transport = httpx.ASGITransport(app=create_app(ws), client=(peer, 40_000))
    return httpx.AsyncClient(transport=transport, base_url=base)


async def _sign_up(ws: Workspace, peer: str, address: str = "victim@example.org") -> httpx.Response:
    async with _client(ws, peer) as client:
        return await client.post("/subscribe", json={"email": address, "list": "readers"})


async def test_an_address_gets_one_confirmation_an_hour_and_three_a_day_whoever_asks(
    make_ws: Callable[..., Workspace], home: Path
) -> None:
    ws = make_ws()
    start = datetime.now(UTC)
    # three clients in the same minute (each under its own limit): one message
    answers = [await _sign_up(ws, peer) for peer in ("192.0.2.1", "198.51.100.2", "2001:db8::3")]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.content for a in answers}) == 1  # over the limit answers the same
    assert len(_sent(ws)) == 1
    # hours later, each from a new client: one an hour, three in 24 hours
    for hours, total in ((0.5, 1), (1.1, 2), (2.2, 3), (3.3, 3), (23, 3), (24.6, 4)):
        with time_machine.travel(start + timedelta(hours=hours), tick=True):
            answer = await _sign_up(ws, f"203.0.113.{int(hours * 10)}")
            assert (answer.status_code, answer.content) == (202, answers[0].content)
        assert len(_sent(ws)) == total, hours
    # counted in the store: another process (a restart) on the same database sends nothing
    with time_machine.travel(start + timedelta(hours=24.7), tick=True):
        restarted = make_ws(store=open_store(None, home))
        assert (await _sign_up(restarted, "198.51.100.99")).status_code == 202
    assert len(_sent(ws)) == 4
    assert {str(m["To"]) for m in _sent(ws)} == {"victim@example.org"}
    # the limit is per address: another one is not held back by this one's
    assert (await _sign_up(ws, "192.0.2.1", "other@example.org")).status_code == 202
    assert len(_sent(ws)) == 5


async def test_the_confirmation_carries_nothing_the_requester_typed(
    make_ws: Callable[..., Workspace],
) -> None:
    ws = make_ws()
    typed = "Claim your prize at spam.example.net"
    async with _client(ws) as client:
        answer = await client.post(
            "/subscribe", data={"email": "victim@example.org", "name": typed, "list": "readers"}
        )
    assert answer.status_code == 202
    [message] = _sent(ws)
    assert message["To"] == "victim@example.org"
    parts = [message.get_body((kind,)) for kind in ("plain", "html")]
    texts = [str(part.get_content()) for part in parts if part is not None]
    assert len(texts) == 2 and all("/confirm/" in text for text in texts)
    assert not any("spam.example" in text or "Claim" in text for text in texts)
    assert "spam.example" not in "".join(f"{k}: {v}" for k, v in message.items())


# -- the client's address behind a proxy (issue 13.6) -----------------------------------------


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "client"),
    [
        # no proxy configured: the header is anyone's to write, and ignored
        ("", "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # a peer that is not a listed proxy: ignored as well
        ('"10.0.0.0/8"', "203.0.113.9", "198.51.100.1", "203.0.113.9"),
        # from the proxy: the right-most hop it did not add itself; the left one is forged
        ('"10.0.0.0/8"', "10.1.2.3", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        # two proxies in a row, one named by address
        (
            '"10.0.0.0/8", "192.0.2.7"',
            "10.1.2.3",
            "6.6.6.6, 198.51.100.1, 192.0.2.7",
            "198.51.100.1",
        ),
        # a proxy that sent no header, or a hop that is no address: the last trusted hop
        ('"10.0.0.0/8"', "10.1.2.3", "", "10.1.2.3"),
        ('"10.0.0.0/8"', "10.1.2.3", "<script>, 10.9.9.9", "10.9.9.9"),
        # ports and brackets as some proxies write them
        ('"10.0.0.0/8"', "10.1.2.3", "[2001:db8::5]:443", "2001:db8::5"),
        ('"::1"', "::1", "198.51.100.4:51234", "198.51.100.4"),
    ],
)
async def test_the_client_behind_a_trusted_proxy_is_the_right_most_untrusted_hop(
    make_ws: Callable[..., Workspace], trusted: str, peer: str, forwarded: str, client: str
) -> None:
    ws = make_ws(web=f"trusted_proxies = [{trusted}]")
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    async with _client(ws, peer) as http:
        answer = await http.post(
            "/subscribe", json={"email": "a@example.org", "list": "open"}, headers=headers
        )
    assert answer.status_code == 202
    row = ws.store.subscriber_by_email("a@example.org")
    assert row is not None
    [membership] = ws.store.memberships_of(row.id)
    assert membership.consent_ip == client  # single opt-in keeps the address it came from


async def test_a_client_behind_the_proxy_cannot_escape_its_limit_by_forging_hops(
    make_ws: Callable[..., Workspace],
) -> None:
    ws = make_ws(web='trusted_proxies = ["10.0.0.0/8"]')
    statuses = []
    async with _client(ws, "10.0.0.2") as http:
        for n in range(5):  # the client's burst is 4
            answer = await http.post(
                "/subscribe",
                json={"email": f"r{n}@example.org", "list": "open"},
                headers={"X-Forwarded-For": f"6.6.6.{n}, 198.51.100.1"},
            )
            statuses.append(answer.status_code)
        other = await http.post(
            "/subscribe",
            json={"email": "r9@example.org", "list": "open"},
            headers={"X-Forwarded-For": "198.51.100.2"},
        )
    assert statuses == [202, 202, 202, 202, 429]
    assert other.status_code == 202  # another client behind the same proxy has its own


# -- consent (issue 13.7) ---------------------------------------------------------------------


async def test_a_list_that_says_nothing_takes_double_opt_in(
    make_ws: Callable[..., Workspace],
) -> None:
    ws = make_ws(
        extra='[lists.plain]\ntitle = "Plain"\nconfirm_provider = "outbox"\n'
        'confirm_from = "Plain <plain@news.example.org>"\n'
    )
    assert ws.config.lists["plain"].double_opt_in
    async with _client(ws) as client:
        answer = await client.post("/subscribe", json={"email": "p@example.org", "list": "plain"})
    assert answer.status_code == 202
    assert answer.json()["message"] == "Thank you. Please check your inbox to confirm."
    row = ws.store.subscriber_by_email("p@example.org")
    list_id = ws.store.list_id("plain")
    assert row is not None and list_id is not None
    assert ws.store.membership_status(list_id, row.id) == "pending"
    assert [str(m["To"]) for m in _sent(ws)] == ["p@example.org"]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",  # what a form on another site may post without asking
        "text/plain; charset=json",
        "application/json-patch+json",
        "application/jsonx",
        "text/json",
        None,
    ],
)
async def test_a_sign_up_in_another_encoding_is_415(
    make_ws: Callable[..., Workspace], content_type: str | None
) -> None:
    ws = make_ws()
    headers = {"Content-Type": content_type} if content_type else {}
    async with _client(ws) as client:
        answer = await client.post(
            "/subscribe",
            content=b'{"email": "a@example.org", "list": "readers"}',
            headers=headers,
        )
    assert answer.status_code == 415
    assert ws.store.subscriber_by_email("a@example.org") is None
    assert _sent(ws) == []


async def test_forms_and_exactly_json_are_accepted(make_ws: Callable[..., Workspace]) -> None:
    ws = make_ws()
    async with _client(ws) as client:
        answers = [
            await client.post("/subscribe", data={"email": "u@example.org", "list": "open"}),
            await client.post(
                "/subscribe", data={"email": "m@example.org", "list": "open"}, files={"x": b""}
            ),
            await client.post(
                "/subscribe",
                content=b'{"email": "j@example.org", "list": "open"}',
                headers={"Content-Type": "Application/JSON; charset=utf-8"},
            ),
        ]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert answers[1].request.headers["content-type"].startswith("multipart/form-data")
    for address in ("u@example.org", "m@example.org", "j@example.org"):
        assert ws.store.subscriber_by_email(address) is not None


async def test_a_multipart_form_from_a_browser_with_the_cookie_needs_its_token(
    make_ws: Callable[..., Workspace],
) -> None:
    ws = make_ws()
    async with _client(ws) as client:
        page = await client.get("/subscribe/open")
        found = re.search(r'name="csrftoken" value="([^"]+)"', page.text)
        assert found is not None and client.cookies.get("csrftoken")
        fields = {"email": "mp@example.org", "list": "open"}
        refused = await client.post("/subscribe", data=fields, files={"x": b""})
        assert refused.status_code == 403
        assert refused.request.headers["cookie"].startswith("csrftoken=")
        assert ws.store.subscriber_by_email("mp@example.org") is None
        fields["csrftoken"] = found.group(1)
        accepted = await client.post("/subscribe", data=fields, files={"x": b""})
    assert accepted.status_code == 202
    assert ws.store.subscriber_by_email("mp@example.org") is not None


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        (None, 202),  # not a browser, or one that sends none: no other site can steer it
        ("https://news.example.org", 202),  # web.base_url
        ("https://NEWS.example.org:443", 202),
        ("http://digest.internal:8080", 202),  # the host the request was sent to
        ("https://evil.example", 403),
        ("https://news.example.org.evil.example", 403),
        ("http://news.example.org", 403),  # another scheme is another origin
        ("https://news.example.org:8443", 403),
        ("null", 403),  # a sandboxed frame, a file
        ("garbage", 403),
    ],
)
async def test_a_cross_site_origin_is_refused(
    make_ws: Callable[..., Workspace], origin: str | None, status: int
) -> None:
    ws = make_ws()
    headers = {"Origin": origin} if origin else {}
    async with _client(ws, base="http://digest.internal:8080") as client:
        form = await client.post(
            "/subscribe", data={"email": "f@example.org", "list": "readers"}, headers=headers
        )
        api = await client.post(
            "/subscribe", json={"email": "j@example.org", "list": "readers"}, headers=headers
        )
    assert (form.status_code, api.status_code) == (status, status)
    stored = [ws.store.subscriber_by_email(a) for a in ("f@example.org", "j@example.org")]
    if status == 403:
        assert stored == [None, None] and _sent(ws) == []
        assert api.json() == {"error": "sign up from this site's own pages"}
    else:
        assert None not in stored and len(_sent(ws)) == 2


@pytest.mark.parametrize(
    ("fetch_site", "status"),
    [("same-origin", 202), ("cross-site", 403), ("same-site", 403), (None, 403)],
)
async def test_origin_null_counts_only_where_the_browser_says_same_origin(
    make_ws: Callable[..., Workspace], fetch_site: str | None, status: int
) -> None:
    """A page under no-referrer posts `Origin: null`, its own site included; Sec-Fetch-Site
    is the browser's word, which no page can set."""
    ws = make_ws()
    headers = {"Origin": "null"} | ({"Sec-Fetch-Site": fetch_site} if fetch_site else {})
    async with _client(ws) as client:
        answer = await client.post(
            "/subscribe", data={"email": "n@example.org", "list": "readers"}, headers=headers
        )
    assert answer.status_code == status
    assert (ws.store.subscriber_by_email("n@example.org") is not None) == (status == 202)


async def test_pages_with_the_sign_up_form_send_their_origin_with_it(
    make_ws: Callable[..., Workspace],
) -> None:
    """Under no-referrer a browser posts `Origin: null` even to the form's own site (Chromium
    did, and the sign-up was refused); same-origin still gives other sites no referrer."""
    ws = make_ws()
    async with _client(ws) as client:
        pages = [
            await client.get(path)
            for path in ("/", "/subscribe/readers", "/subscribe?list=readers")
        ]
        confirm = await client.get("/confirm/forged.token")
    async with _client(ws) as client:  # no CSRF cookie: an API client
        invalid = await client.post("/subscribe", data={"email": "x", "list": "readers"})
    assert [p.status_code for p in pages] == [200, 200, 200] and invalid.status_code == 422
    assert {p.headers["referrer-policy"] for p in [*pages, invalid]} == {"same-origin"}
    assert confirm.headers["referrer-policy"] == "no-referrer"  # a token in its URL
