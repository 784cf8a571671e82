"""Logging in to the desk: signed session cookies, the login form, and the role check.

    GET  /desk/login     the form             POST /desk/login    name and password
    POST /desk/logout    ends the session

A session is a signed, HttpOnly, SameSite=Lax cookie holding the user's id and when they
logged in; it expires after `SESSION_HOURS`, and a password change ends every session made
before it. Login attempts are limited per account and per client address. Pages call
`require_user(request, role)`: anonymous visitors go to the login page, users without the role
get a 403 page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.accounts import verify_login
from digest.errors import RequestError
from digest.models import Role
from digest.store import UserRow
from digest.web.middleware import ClientLimiter, csrf_token
from digest.web.site import Site

__all__ = [
    "SESSION_COOKIE",
    "SESSION_HOURS",
    "AuthRoutes",
    "Forbidden",
    "LoginRequired",
    "current_user",
    "desk_page",
    "require_user",
]

SESSION_COOKIE = "digest_desk"
SESSION_HOURS = 12


class LoginRequired(RequestError):
    """No valid session: the visitor is sent to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(303, "log in first")
        self.next_path = next_path


class Forbidden(RequestError):
    def __init__(self, needed: Role) -> None:
        super().__init__(403, f"this page needs the {needed} role")


def current_user(site: Site, request: Request) -> UserRow | None:
    """The logged-in user, or None (no session, an expired one, or one from before the last
    password change, or a user since removed)."""
    session = request.session
    user_id, since = session.get("uid"), session.get("at")
    if not isinstance(user_id, int) or not isinstance(since, int | float):
        return None
    if time.time() - since > SESSION_HOURS * 3600:
        return None
    user = site.store.user_by_id(user_id)
    if user is None or since < user.password_changed_at.timestamp():
        return None
    return user


def require_user(site: Site, request: Request, role: Role = Role.EDITOR) -> UserRow:
    user = current_user(site, request)
    if user is None:
        raise LoginRequired(request.url.path)
    if not user.role.allows(role):
        raise Forbidden(role)
    return user


def desk_page(
    role: Role = Role.EDITOR,
) -> Callable[[Callable[..., Awaitable[Response]]], Callable[..., Awaitable[Response]]]:
    """Decorate a desk handler method `(self, request, user)`: the role check happens first."""

    def wrap(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
        async def checked(self: object, request: Request) -> Response:
            site: Site = self.site  # type: ignore[attr-defined]
            user = await asyncio.to_thread(require_user, site, request, role)
            return await handler(self, request, user)

        checked.__name__ = handler.__name__
        checked.__doc__ = handler.__doc__
        return checked

    return wrap


def _safe_next(value: str | None) -> str:
    """Only a desk path of this site: never an absolute URL (no open redirect)."""
    if value and value.startswith("/desk/") and "//" not in value and "\\" not in value:
        return value
    return "/desk/"


class AuthRoutes:
    def __init__(self, site: Site) -> None:
        self.site = site
        # A person types a password a few times a minute at most; a guesser would like more.
        self.per_client = ClientLimiter(per_minute=10, burst=10)
        self.per_account = ClientLimiter(per_minute=5, burst=10)

    def routes(self) -> list[Route]:
        return [
            Route("/desk/login", self.login_page, methods=["GET"]),
            Route("/desk/login", self.login, methods=["POST"]),
            Route("/desk/logout", self.logout, methods=["POST"]),
        ]

    async def login_page(self, request: Request) -> Response:
        return self.site.pages.page(
            "desk/login.html",
            next=_safe_next(request.query_params.get("next")),
            error=None,
            csrftoken=csrf_token(request),
        )

    async def login(self, request: Request) -> Response:
        form = await request.form()
        name = str(form.get("name", ""))[:100].strip()
        password = str(form.get("password", ""))[:1024]
        next_path = _safe_next(str(form.get("next", "")))
        wait = max(
            self.per_client.allow(self.site.client(request)),
            self.per_account.allow(f"account:{name.lower()}"),
        )
        if wait:
            return self._form_again(request, next_path, 429, "Too many attempts. Wait a minute.")
        user = await asyncio.to_thread(verify_login, self.site.store, name, password)
        if user is None:
            return self._form_again(request, next_path, 401, "Wrong name or password.")
        request.session.clear()
        request.session.update({"uid": user.id, "at": time.time()})
        return RedirectResponse(next_path, 303)

    def _form_again(self, request: Request, next_path: str, status: int, error: str) -> Response:
        return self.site.pages.page(
            "desk/login.html", status, next=next_path, error=error, csrftoken=csrf_token(request)
        )

    async def logout(self, request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/desk/login", 303)


def login_redirect(exc: LoginRequired) -> Response:
    return RedirectResponse(f"/desk/login?next={quote(exc.next_path)}", 303)
