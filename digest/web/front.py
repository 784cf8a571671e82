"""Where readers find a digest: the front page and each list's sign-up page.

    GET /                     the digests whose list takes sign-ups, each with a form
    GET /subscribe/{list}     a list's sign-up page, named after the digest(s) sent to it
    GET /subscribe?list=NAME  the same page (the link web editions carried before)

The forms post to POST /subscribe (signup.py: double opt-in, the same answer whatever the
address's standing). Links and form actions are relative, so the app works behind a proxy
that serves it under a path prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digest.config import DigestConfig
from digest.dates import utcnow
from digest.schedule import DigestSchedule, describe_schedule
from digest.web.middleware import csrf_token
from digest.web.pages import local_time
from digest.web.site import Site

__all__ = ["FrontRoutes", "Offer", "signup_headers", "signup_page"]


@dataclass(frozen=True)
class Offer:
    """One digest as the sign-up pages show it."""

    name: str
    title: str
    list_name: str
    schedule: str  # "Every Monday at 08:00, Europe/Berlin time", or the next issue's time
    archive: bool
    also: tuple[str, ...]  # titles of the other digests the same list gets


class FrontRoutes:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/subscribe", self.subscribe_query, methods=["GET"]),
            Route("/subscribe/{list}", self.subscribe_page, methods=["GET"]),
        ]

    async def index(self, request: Request) -> Response:
        config = self.site.config
        offers = [
            offer(self.site, name, digest)
            for name, digest in config.digests.items()
            if (listed := config.lists.get(digest.list)) is not None and listed.signup
        ]
        return signup_headers(
            self.site.pages.page(
                "index.html", offers=offers, csrftoken=csrf_token(request), root=""
            )
        )

    async def subscribe_query(self, request: Request) -> Response:
        return signup_page(self.site, request, request.query_params.get("list", ""), root="")

    async def subscribe_page(self, request: Request) -> Response:
        return signup_page(self.site, request, request.path_params["list"], root="../")


def offer(site: Site, name: str, digest: DigestConfig) -> Offer:
    others = tuple(d.title for n, d in site.digests_of(digest.list) if n != name)
    return Offer(
        name, digest.title, digest.list, schedule_words(name, digest), digest.archive, others
    )


def schedule_words(name: str, digest: DigestConfig) -> str:
    """When issues come, in words where the schedule is a common one, else the next one."""
    zone = f"{digest.timezone} time"
    words = describe_schedule(digest.schedule)
    if words:
        return f"{words[0].upper()}{words[1:]}, {zone}"
    firing = DigestSchedule(name, digest.schedule, digest.timezone).next_firing(utcnow())
    if firing is None:
        return ""
    return f"Next issue {local_time(firing.at, digest.timezone)}, {zone}"


def signup_page(
    site: Site,
    request: Request,
    list_name: str,
    *,
    root: str,
    status: int = 200,
    error: str | None = None,
) -> Response:
    """A list's sign-up page (404 for a list that takes none); `root` leads from the page's
    URL back to the app's root, for relative links ("" or "../")."""
    configured = site.config.lists.get(list_name)
    if configured is None or not configured.signup:
        return site.pages.page("invalid.html", 404, reason="list")
    return signup_headers(
        site.pages.page(
            "subscribe.html",
            status,
            list_name=list_name,
            title=site.reading_title(list_name),
            offers=[offer(site, name, digest) for name, digest in site.digests_of(list_name)],
            csrftoken=csrf_token(request),
            root=root,
            error=error,
        )
    )


def signup_headers(response: Response) -> Response:
    """A page with a sign-up form sends its origin along with the form (POST /subscribe
    refuses other sites' by it): under no-referrer a browser sends `Origin: null` even to the
    page's own site. These URLs hold no token, and other sites still get no referrer."""
    response.headers["Referrer-Policy"] = "same-origin"
    return response
