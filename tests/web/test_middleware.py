"""Errors reach visitors the same way on every route: the error page, or JSON for API clients."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from starlette.requests import Request
from starlette.routing import Route

from digest.errors import DigestError, RequestError, StoreError, UsageError
from digest.web import create_app
from digest.workspace import Workspace


def _raising(exc: DigestError) -> Callable[[Request], object]:
    async def handler(request: Request) -> object:
        raise exc

    return handler


@pytest.fixture
def client(make_ws: Callable[..., Workspace]) -> httpx.AsyncClient:
    app = create_app(make_ws())
    for path, exc in (
        ("/usage", UsageError("no such list")),
        ("/store", StoreError("database password: hunter2")),
        ("/gone", RequestError(410, "expired")),
    ):
        app.router.routes.append(Route(path, _raising(exc)))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [("/usage", 400, "no such list"), ("/gone", 410, "expired")],
)
async def test_json_clients_get_the_status_and_reason(
    client: httpx.AsyncClient, path: str, status: int, reason: str
) -> None:
    answer = await client.get(path, headers={"Accept": "application/json"})
    assert answer.status_code == status
    assert answer.json() == {"error": reason}


async def test_browsers_get_the_error_page_with_security_headers(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/gone", headers={"Accept": "text/html"})
    assert answer.status_code == 410
    assert "This link has expired" in answer.text
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]


async def test_server_side_failures_say_nothing_of_their_cause(
    client: httpx.AsyncClient,
) -> None:
    for accept in ("application/json", "text/html"):
        answer = await client.get("/store", headers={"Accept": accept})
        assert answer.status_code == 503
        assert "hunter2" not in answer.text


async def test_unknown_paths_are_404_pages(client: httpx.AsyncClient) -> None:
    answer = await client.get("/no/such/page")
    assert answer.status_code == 404
    assert "This link is not valid" in answer.text
