"""`digest subscribers add|remove|show|import|export|suppress|unsuppress`.

CSV import never aborts on a bad row: each one is skipped and reported with its line and reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from digest.cli.common import ConfigOption, HomeOption, err, open_workspace, out, progress
from digest.errors import UsageError

if TYPE_CHECKING:
    from digest.config import Config
    from digest.store import Store

__all__ = ["register", "subscribers_app"]

subscribers_app = typer.Typer(
    help="Add, remove, show, import and export subscribers.", no_args_is_help=True
)

ListArgument = Annotated[str, typer.Argument(help="name of the list")]
EmailArgument = Annotated[str, typer.Argument(help="email address")]


def _list_id(config: Config, store: Store, name: str) -> int:
    from digest.subscribers.manage import resolve_list  # lazy: `digest --help` starts without it

    return resolve_list(config, store, name)


def _email(raw: str) -> str:
    from digest.subscribers.manage import valid_address  # lazy, as above

    return valid_address(raw)


@subscribers_app.command("add")
def add(
    list_name: ListArgument,
    email: EmailArgument,
    name: Annotated[str, typer.Option(help="the subscriber's name")] = "",
    attr: Annotated[list[str] | None, typer.Option(help="attribute as key=value")] = None,
    resubscribe: Annotated[
        bool, typer.Option(help="put back someone who unsubscribed, bounced or complained")
    ] = False,
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")] = "",
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Add one subscriber to a list (active at once: you vouch for their consent)."""
    attributes = {}
    for item in attr or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--attr {item!r} is not key=value")
        attributes[key.strip()] = value.strip()
    from digest.models import MembershipStatus  # lazy, as above
    from digest.subscribers.manage import add_subscriber, cli_actor  # lazy, as above

    address = _email(email)
    with open_workspace(config, home) as ws:
        list_id = _list_id(ws.config, ws.store, list_name)
        added = add_subscriber(
            ws.store,
            list_id,
            address,
            actor=cli_actor(),
            reason=reason,
            name=name,
            attributes=attributes,
            resubscribe=resubscribe,
        )
    outcome, status = added.outcome, added.status
    out.print(f"{address}: {outcome}, {status} on {list_name}")
    if status != MembershipStatus.ACTIVE:
        err.print(f"{address} left {list_name} ({status}); --resubscribe puts them back")
        raise typer.Exit(1)


@subscribers_app.command("remove")
def remove(
    list_name: ListArgument,
    email: EmailArgument,
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")] = (
        "removed by operator"
    ),
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Unsubscribe one address from a list (kept as unsubscribed, so imports skip it)."""
    from digest.subscribers.manage import cli_actor, unsubscribe  # lazy, as above

    address = _email(email)
    with open_workspace(config, home) as ws:
        store = ws.store
        list_id = _list_id(ws.config, store, list_name)
        row = store.subscriber_by_email(address)
        outcome = (
            unsubscribe(store, list_id, row.id, actor=cli_actor(), reason=reason)
            if row
            else "unknown"
        )
    if outcome == "unknown":
        raise UsageError(f"{address} is not on {list_name}")
    out.print(
        f"{address}: {'unsubscribed' if outcome == 'unsubscribed' else 'already left'} {list_name}"
    )


@subscribers_app.command("show")
def show(
    email: EmailArgument,
    config: ConfigOption = None,
    home: HomeOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable")] = False,
) -> None:
    """One subscriber: lists and statuses, consent, suppression, recent events."""
    from digest.dates import utcnow  # lazy: `digest --help` starts without the date parser

    address = _email(email)
    with open_workspace(config, home) as ws:
        store = ws.store
        row = store.subscriber_by_email(address)
        suppression = store.suppression(address)
        memberships = store.memberships_of(row.id) if row else []
        events = store.events_for(address, limit=20)
        audit = store.audit_log(subscriber_id=row.id if row else None, email=address, limit=20)
        sent = store.deliveries_to(row.id, limit=10) if row else []
    if row is None and suppression is None and not events:
        raise UsageError(f"{address} is not known")
    now = utcnow()
    data: dict[str, Any] = {
        "email": address,
        "name": row.name if row else None,
        "attributes": row.attributes if row else {},
        "created": row.created_at.isoformat(timespec="seconds") if row and row.created_at else None,
        "lists": [
            {
                "list": m.list_name,
                "status": m.status,
                "origin": m.origin,
                "since": m.updated_at.isoformat(timespec="seconds"),
                "reason": m.status_reason,
                "confirmed": m.confirmed_at.isoformat(timespec="seconds")
                if m.confirmed_at
                else None,
                "paused_until": m.paused_until.isoformat(timespec="seconds")
                if m.paused_until and m.paused(now)
                else None,
            }
            for m in memberships
        ],
        "suppressed": {
            "reason": suppression.reason,
            "detail": suppression.detail,
            "since": suppression.created_at.isoformat(timespec="seconds"),
        }
        if suppression
        else None,
        "events": [
            {
                "at": e.received_at.isoformat(timespec="seconds"),
                "provider": e.provider,
                "kind": e.kind,
            }
            for e in events
        ],
        "audit": [
            {
                "at": a.at.isoformat(timespec="seconds"),
                "actor": a.actor,
                "action": a.action,
                "reason": a.detail.get("reason", ""),
            }
            for a in audit
        ],
        "deliveries": [
            {
                "issue": d.issue_id,
                "digest": d.digest,
                "status": d.status,
                "at": d.updated_at.isoformat(timespec="seconds"),
                "error": d.error,
            }
            for d in sent
        ],
    }
    if json_output:
        out.print_json(json.dumps(data))
        return
    out.print(f"[bold]{address}[/bold] {data['name'] or ''}".rstrip(), markup=True)
    if data["created"]:
        out.print(f"  known since {data['created']}")
    for key, value in (data["attributes"] or {}).items():
        out.print(f"  {key}: {value}")
    for m in data["lists"]:
        extra = f", {m['reason']}" if m["reason"] else ""
        confirmed = f", confirmed {m['confirmed']}" if m["confirmed"] else ""
        paused = f", paused until {m['paused_until']}" if m["paused_until"] else ""
        out.print(
            f"  {m['list']}: {m['status']} since {m['since']} "
            f"(from {m['origin'] or '?'}{extra}{confirmed}{paused})",
            soft_wrap=True,
            markup=False,
        )
    if suppression:
        out.print(
            f"  [red]suppressed[/red]: {suppression.reason} {suppression.detail}".rstrip(),
            markup=True,
        )
    for e in data["events"]:
        out.print(f"  {e['at']} {e['provider']} {e['kind']}")
    for a in data["audit"]:
        why = f": {a['reason']}" if a["reason"] else ""
        out.print(f"  {a['at']} {a['actor']} {a['action']}{why}", markup=False, soft_wrap=True)
    for d in data["deliveries"]:
        error = f" ({d['error']})" if d["error"] else ""
        out.print(
            f"  issue {d['issue']} of {d['digest']}: {d['status']} {d['at']}{error}",
            markup=False,
            soft_wrap=True,
        )


@subscribers_app.command("import")
def import_command(
    list_name: ListArgument,
    file: Annotated[
        Path,
        typer.Argument(help="CSV file (header optional; , ; or tab)", exists=True, dir_okay=False),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report what would change; write nothing")
    ] = False,
    resubscribe: Annotated[
        bool,
        typer.Option(
            help="put back people who unsubscribed, bounced or complained (never suppressed)"
        ),
    ] = False,
    skipped_out: Annotated[
        Path | None,
        typer.Option("--skipped", help="write every skipped row (line and reason) to this file"),
    ] = None,
    show: Annotated[
        int, typer.Option(help="skipped rows to print (the first 1000 are kept)")
    ] = 1000,
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable summary")] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Import subscribers from CSV; bad rows are skipped and reported, never fatal."""
    # lazy: `digest --help` starts without it
    from digest.subscribers import skipped_log
    from digest.subscribers.manage import audited_import, cli_actor

    with (
        skipped_log(skipped_out) as on_skip,
        open_workspace(config, home) as ws,
        progress() as shown,
    ):
        list_id = _list_id(ws.config, ws.store, list_name)
        task = shown.task("importing rows")
        try:
            report = audited_import(
                ws.store,
                list_id,
                file,
                actor=cli_actor(),
                dry_run=dry_run,
                resubscribe=resubscribe,
                on_skip=on_skip,
                on_rows=task.advance,
            )
        finally:
            task.done()
    if json_output:
        out.print_json(
            json.dumps(
                {
                    **report.as_json(),
                    "skipped_rows": [
                        {"line": s.line, "reason": s.reason} for s in report.skipped[:show]
                    ],
                }
            )
        )
        return
    out.print(f"{file.name} -> {list_name}: {report.summary()}", markup=False, soft_wrap=True)
    for item in report.skipped[:show]:
        out.print(f"  line {item.line}: {item.reason}", soft_wrap=True, markup=False)
    hidden = report.skipped_count - min(show, len(report.skipped))
    if hidden > 0:
        where = f"all in {skipped_out}" if skipped_out else "--skipped FILE lists them all"
        out.print(f"  ... {hidden} more skipped rows ({where})")


@subscribers_app.command("export")
def export_command(
    list_name: ListArgument,
    status: Annotated[
        str | None,
        typer.Option(help="only this status (active, pending, unsubscribed, bounced, complained)"),
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="file (default: stdout)")] = None,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="write every value verbatim (by default a cell starting with = + - @, a tab "
            "or CR gets a ' so a spreadsheet shows it as text; import takes it off again)",
        ),
    ] = False,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Write a list's members as CSV, safe to open in a spreadsheet (it imports back as it is,
    leavers included)."""
    # lazy: `digest --help` starts without them
    from digest.models import MembershipStatus
    from digest.subscribers.manage import audited_export, cli_actor

    if status is not None and status not in tuple(MembershipStatus):
        raise UsageError(f"--status must be one of {', '.join(MembershipStatus)}")
    only = MembershipStatus(status) if status is not None else None
    with open_workspace(config, home) as ws:
        list_id = _list_id(ws.config, ws.store, list_name)
        count = audited_export(
            ws.store, list_id, out_file or sys.stdout, actor=cli_actor(), status=only, raw=raw
        )
    err.print(f"{count} members of {list_name} exported")


@subscribers_app.command("suppress")
def suppress(
    email: EmailArgument,
    reason: Annotated[str, typer.Option(help="why")] = "manual",
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Never send anything to this address again, whatever the list."""
    address = _email(email)
    with open_workspace(config, home) as ws:
        store = ws.store
        store.suppress(address, reason[:50], "cli")
        store.record_event("cli", "suppressed", address, {"reason": reason})
    out.print(f"{address}: suppressed")


@subscribers_app.command("unsuppress")
def unsuppress(
    email: EmailArgument,
    config: ConfigOption = None,
    home: HomeOption = None,
) -> None:
    """Lift a suppression (their lists keep their statuses: add them back explicitly)."""
    address = _email(email)
    with open_workspace(config, home) as ws:
        store = ws.store
        lifted = store.unsuppress(address)
        if lifted:
            store.record_event("cli", "unsuppressed", address, {})
    out.print(f"{address}: {'no longer suppressed' if lifted else 'was not suppressed'}")


def register(app: typer.Typer) -> None:
    app.add_typer(subscribers_app, name="subscribers")
