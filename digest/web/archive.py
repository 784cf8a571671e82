"""The public archive of each digest: every sent issue's web edition, an index, an Atom feed.

    GET /archive/{digest}/              the issues sent, newest first
    GET /archive/{digest}/{id}/         one issue's web edition (the email's "view in your
                                        browser" link): nobody's data in it, a subscribe link
    GET /archive/{digest}/feed.atom     the same issues as an Atom feed

`archive = false` on a digest turns all three off (404). The web edition is rendered when the
issue is frozen and kept with it, so the page is the issue as it was sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from digest.config import DigestConfig
from digest.errors import RequestError, StoreError
from digest.models import IssueStatus
from digest.store import IssueRow
from digest.web.pages import ISSUE_HEADERS, SECURITY_HEADERS
from digest.web.site import Site

__all__ = ["ArchiveRoutes"]

FEED_LIMIT = 50  # issues in the Atom feed
INDEX_LIMIT = 500  # issues on the index page


class NotInArchive(RequestError):
    def __init__(self) -> None:
        super().__init__(404, "no such issue in the archive")


class ArchiveRoutes:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/archive/{digest}/", self.index, methods=["GET"]),
            Route("/archive/{digest}/feed.atom", self.feed, methods=["GET"]),
            Route("/archive/{digest}/{issue:int}/", self.issue, methods=["GET"]),
        ]

    def _digest(self, request: Request) -> tuple[str, DigestConfig]:
        name = request.path_params["digest"]
        digest = self.site.config.digests.get(name)
        if digest is None or not digest.archive:
            raise NotInArchive
        return name, digest

    def _published(self, name: str, limit: int) -> list[IssueRow]:
        return [
            issue
            for issue in self.site.store.issues_of(
                name, statuses=IssueStatus.PUBLISHED, limit=limit
            )
            if "public" in issue.content
        ]

    def _entries(self, name: str, limit: int) -> list[dict[str, Any]]:
        base = self.site.config.web.base_url
        return [
            {
                "id": issue.id,
                "subject": issue.subject,
                "sent": issue.frozen_at or issue.created_at,
                "url": f"{base}/archive/{name}/{issue.id}/",
                "articles": issue.content.get("articles") or [],
            }
            for issue in self._published(name, limit)
        ]

    async def index(self, request: Request) -> Response:
        name, digest = self._digest(request)
        entries = await asyncio.to_thread(self._entries, name, INDEX_LIMIT)
        return self.site.pages.page(
            "archive/index.html",
            200,
            digest=name,
            title=digest.title,
            entries=entries,
            feed_url=f"{self.site.config.web.base_url}/archive/{name}/feed.atom",
        )

    async def issue(self, request: Request) -> Response:
        name, _ = self._digest(request)
        try:
            issue = await asyncio.to_thread(
                self.site.store.get_issue, int(request.path_params["issue"])
            )
        except StoreError:
            raise NotInArchive from None
        public = issue.content.get("public")
        if issue.digest != name or issue.status not in IssueStatus.PUBLISHED or not public:
            raise NotInArchive
        return HTMLResponse(str(public["html"]), headers=ISSUE_HEADERS)

    async def feed(self, request: Request) -> Response:
        name, digest = self._digest(request)
        entries = await asyncio.to_thread(self._entries, name, FEED_LIMIT)
        base = self.site.config.web.base_url
        body = self.site.pages.render(
            "archive/feed.atom",
            digest=name,
            title=digest.title,
            entries=entries,
            updated=entries[0]["sent"] if entries else None,
            index_url=f"{base}/archive/{name}/",
            feed_url=f"{base}/archive/{name}/feed.atom",
        )
        headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"}
        return Response(body, media_type="application/atom+xml", headers=headers)
