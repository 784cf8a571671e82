"""What staff do to subscribers, the same from the desk and the command line, each act audited.

`actor` names who did it ("desk:ada", "cli:root"); `reason` says why, and both go to the audit
log (store/audit.py) beside the membership's own `status_reason`, so a subscriber's page shows
who put them on or took them off a list, when and why.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError

from digest.config import Config
from digest.errors import UsageError
from digest.models import MembershipStatus
from digest.store import Store
from digest.subscribers.addresses import normalize_email
from digest.subscribers.csv_export import export_csv
from digest.subscribers.csv_import import ImportReport, import_csv

__all__ = [
    "Added",
    "add_subscriber",
    "audited_export",
    "audited_import",
    "cli_actor",
    "resolve_list",
    "resubscribe",
    "unsubscribe",
    "valid_address",
]


def cli_actor() -> str:
    """Who runs a command: the operating system's user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container's bare uid)
        return "cli"


def resolve_list(config: Config, store: Store, name: str) -> int:
    """The list's id: configured lists are created on first use, others must exist."""
    if name in config.lists:
        return store.ensure_list(name, config.lists[name].title)
    found = store.list_id(name)
    if found is None:
        known = sorted(set(config.lists) | {row.name for row in store.lists_overview()})
        raise UsageError(f"no list named {name!r} (known: {', '.join(known) or 'none'})")
    return found


def valid_address(raw: str) -> str:
    """The address as stored, or a UsageError saying why it is not one."""
    try:
        return normalize_email(raw)
    except EmailNotValidError as exc:
        raise UsageError(f"{raw!r} is not a valid address: {exc}") from None


@dataclass(frozen=True)
class Added:
    subscriber_id: int
    outcome: str  # "imported", "updated", "unchanged"
    status: MembershipStatus | None


def add_subscriber(
    store: Store,
    list_id: int,
    address: str,
    *,
    actor: str,
    reason: str = "",
    name: str = "",
    attributes: dict[str, Any] | None = None,
    resubscribe: bool = False,
) -> Added:
    """Put one address on a list, active at once (the actor vouches for consent).

    A suppressed address is refused (lift the suppression first); someone who left the list
    stays off unless `resubscribe` says so.
    """
    suppression = store.suppression(address)
    if suppression is not None:
        raise UsageError(
            f"{address} is suppressed ({suppression.reason}); lift the suppression first "
            "if that is wrong"
        )
    outcome = store.upsert_subscriber(
        list_id,
        address,
        name=name,
        attributes=attributes or {},
        origin=actor.partition(":")[0] or actor,
        resubscribe=resubscribe,
    )
    row = store.subscriber_by_email(address)
    assert row is not None  # just written
    status = store.membership_status(list_id, row.id)
    store.audit(
        actor,
        "subscribe",
        subscriber_id=row.id,
        email=address,
        list_id=list_id,
        reason=reason,
        outcome=outcome,
        status=str(status),
    )
    return Added(row.id, outcome, status)


def unsubscribe(store: Store, list_id: int, subscriber_id: int, *, actor: str, reason: str) -> str:
    """Take one subscriber off one list: "unsubscribed", "already" or "unknown"."""
    row = store.subscriber_by_id(subscriber_id)
    outcome = store.unsubscribe(
        list_id, subscriber_id, source=actor.partition(":")[0] or actor, reason=reason or actor
    )
    if outcome == "unsubscribed":
        store.audit(
            actor,
            "unsubscribe",
            subscriber_id=subscriber_id,
            email=row.email if row else None,
            list_id=list_id,
            reason=reason,
        )
    return outcome


def resubscribe(store: Store, list_id: int, subscriber_id: int, *, actor: str, reason: str) -> None:
    """Put someone who left a list back on it, with the reason (never a suppressed address)."""
    if not reason.strip():
        raise UsageError("say why they are put back (the reason is kept in the audit log)")
    row = store.subscriber_by_id(subscriber_id)
    if row is None:
        raise UsageError("no such subscriber")
    status = store.membership_status(list_id, subscriber_id)
    if status is None:
        raise UsageError(f"{row.email} was never on this list; add them instead")
    if status == MembershipStatus.ACTIVE:
        raise UsageError(f"{row.email} is already on this list")
    suppression = store.suppression(row.email)
    if suppression is not None:
        raise UsageError(
            f"{row.email} is suppressed ({suppression.reason}); lift the suppression first"
        )
    store.set_membership_status(
        list_id, subscriber_id, MembershipStatus.ACTIVE, reason=f"resubscribed: {reason}"
    )
    store.audit(
        actor,
        "resubscribe",
        subscriber_id=subscriber_id,
        email=row.email,
        list_id=list_id,
        reason=reason,
        was=str(status),
    )


def audited_import(
    store: Store,
    list_id: int,
    path: Path,
    *,
    actor: str,
    name: str | None = None,
    dry_run: bool = False,
    resubscribe: bool = False,
    **options: Any,
) -> ImportReport:
    """`import_csv`, with the act in the audit log (a dry run changes nothing: not logged)."""
    report = import_csv(
        store,
        list_id,
        path,
        dry_run=dry_run,
        resubscribe=resubscribe,
        origin=f"import:{name or path.name}",
        **options,
    )
    if not dry_run:
        store.audit(
            actor,
            "import",
            list_id=list_id,
            file=name or path.name,
            resubscribe=resubscribe,
            **report.as_json(),
        )
    return report


def audited_export(
    store: Store,
    list_id: int,
    out: Any,
    *,
    actor: str,
    status: MembershipStatus | None = None,
    raw: bool = False,
) -> int:
    """`export_csv`, with the act in the audit log (addresses leaving the system are noted)."""
    count = export_csv(store, list_id, out, status=status, raw=raw)
    store.audit(
        actor, "export", list_id=list_id, members=count, status=str(status or "all"), raw=raw
    )
    return count
