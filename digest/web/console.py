"""The operators' console, in the desk: lists, subscribers and sources. Every page needs the
operator role; every change is audited (who, when, what, why) and shown on the subscriber's page.

    GET  /desk/lists                             lists with their counts, import and export
    GET  /desk/lists/{list}/export.csv           the list as CSV (?status= one status)
    POST /desk/lists/{list}/import               upload a CSV: a dry run, with its report
    POST /desk/lists/{list}/import/{upload}      import the file the dry run read
    GET  /desk/subscribers?q=                    find subscribers by address
    POST /desk/subscribers                       add one to a list
    GET  /desk/subscribers/{id}                  memberships, consent, deliveries, events, audit
    POST /desk/subscribers/{id}/{action}         unsubscribe | resubscribe, with a reason
    GET  /desk/sources                           each source's health

The import is the command line's (`digest.subscribers.manage.audited_import`): the same report,
the same rules. An uploaded file waits under the data directory until it is imported (or a day
passes), named by a random token, so the dry run and the import read the same bytes.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from digest.errors import UsageError
from digest.files import private_folder
from digest.models import MembershipStatus, Role
from digest.sources.health import source_rows
from digest.store import UserRow
from digest.subscribers.manage import (
    add_subscriber,
    audited_export,
    audited_import,
    resolve_list,
    resubscribe,
    unsubscribe,
    valid_address,
)
from digest.web.auth import desk_page
from digest.web.desk import viewer_zone
from digest.web.middleware import check_form_token, csrf_token
from digest.web.site import Site

__all__ = ["UPLOAD_PATH", "ConsoleRoutes"]

UPLOAD_KEPT_SECONDS = 24 * 3600
UPLOAD_PATH = re.compile(r"/desk/lists/[^/]+/import")  # bodies up to web.max_upload_bytes
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
SKIPPED_SHOWN = 200  # skipped rows listed on the report page; the counts are exact


class ConsoleRoutes:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[Route]:
        return [
            Route("/desk/lists", self.lists, methods=["GET"]),
            Route("/desk/lists/{list}/export.csv", self.export, methods=["GET"]),
            Route("/desk/lists/{list}/import", self.upload, methods=["POST"]),
            Route("/desk/lists/{list}/import/{upload}", self.import_upload, methods=["POST"]),
            Route("/desk/subscribers", self.find, methods=["GET"]),
            Route("/desk/subscribers", self.add, methods=["POST"]),
            Route("/desk/subscribers/{id:int}", self.subscriber, methods=["GET"]),
            Route("/desk/subscribers/{id:int}/{action}", self.change, methods=["POST"]),
            Route("/desk/sources", self.sources, methods=["GET"]),
        ]

    def _page(self, request: Request, user: UserRow, template: str, **context: Any) -> Response:
        return self.site.pages.desk(
            template,
            200,
            user=user,
            csrftoken=csrf_token(request),
            flash=request.session.pop("flash", None),
            viewer_zone=viewer_zone(request).key,
            **context,
        )

    def _back(self, request: Request, path: str, message: str) -> Response:
        request.session["flash"] = message
        return RedirectResponse(path, 303)

    def _list_id(self, name: str) -> int:
        return resolve_list(self.site.config, self.site.store, name)

    # -- lists -----------------------------------------------------------------------------

    @desk_page(Role.OPERATOR)
    async def lists(self, request: Request, user: UserRow) -> Response:
        """Every list with its members by status and the digests sent to it."""
        rows = await asyncio.to_thread(self._lists)
        statuses = list(MembershipStatus)
        return self._page(request, user, "desk/lists.html", lists=rows, statuses=statuses)

    def _lists(self) -> list[dict[str, Any]]:
        config, store = self.site.config, self.site.store
        for name, configured in config.lists.items():
            store.ensure_list(name, configured.title)
        return [
            {
                "name": row.name,
                "title": row.title,
                "counts": row.counts,
                "total": sum(row.counts.values()),
                "configured": row.name in config.lists,
                "digests": [
                    digest.title for digest in config.digests.values() if digest.list == row.name
                ],
            }
            for row in store.lists_overview()
        ]

    @desk_page(Role.OPERATOR)
    async def export(self, request: Request, user: UserRow) -> Response:
        """The list as CSV, safe to open in a spreadsheet (it imports back as it is); the
        export is audited."""
        name = request.path_params["list"]
        status = request.query_params.get("status") or None
        if status is not None and status not in tuple(MembershipStatus):
            raise UsageError(f"status must be one of {', '.join(MembershipStatus)}")
        list_id = await asyncio.to_thread(self._list_id, name)
        folder = self._folder("exports")
        path = folder / f"{secrets.token_urlsafe(16)}.csv"
        await asyncio.to_thread(
            audited_export,
            self.site.store,
            list_id,
            path,
            actor=f"desk:{user.name}",
            status=MembershipStatus(status) if status else None,
        )
        return FileResponse(
            path,
            media_type="text/csv; charset=utf-8",
            filename=f"{name}{'-' + status if status else ''}.csv",
            headers={"Cache-Control": "no-store"},
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    @desk_page(Role.OPERATOR)
    async def upload(self, request: Request, user: UserRow) -> Response:
        """Keep the uploaded file and show what importing it would do (nothing is written)."""
        name = request.path_params["list"]
        list_id = await asyncio.to_thread(self._list_id, name)
        form = await request.form()
        check_form_token(request, form)
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return self._back(request, "/desk/lists", "Not done: choose a CSV file to import.")
        resubscribing = form.get("resubscribe") == "on"
        upload_id = secrets.token_urlsafe(18)
        kept = self._folder("uploads") / f"{upload_id}.csv"
        await asyncio.to_thread(self._keep, upload, kept)
        report = await asyncio.to_thread(
            audited_import,
            self.site.store,
            list_id,
            kept,
            actor=f"desk:{user.name}",
            name=Path(upload.filename).name,
            dry_run=True,
            resubscribe=resubscribing,
        )
        return self._page(
            request,
            user,
            "desk/import.html",
            list_name=name,
            file=Path(upload.filename).name,
            report=report,
            shown=report.skipped[:SKIPPED_SHOWN],
            upload=upload_id,
            resubscribe=resubscribing,
        )

    @desk_page(Role.OPERATOR)
    async def import_upload(self, request: Request, user: UserRow) -> Response:
        """Import the file a dry run read, and show the report."""
        name = request.path_params["list"]
        upload_id = request.path_params["upload"]
        kept = self._folder("uploads") / f"{upload_id}.csv"
        if not _UPLOAD_ID.fullmatch(upload_id) or not kept.is_file():
            return self._back(request, "/desk/lists", "Not done: that upload is gone; upload again")
        form = await request.form()
        file_name = str(form.get("file", ""))[:200] or kept.name
        resubscribing = form.get("resubscribe") == "on"
        list_id = await asyncio.to_thread(self._list_id, name)
        try:
            report = await asyncio.to_thread(
                audited_import,
                self.site.store,
                list_id,
                kept,
                actor=f"desk:{user.name}",
                name=file_name,
                resubscribe=resubscribing,
            )
        finally:
            kept.unlink(missing_ok=True)
        return self._page(
            request,
            user,
            "desk/import.html",
            list_name=name,
            file=file_name,
            report=report,
            shown=report.skipped[:SKIPPED_SHOWN],
            upload=None,
            resubscribe=resubscribing,
        )

    def _folder(self, name: str) -> Path:
        """A folder of the data directory for files in passing; old ones are cleared."""
        folder = private_folder(self.site.ws.home / name)
        cutoff = time.time() - UPLOAD_KEPT_SECONDS
        for old in folder.glob("*.csv"):
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        return folder

    @staticmethod
    def _keep(upload: UploadFile, path: Path) -> None:
        upload.file.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(upload.file, out)

    # -- subscribers -----------------------------------------------------------------------

    @desk_page(Role.OPERATOR)
    async def find(self, request: Request, user: UserRow) -> Response:
        query = request.query_params.get("q", "").strip()[:320]
        found = await asyncio.to_thread(self.site.store.find_subscribers, query) if query else []
        return self._page(
            request,
            user,
            "desk/subscribers.html",
            query=query,
            found=found,
            lists=sorted(self.site.config.lists),
        )

    @desk_page(Role.OPERATOR)
    async def add(self, request: Request, user: UserRow) -> Response:
        form = await request.form()
        try:
            address = valid_address(str(form.get("address", "")))
            list_id = await asyncio.to_thread(self._list_id, str(form.get("list", "")))
            added = await asyncio.to_thread(
                add_subscriber,
                self.site.store,
                list_id,
                address,
                actor=f"desk:{user.name}",
                reason=str(form.get("reason", ""))[:500],
                name=str(form.get("name", ""))[:500],
            )
        except UsageError as exc:
            return self._back(request, "/desk/subscribers", f"Not done: {exc}")
        if added.status == MembershipStatus.ACTIVE:
            message = f"{address} is on the list ({added.outcome})."
        else:
            message = f"{address} left this list ({added.status}); resubscribe them with a reason."
        return self._back(request, f"/desk/subscribers/{added.subscriber_id}", message)

    @desk_page(Role.OPERATOR)
    async def subscriber(self, request: Request, user: UserRow) -> Response:
        context = await asyncio.to_thread(self._subscriber, int(request.path_params["id"]))
        return self._page(request, user, "desk/subscriber.html", **context)

    def _subscriber(self, subscriber_id: int) -> dict[str, Any]:
        store = self.site.store
        row = store.subscriber_by_id(subscriber_id)
        if row is None:
            raise UsageError("no such subscriber")
        memberships = store.memberships_of(subscriber_id)
        titles = {name: configured.title for name, configured in self.site.config.lists.items()}
        audit = store.audit_log(subscriber_id=subscriber_id, email=row.email, limit=100)
        list_names = {a.list_id: store.list_name(a.list_id) for a in audit if a.list_id}
        list_names.update({m.list_id: m.list_name for m in memberships})
        return {
            "subscriber": row,
            "memberships": memberships,
            "titles": titles,
            "suppression": store.suppression(row.email),
            "deliveries": store.deliveries_to(subscriber_id, limit=20),
            "events": store.events_for(row.email, limit=50),
            "audit": audit,
            "list_names": list_names,
            "other_lists": sorted(set(self.site.config.lists) - {m.list_name for m in memberships}),
        }

    @desk_page(Role.OPERATOR)
    async def change(self, request: Request, user: UserRow) -> Response:
        subscriber_id = int(request.path_params["id"])
        action = request.path_params["action"]
        form = await request.form()
        reason = str(form.get("reason", "")).strip()[:500]
        here = f"/desk/subscribers/{subscriber_id}"
        store, actor = self.site.store, f"desk:{user.name}"
        try:
            list_id = await asyncio.to_thread(self._list_id, str(form.get("list", "")))
            if action == "unsubscribe":
                if not reason:
                    raise UsageError("say why (the reason is kept in the audit log)")
                outcome = await asyncio.to_thread(
                    unsubscribe, store, list_id, subscriber_id, actor=actor, reason=reason
                )
                if outcome == "unknown":
                    raise UsageError("they are not on that list")
                message = "Unsubscribed." if outcome == "unsubscribed" else "They had left already."
            elif action == "resubscribe":
                await asyncio.to_thread(
                    resubscribe, store, list_id, subscriber_id, actor=actor, reason=reason
                )
                message = "Resubscribed."
            else:
                raise UsageError(f"unknown action {action!r}")
        except UsageError as exc:
            return self._back(request, here, f"Not done: {exc}")
        return self._back(request, here, message)

    # -- sources ---------------------------------------------------------------------------

    @desk_page(Role.OPERATOR)
    async def sources(self, request: Request, user: UserRow) -> Response:
        """Each source: its state, last success, last error, failures in a row, items in its
        last fetch, and the digests that read it."""
        config = self.site.config
        rows = source_rows(config, await asyncio.to_thread(self.site.store.source_health))
        for row in rows:
            name = row["source"]
            row["digests"] = [d.title for d in config.digests.values() if name in d.sources]
        return self._page(request, user, "desk/sources.html", sources=rows)
