"""The Starlette app that `digest web` and `digest serve` run, assembled from its route groups.

    front.py         GET /, GET /subscribe/{list}          (the digests that take sign-ups)
    signup.py        POST /subscribe, GET/POST /confirm/{token}
    unsubscribe.py   GET/POST /unsubscribe/{token}        (RFC 8058 one-click)
    preferences.py   GET/POST /preferences/{token}        (a subscriber's lists, leave, pause)
    views.py         GET /issues/{token}                   ("view in your browser")
    webhooks/        POST /webhooks/{provider}             (bounces, complaints, unsubscribes)
    auth.py          GET/POST /desk/login, POST /desk/logout (sessions, the role check)
    desk.py          /desk/...: the editors' desk (every page needs a login)
    console.py       /desk/lists, subscribers, sources: the operators' console
    archive.py       GET /archive/{digest}/, its issues' web editions, feed.atom
    health.py        GET /healthz, GET /metrics                (monitoring)
    middleware.py    body limit, client address, errors -> pages or JSON

GETs never change anything, so link scanners that follow every link in a message neither
unsubscribe nor confirm anybody. Tokens are signed (digest/tokens.py) and name no address.
"""

from __future__ import annotations

import logging
import re

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from digest.errors import DigestError, RequestError
from digest.web.archive import ArchiveRoutes
from digest.web.auth import (
    SESSION_COOKIE,
    SESSION_HOURS,
    AuthRoutes,
    LoginRequired,
    login_redirect,
)
from digest.web.console import UPLOAD_PATH, ConsoleRoutes
from digest.web.desk import DeskRoutes
from digest.web.front import FrontRoutes
from digest.web.health import HealthRoutes, Liveness
from digest.web.logs import hide_tokens_in_logs
from digest.web.middleware import BodyLimit, ProtectForms, error_response, wants_json
from digest.web.preferences import PreferencesRoutes
from digest.web.signup import SignupRoutes
from digest.web.site import Site
from digest.web.unsubscribe import UnsubscribeRoutes
from digest.web.views import IssueViews
from digest.web.webhooks import WebhookRoutes
from digest.workspace import Workspace

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(ws: Workspace, *, liveness: Liveness | None = None) -> Starlette:
    """The web app over a workspace; the scheduler service mounts the same one, with its
    `liveness` (the scheduler's and the sender's) for /healthz."""
    base = ws.config.web.base_url
    if not base.startswith("https://") and "127.0.0.1" not in base and "localhost" not in base:
        log.warning("web.base_url %s is not https: RFC 8058 one-click needs an https URL", base)
    hide_tokens_in_logs()
    site = Site(ws)
    routes = HealthRoutes(site, liveness).routes()
    groups = (
        FrontRoutes,
        SignupRoutes,
        UnsubscribeRoutes,
        PreferencesRoutes,
        WebhookRoutes,
        IssueViews,
        AuthRoutes,
        DeskRoutes,
        ConsoleRoutes,
        ArchiveRoutes,
    )
    for group in groups:
        routes.extend(group(site).routes())

    async def digest_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, LoginRequired):
            return login_redirect(exc)
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
    secure = base.startswith("https://")
    app.add_middleware(
        SessionMiddleware,
        secret_key=ws.signer.derive("desk-session"),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_HOURS * 3600,
        path="/desk",
        same_site="lax",
        https_only=secure,
    )
    # multipart forms whose handlers check the CSRF token themselves: CSV uploads, sign-ups
    multipart = re.compile(rf"{UPLOAD_PATH.pattern}|/subscribe")
    app.add_middleware(
        ProtectForms, secret=ws.signer.derive("csrf"), secure=secure, uploads=multipart
    )
    app.add_middleware(
        BodyLimit,
        limit=ws.config.web.max_body_bytes,
        uploads=(UPLOAD_PATH, ws.config.web.max_upload_bytes),
    )
    return app
