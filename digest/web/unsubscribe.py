"""One-click unsubscribe (RFC 8058): a page with a button, and the POST that mail clients send.

GETs never change anything, so link scanners that follow every link in a message unsubscribe
nobody. The token is signed and names no address; a forged one gets a 400 and changes nothing.

    GET  /unsubscribe/{token}    the page with a button
    POST /unsubscribe/{token}    List-Unsubscribe=One-Click: no cookie, no login, no redirect
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.models import MembershipStatus
from digest.web.middleware import csrf_token
from digest.web.site import Site

__all__ = ["ONE_CLICK", "UnsubscribeRoutes", "mask"]

log = logging.getLogger(__name__)

ONE_CLICK = "List-Unsubscribe=One-Click"


class UnsubscribeRoutes:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/unsubscribe/{token}", self.unsubscribe_page, methods=["GET"]),
            Route("/unsubscribe/{token}", self.unsubscribe, methods=["POST"]),
        ]

    async def unsubscribe_page(self, request: Request) -> Response:
        found = self.site.signer.read_unsubscribe_token(request.path_params["token"])
        if found is None:
            return self.site.pages.invalid()
        subscriber_id, list_id = found
        title, _ = self.site.list_title(list_id)
        subscriber = await asyncio.to_thread(self.site.store.subscriber_by_id, subscriber_id)
        status = await asyncio.to_thread(self.site.store.membership_status, list_id, subscriber_id)
        return self.site.pages.page(
            "unsubscribe.html",
            csrftoken=csrf_token(request),
            title=title,
            who=mask(subscriber.email) if subscriber else None,
            already=status in MembershipStatus.INACTIVE,
            one_click=ONE_CLICK,
        )

    async def unsubscribe(self, request: Request) -> Response:
        """RFC 8058 one-click: no cookie, no login, no redirect; idempotent; 200."""
        found = self.site.signer.read_unsubscribe_token(request.path_params["token"])
        if found is None:
            return self.site.pages.invalid()
        if not await _is_one_click(request):
            return self.site.pages.page("invalid.html", 400, reason="one_click")
        subscriber_id, list_id = found
        outcome = await asyncio.to_thread(
            self.site.store.unsubscribe,
            list_id,
            subscriber_id,
            source="web",
            reason="one-click unsubscribe",
        )
        title, _ = self.site.list_title(list_id)
        log.info("unsubscribe %s from list %s: %s", subscriber_id, list_id, outcome)
        return self.site.pages.page("unsubscribed.html", title=title, outcome=outcome)


async def _is_one_click(request: Request) -> bool:
    """The RFC 8058 body, sent urlencoded (Gmail) or as multipart/form-data."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        return form.get("List-Unsubscribe") == "One-Click"
    body = await request.body()
    try:
        values = parse_qs(body.decode("utf-8").strip(), keep_blank_values=True)
    except UnicodeDecodeError:
        return False
    return values.get("List-Unsubscribe") == ["One-Click"]


def mask(email: str) -> str:
    """a***@example.org: enough for the owner to recognize, little for anyone else."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
