"""A subscriber's own page, from the link in every email's footer: their lists, leaving one or
all of them, pausing every list for some weeks and resuming.

    GET  /preferences/{token}    the page (changes nothing: link scanners follow every link)
    POST /preferences/{token}    one action (`do`: leave, leave_all, pause, resume), then 303
                                 back to the page, which says what was done

The token (digest/tokens.py) names the subscriber's id only and does not expire, like the
unsubscribe link: a message read months later still lets its reader leave. Whoever holds the
link can do what it offers, so it offers nothing that needs more: it shows the address masked,
and never puts back on a list someone who left it (that is a new sign-up, confirmed again).
Every form carries a CSRF token, and a POST without the cookie a browser got with the page is
refused (middleware.py). Leaving is recorded as the one-click unsubscribe is (the store's
`unsubscribe`); pauses and resumes are events too.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from digest.dates import utcnow
from digest.models import MembershipStatus
from digest.store import MembershipRow
from digest.web.middleware import csrf_token
from digest.web.pages import SECURITY_HEADERS
from digest.web.site import Site
from digest.web.unsubscribe import mask

__all__ = ["MAX_PAUSE_WEEKS", "PreferencesRoutes"]

log = logging.getLogger(__name__)

MAX_PAUSE_WEEKS = 12
REASON = "preferences page"  # why the membership changed, as the store keeps it

_STATUS_WORDS = {
    MembershipStatus.ACTIVE: "Subscribed",
    MembershipStatus.PENDING: "Waiting for you to confirm: use the link in the email we sent",
    MembershipStatus.UNSUBSCRIBED: "You left this list",
    MembershipStatus.BOUNCED: "Stopped: messages to this address bounced",
    MembershipStatus.COMPLAINED: "Stopped: one of its messages was reported as spam",
}
_DONE = {
    "left": "Done: you have left the list.",
    "left_all": "Done: you have left every list. Nothing more will be sent to you.",
    "paused": "Paused.",
    "resumed": "Resumed: the next issue of each list will be sent to you.",
}


@dataclass(frozen=True)
class ListLine:
    """One of the subscriber's lists as the page shows it."""

    list_id: int
    title: str
    status: str
    can_leave: bool
    signup_path: str | None  # for a list they left that still takes sign-ups


class PreferencesRoutes:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/preferences/{token}", self.page, methods=["GET"]),
            Route("/preferences/{token}", self.act, methods=["POST"]),
        ]

    async def page(self, request: Request) -> Response:
        subscriber_id = self.site.signer.read_preferences_token(request.path_params["token"])
        if subscriber_id is None:
            return self.site.pages.invalid()
        subscriber = await asyncio.to_thread(self.site.store.subscriber_by_id, subscriber_id)
        if subscriber is None:
            return self.site.pages.invalid(404)
        memberships = await asyncio.to_thread(self.site.store.memberships_of, subscriber_id)
        now = utcnow()
        pauses = [m.paused_until for m in memberships if m.paused_until and m.paused(now)]
        return self.site.pages.page(
            "preferences.html",
            who=mask(subscriber.email),
            lines=[self._line(m, now) for m in memberships],
            paused_until=_day(max(pauses)) if pauses else None,
            can_pause=any(m.status == MembershipStatus.ACTIVE for m in memberships),
            can_leave=any(m.status in MembershipStatus.JOINED for m in memberships),
            max_weeks=MAX_PAUSE_WEEKS,
            done=_DONE.get(request.query_params.get("done", "")),
            token=request.path_params["token"],
            csrftoken=csrf_token(request),
        )

    async def act(self, request: Request) -> Response:
        """One change, then back to the page (303), which says what was done."""
        token = request.path_params["token"]
        subscriber_id = self.site.signer.read_preferences_token(token)
        if subscriber_id is None:
            return self.site.pages.invalid()
        form = await request.form()
        action, store = form.get("do"), self.site.store
        if action == "leave" and str(form.get("list", "")).isdigit():
            list_id = int(str(form["list"]))
            outcome = await asyncio.to_thread(
                store.unsubscribe, list_id, subscriber_id, source="web", reason=REASON
            )
            log.info(
                "subscriber %s left list %s (preferences): %s", subscriber_id, list_id, outcome
            )
            done = "left"
        elif action == "leave_all":
            left = await asyncio.to_thread(
                store.unsubscribe_all, subscriber_id, source="web", reason=REASON
            )
            log.info("subscriber %s left lists %s (preferences)", subscriber_id, left)
            done = "left_all"
        elif action == "pause" and (weeks := _weeks(form.get("weeks"))):
            until = utcnow() + timedelta(weeks=weeks)
            paused = await asyncio.to_thread(store.pause, subscriber_id, until, source="web")
            log.info("subscriber %s paused lists %s for %s weeks", subscriber_id, paused, weeks)
            done = "paused"
        elif action == "resume":
            resumed = await asyncio.to_thread(store.resume, subscriber_id, source="web")
            log.info("subscriber %s resumed lists %s", subscriber_id, resumed)
            done = "resumed"
        else:
            return self.site.pages.page("invalid.html", 400, reason="form")
        # Relative to /preferences/{token}, so a path prefix in front of the app is kept.
        return RedirectResponse(f"{quote(token)}?done={done}", 303, headers=SECURITY_HEADERS)

    def _line(self, membership: MembershipRow, now: datetime) -> ListLine:
        name = membership.list_name
        configured = self.site.config.lists.get(name)
        title = self.site.reading_title(name) if configured else name
        status = _STATUS_WORDS[membership.status]
        if membership.paused(now) and membership.paused_until is not None:
            status = f"Paused until {_day(membership.paused_until)}"
        left = membership.status in MembershipStatus.INACTIVE
        signup = configured is not None and configured.signup and left
        return ListLine(
            membership.list_id,
            title,
            status,
            can_leave=membership.status in MembershipStatus.JOINED,
            signup_path=f"../subscribe/{quote(name, safe='')}" if signup else None,
        )


def _weeks(value: object) -> int | None:
    text = str(value or "")
    if text.isdigit() and 1 <= int(text) <= MAX_PAUSE_WEEKS:
        return int(text)
    return None


def _day(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"  # Monday 4 January 2027 (UTC)
