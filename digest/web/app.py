"""The Starlette app that `digest web` and `digest serve` run, assembled from its route groups.

    signup.py        GET/POST /subscribe, GET/POST /confirm/{token}
    unsubscribe.py   GET/POST /unsubscribe/{token}        (RFC 8058 one-click)
    views.py         GET /issues/{token}                   ("view in your browser")
    webhooks/        POST /webhooks/{provider}             (bounces, complaints, unsubscribes)
    middleware.py    body limit, client address, errors -> pages or JSON
                     GET /healthz

GETs never change anything, so link scanners that follow every link in a message neither
unsubscribe nor confirm anybody. Tokens are signed (digest/tokens.py) and name no address.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from digest.errors import DigestError, RequestError
from digest.web.logs import hide_tokens_in_logs
from digest.web.middleware import BodyLimit, error_response, wants_json
from digest.web.signup import SignupRoutes
from digest.web.site import Site
from digest.web.unsubscribe import UnsubscribeRoutes
from digest.web.views import IssueViews
from digest.web.webhooks import WebhookRoutes
from digest.workspace import Workspace

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(ws: Workspace) -> Starlette:
    """The web app over a workspace; the scheduler service mounts the same one."""
    base = ws.config.web.base_url
    if not base.startswith("https://") and "127.0.0.1" not in base and "localhost" not in base:
        log.warning("web.base_url %s is not https: RFC 8058 one-click needs an https URL", base)
    hide_tokens_in_logs()
    site = Site(ws)
    routes = [Route("/healthz", _health, methods=["GET"])]
    for group in (SignupRoutes, UnsubscribeRoutes, WebhookRoutes, IssueViews):
        routes.extend(group(site).routes())

    async def digest_error(request: Request, exc: Exception) -> Response:
        return error_response(site.pages, request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if wants_json(request):
            return JSONResponse({"error": exc.detail}, exc.status_code)
        return error_response(site.pages, request, RequestError(exc.status_code, exc.detail))

    app = Starlette(
        routes=routes,
        exception_handlers={DigestError: digest_error, HTTPException: http_error},
    )
    app.state.site = site
    app.add_middleware(BodyLimit, limit=ws.config.web.max_body_bytes)
    return app
