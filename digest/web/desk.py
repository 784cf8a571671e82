"""The editors' desk, at /desk/: every digest at a glance, the draft to see, change and approve,
the sent issue's deliveries. Server-rendered pages and plain forms; each needs a login.

    GET  /desk/                                  digests: next send, open draft, last issues
    GET  /desk/issues/{id}                       a draft (previews, stories, actions) or a sent
                                                 issue (delivery counts, failures)
    GET  /desk/issues/{id}/preview               the issue as a subscriber sees it (for frames)
    POST /desk/issues/{id}/stories/{story}       drop, restore, up, down, or save title/summary
    POST /desk/issues/{id}/subject | note | rebuild | test | approve | send | drop | resend
    POST /desk/zone                              the viewer's time zone, for the dates shown

Every change renders the issue again, so the previews always show what would go out.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from digest.dates import utcnow
from digest.errors import DigestError, StoreError, UsageError
from digest.models import IssueStatus, Recipient, Role
from digest.pipeline import (
    deliver_issue,
    editing,
    freeze_and_send,
    render_settings,
    stored_rendering,
)
from digest.render import MessageTemplate, lint_email_html, render_preview
from digest.schedule import DigestSchedule
from digest.store import IssueRow, UserRow
from digest.subscribers import normalize_email
from digest.web.auth import desk_page
from digest.web.middleware import csrf_token
from digest.web.pages import PREVIEW_HEADERS
from digest.web.site import Site

__all__ = ["DeskRoutes", "viewer_zone"]

log = logging.getLogger(__name__)

GMAIL_CLIP = 102 * 1024  # Gmail clips a message's HTML past about 102 KB


@dataclass(frozen=True)
class IssueLine:
    """One issue in a list of issues, with its delivery counts."""

    issue: IssueRow
    counts: dict[str, int]

    @property
    def planned(self) -> int:
        return sum(self.counts.values())

    def count(self, *statuses: str) -> int:
        return sum(self.counts.get(status, 0) for status in statuses)


def viewer_zone(request: Request) -> ZoneInfo:
    try:
        return ZoneInfo(str(request.session.get("zone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class DeskRoutes:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.zones = sorted(available_timezones())

    def routes(self) -> list[Route]:
        return [
            Route("/desk/", self.digests, methods=["GET"]),
            Route("/desk", lambda r: RedirectResponse("/desk/", 308), methods=["GET"]),
            Route("/desk/zone", self.set_zone, methods=["POST"]),
            Route("/desk/issues/{issue:int}", self.issue_page, methods=["GET"]),
            Route("/desk/issues/{issue:int}/preview", self.preview, methods=["GET"]),
            Route("/desk/issues/{issue:int}/stories/{story}", self.story, methods=["POST"]),
            Route("/desk/issues/{issue:int}/{action}", self.action, methods=["POST"]),
        ]

    # -- pages -----------------------------------------------------------------------------

    def _page(self, request: Request, user: UserRow, template: str, **context: Any) -> Response:
        return self.site.pages.desk(
            template,
            200,
            user=user,
            csrftoken=csrf_token(request),
            flash=request.session.pop("flash", None),
            viewer_zone=viewer_zone(request).key,
            zones=self.zones,
            path=request.url.path,
            **context,
        )

    @desk_page()
    async def digests(self, request: Request, user: UserRow) -> Response:
        """Each digest: its next send, its open draft, its last issues, its sources' health."""
        cards = await asyncio.to_thread(self._digest_cards, viewer_zone(request))
        return self._page(request, user, "desk/digests.html", digests=cards)

    def _digest_cards(self, viewer: ZoneInfo) -> list[dict[str, Any]]:
        store, config = self.site.store, self.site.config
        now = utcnow()
        cards = []
        for name, digest in config.digests.items():
            firing = DigestSchedule(name, digest.schedule, digest.timezone).next_firing(now)
            waiting = store.issues_of(name, statuses=IssueStatus.EDITABLE, limit=5)
            recent = [
                IssueLine(issue, store.delivery_counts(issue.id))
                for issue in store.issues_of(name, limit=6)
                if issue.status not in IssueStatus.EDITABLE
            ][:5]
            health = store.source_health(digest.sources)
            cards.append(
                {
                    "name": name,
                    "title": digest.title,
                    "schedule": digest.schedule,
                    "approval": digest.approval,
                    "next_local": firing.local if firing else None,
                    "next_viewer": firing.at.astimezone(viewer) if firing else None,
                    "zone": digest.timezone,
                    "waiting": waiting,
                    "recent": recent,
                    "sources": [
                        {"name": source, **health.get(source, {})} for source in digest.sources
                    ],
                }
            )
        return cards

    @desk_page()
    async def issue_page(self, request: Request, user: UserRow) -> Response:
        issue = await self._issue(request)
        if issue.status in IssueStatus.EDITABLE:
            context = await asyncio.to_thread(self._draft_context, issue)
            return self._page(request, user, "desk/draft.html", **context)
        lines = await asyncio.to_thread(self._issue_context, issue)
        return self._page(request, user, "desk/issue.html", **lines)

    async def _issue(self, request: Request) -> IssueRow:
        try:
            issue = await asyncio.to_thread(
                self.site.store.get_issue, int(request.path_params["issue"])
            )
        except StoreError:
            raise UsageError("no such issue") from None
        if issue.digest not in self.site.config.digests:
            raise UsageError(f"issue {issue.id} belongs to a digest no longer configured")
        return issue

    def _draft_context(self, issue: IssueRow) -> dict[str, Any]:
        config = self.site.config
        digest = config.digest(issue.digest)
        stories = editing.edited_stories(issue) if "stories" in issue.content else []
        edits = editing.Edits.from_json(issue.content.get("edits"))
        message = self._sample_message(issue)
        report = issue.report
        warnings = list(lint_email_html(issue.html))
        failed = (report.get("failed_sources") or {}).items()
        warnings += [f"source failed: {name}: {why}" for name, why in failed]
        warnings += list(report.get("warnings") or [])
        left_out = [
            {
                "title": entry["title"],
                "source": entry["source"],
                "url": entry.get("url"),
                "reason": entry["reason"],
            }
            for entry in report.get("left_out") or []
        ]
        left_out += [
            {
                "title": error["item"],
                "source": error["source"],
                "url": None,
                "reason": f"extraction failed: {error['error']}",
            }
            for error in report.get("extraction_errors") or []
        ]
        return {
            "issue": issue,
            "digest": digest,
            "stories": stories,
            "edits": edits,
            "headers": {
                "Subject": message.subject,
                "From": message.from_addr,
                "Reply-To": message.reply_to or "",
                "List-Unsubscribe": message.headers.get("List-Unsubscribe", ""),
            },
            "size": len(issue.html.encode()),
            "clip": GMAIL_CLIP,
            "warnings": warnings,
            "left_out": left_out,
            "older_than_window": int(report.get("older_than_window") or 0),
            "text": self._sample_text(issue),
        }

    def _issue_context(self, issue: IssueRow) -> dict[str, Any]:
        counts = self.site.store.delivery_counts(issue.id)
        return {
            "issue": issue,
            "digest": self.site.config.digest(issue.digest),
            "line": IssueLine(issue, counts),
            "failures": self.site.store.failed_deliveries(issue.id),
            "reason": issue.report.get("reason"),
        }

    def _sample_reader(self, issue: IssueRow) -> Recipient:
        base = self.site.config.web.base_url
        return Recipient(
            delivery_id=0,
            subscriber_id=0,
            email="reader@example.org",
            name="Reader",
            unsubscribe_url=f"{base}/unsubscribe/preview",
            preferences_url=f"{base}/preferences/preview",
            web_url=f"{base}/desk/issues/{issue.id}",
        )

    def _sample_message(self, issue: IssueRow) -> Any:
        rendered = stored_rendering(issue)
        settings = render_settings(self.site.config, issue.digest)
        template = MessageTemplate.build(rendered, settings, issue_key=f"{issue.digest}.desk")
        return template.personalize(self._sample_reader(issue))

    def _sample_text(self, issue: IssueRow) -> str:
        return render_preview(stored_rendering(issue), self._sample_reader(issue))[1]

    @desk_page()
    async def preview(self, request: Request, user: UserRow) -> Response:
        """The issue's HTML as a sample reader gets it, for the draft page's frames."""
        issue = await self._issue(request)
        html, text = await asyncio.to_thread(
            render_preview, stored_rendering(issue), self._sample_reader(issue)
        )
        if request.query_params.get("format") == "text":
            return PlainTextResponse(text, headers=PREVIEW_HEADERS)
        return HTMLResponse(html, headers=PREVIEW_HEADERS)

    # -- actions ---------------------------------------------------------------------------

    def _back(self, request: Request, issue_id: int, message: str, anchor: str = "") -> Response:
        request.session["flash"] = message
        return RedirectResponse(f"/desk/issues/{issue_id}{anchor}", 303)

    @desk_page()
    async def set_zone(self, request: Request, user: UserRow) -> Response:
        form = await request.form()
        zone = str(form.get("zone", "UTC"))
        if zone in self.zones:
            request.session["zone"] = zone
        return RedirectResponse("/desk/", 303)

    @desk_page()
    async def story(self, request: Request, user: UserRow) -> Response:
        return await self._refusals(request, self._story(request, user))

    @desk_page()
    async def action(self, request: Request, user: UserRow) -> Response:
        return await self._refusals(request, self._action(request, user))

    async def _refusals(self, request: Request, work: Any) -> Response:
        """A change that cannot be made comes back to the page with the reason, not an error."""
        try:
            response: Response = await work
        except UsageError as exc:
            return self._back(request, int(request.path_params["issue"]), f"Not done: {exc}")
        return response

    async def _story(self, request: Request, user: UserRow) -> Response:
        issue_id = int(request.path_params["issue"])
        story = request.path_params["story"]
        form = await request.form()
        op = str(form.get("op", ""))
        changes: dict[str, Any] = {
            "drop": {"drop": story},
            "restore": {"restore": story},
            "up": {"move": (story, -1)},
            "down": {"move": (story, 1)},
            "save": {
                "title": (story, str(form.get("title", ""))),
                "summary": (story, str(form.get("summary", ""))),
            },
        }.get(op, {})
        if not changes:
            raise UsageError(f"unknown change {op!r}")
        await asyncio.to_thread(editing.edit, self.site.ws, issue_id, user.name, **changes)
        done = {"drop": "Story dropped.", "restore": "Story restored.", "save": "Story saved."}
        return self._back(request, issue_id, done.get(op, "Story moved."), f"#story-{story}")

    async def _action(self, request: Request, user: UserRow) -> Response:
        issue_id = int(request.path_params["issue"])
        action = request.path_params["action"]
        form = await request.form()
        ws = self.site.ws
        if action == "subject":
            subject = str(form.get("subject", ""))
            await asyncio.to_thread(editing.edit, ws, issue_id, user.name, subject=subject)
            return self._back(request, issue_id, "Subject saved.")
        if action == "note":
            note = str(form.get("note", ""))
            await asyncio.to_thread(editing.edit, ws, issue_id, user.name, note=note)
            return self._back(request, issue_id, "Note saved.")
        if action == "rebuild":
            await editing.rebuild(ws, issue_id, user.name)
            return self._back(request, issue_id, "Rebuilt with what is new.")
        if action == "test":
            try:
                address = normalize_email(str(form.get("address", "")))
            except EmailNotValidError as exc:
                raise UsageError(f"not an address: {exc}") from None
            await editing.send_test(ws, issue_id, address, user.name)
            return self._back(request, issue_id, f"Test sent to {address}.")
        if action == "approve":
            await asyncio.to_thread(editing.approve, ws, issue_id, user.name)
            return self._back(request, issue_id, "Approved: it goes out at the next firing.")
        if action == "send":
            issue = await asyncio.to_thread(ws.store.get_issue, issue_id)
            if issue.status == IssueStatus.DRAFT:
                await asyncio.to_thread(editing.approve, ws, issue_id, user.name)
            request.session["flash"] = "Sending now."
            task = BackgroundTask(self._send_now, issue_id)
            return RedirectResponse(f"/desk/issues/{issue_id}", 303, background=task)
        if action == "drop":
            await asyncio.to_thread(editing.drop, ws, issue_id, user.name)
            return self._back(request, issue_id, "Dropped: it will not be sent.")
        if action == "resend":
            self._require(user, Role.EDITOR)
            count = await asyncio.to_thread(ws.store.requeue_failed, issue_id)
            task = BackgroundTask(self._resend, issue_id)
            request.session["flash"] = f"Sending again to {count} failed deliveries."
            return RedirectResponse(f"/desk/issues/{issue_id}", 303, background=task)
        raise UsageError(f"unknown action {action!r}")

    @staticmethod
    def _require(user: UserRow, role: Role) -> None:
        if not user.role.allows(role):
            raise UsageError(f"this needs the {role} role")

    async def _send_now(self, issue_id: int) -> None:
        try:
            await freeze_and_send(self.site.ws, issue_id, max_wait=0.0)
        except (DigestError, StoreError) as exc:  # someone froze it first, or the store is down
            log.warning("send now of issue %s: %s", issue_id, exc)

    async def _resend(self, issue_id: int) -> None:
        try:
            issue = self.site.store.get_issue(issue_id)
            await deliver_issue(self.site.ws, issue, max_wait=0.0)
        except (DigestError, StoreError) as exc:
            log.warning("resend of issue %s: %s", issue_id, exc)
