"""The web app's pages: Jinja templates under templates/web/, always with security headers.

Every page the app shows goes through `Pages.page`, so no response leaves without its
Content-Security-Policy, and every error page comes from the same template (`invalid.html`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.responses import HTMLResponse

__all__ = [
    "DESK_HEADERS",
    "ISSUE_HEADERS",
    "PREVIEW_HEADERS",
    "SECURITY_HEADERS",
    "TEMPLATES",
    "Pages",
]

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "web"  # digest/templates/web
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # the token in the URL must not leak onwards
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
# The issue's own HTML: its inline styles and remote images, nothing else, never framed.
ISSUE_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Cache-Control": "public, max-age=300",
}


# The desk: its own styles, frames of this site (the previews), images of the stories.
DESK_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src https: data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
}
# A preview shown in the desk's frames: the issue's HTML, framed only by this site.
PREVIEW_HEADERS = {
    **ISSUE_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src https: data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
    "Cache-Control": "no-store",
}


def local_time(moment: datetime | None, zone: str = "UTC") -> str:
    """A moment as people read it in a zone, for pages: "Mon 07 Dec 2026, 08:00"."""
    if moment is None:
        return "never"
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y, %H:%M")


class Pages:
    """Renders the app's templates (autoescaped; a missing variable is an error, not blank)."""

    def __init__(self, folder: Path = TEMPLATES) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["local"] = local_time

    def render(self, template: str, /, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def page(self, template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.render(template, **context), status, headers=SECURITY_HEADERS)

    def desk(self, template: str, status: int = 200, /, **context: Any) -> HTMLResponse:
        """A page of the desk (its headers let it frame this site's previews)."""
        return HTMLResponse(self.render(template, **context), status, headers=DESK_HEADERS)

    def invalid(self, status: int = 400, reason: str = "") -> HTMLResponse:
        """The one error page: `reason` picks its wording (see invalid.html)."""
        return self.page("invalid.html", status, reason=reason)
