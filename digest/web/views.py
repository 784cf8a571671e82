"""The web view of an issue, for the "view in your browser" link: as sent, nobody's data in it.

GET /issues/{token}
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.errors import StoreError
from digest.models import IssueStatus, Recipient
from digest.pipeline import stored_rendering
from digest.render import render_preview
from digest.web.pages import ISSUE_HEADERS
from digest.web.site import Site

__all__ = ["IssueViews"]


class IssueViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [Route("/issues/{token}", self.issue_page, methods=["GET"])]

    async def issue_page(self, request: Request) -> Response:
        """An issue as sent, for the "view in your browser" link; nobody's data in it."""
        issue_id = self.site.signer.read_issue_token(request.path_params["token"])
        if issue_id is None:
            return self.site.pages.invalid()
        try:
            issue = await asyncio.to_thread(self.site.store.get_issue, issue_id)
        except StoreError:
            return self.site.pages.page("invalid.html", 404, reason="issue")
        if issue.status not in IssueStatus.PUBLISHED:
            return self.site.pages.page("invalid.html", 404, reason="issue")
        public = issue.content.get("public")
        if public:  # the web edition kept at freezing: nobody's data, a subscribe link
            return HTMLResponse(str(public["html"]), headers=ISSUE_HEADERS)
        # An issue frozen before web editions were kept: the email, with blank reader fields.
        reader = Recipient(delivery_id=0, subscriber_id=0, email="", web_url=str(request.url))
        html, _ = render_preview(stored_rendering(issue), reader)
        return HTMLResponse(html, headers=ISSUE_HEADERS)
