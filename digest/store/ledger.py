"""The delivery ledger: one row per (issue, subscriber); batches are leased, sent, recorded.

PostgreSQL: several senders claim disjoint batches with `FOR UPDATE SKIP LOCKED` and a lease; a
sender that dies leaves rows in `sending` whose lease expires, and any sender takes them over.
SQLite: every transaction is BEGIN IMMEDIATE, so one writer claims at a time.

A batch taken over from an expired lease is handed out alone, as it was leased (the rows of one
lease share its owner and its end), so a provider's idempotency key derived from the batch is
the same on the second try; its rows are in doubt (the dead sender may have sent them), as are
rows whose last answer was lost (`in_doubt`), and the sender reconciles them with the provider
before sending them again, where the provider can be asked.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, or_, select, update

from digest.dates import utcnow
from digest.models import DeliveryStatus, IssueStatus, MembershipStatus, Outcome, SendResult
from digest.schedule import next_local_hour
from digest.store.db import as_utc, driver_value
from digest.store.schema import deliveries, issues, memberships, subscribers, suppressions

# What each provider outcome makes of its delivery. Plain strings: they are bound straight
# through the driver, once per message, and the driver takes a str subclass the slow way.
_STATUS = {
    Outcome.SENT: DeliveryStatus.SENT.value,
    Outcome.FAILED: DeliveryStatus.FAILED.value,
    Outcome.RETRY: DeliveryStatus.RETRY.value,
    Outcome.SUPPRESSED: DeliveryStatus.SUPPRESSED.value,
}


@dataclass(frozen=True)
class DeliveryRow:
    """A claimed delivery, with what personalization needs."""

    id: int
    subscriber_id: int
    email: str
    name: str
    attributes: dict[str, Any]
    attempts: int
    # Set when an earlier attempt may have reached the provider: when its answer was lost, or
    # when its batch was claimed (for a lease that expired since). That attempt began within a
    # lease before this time, and the provider had it, if at all, soon after.
    in_doubt_since: datetime | None = None

    @property
    def in_doubt(self) -> bool:
        return self.in_doubt_since is not None


@dataclass(frozen=True)
class SubscriberDelivery:
    """One delivery to one subscriber, with its issue, for the operator's subscriber page."""

    issue_id: int
    digest: str
    subject: str
    status: DeliveryStatus
    attempts: int
    updated_at: datetime
    error: str | None
    provider_message_id: str | None


class LedgerQueries:
    engine: Engine

    def claim_batch(
        self, issue_id: int, list_id: int, owner: str, size: int, lease: timedelta
    ) -> list[DeliveryRow]:
        """Lease up to `size` deliveries that are due; skip those no longer allowed to receive.

        Due: sending whose lease expired (its sender died), first and alone, one lease's rows
        (they come back in doubt); else pending (once its not-before time, if any, has come)
        and retry whose time has come.
        A member who unsubscribed, bounced, complained or paused since the issue was frozen, or
        whose address is now suppressed, is marked `skipped` instead of being handed out.
        """
        now = utcnow()
        # Narrow queries rather than one OR: each walks the (issue_id, status) index, so a claim
        # costs the same at the ten-thousandth batch as at the first.
        kinds = (
            and_(
                deliveries.c.status == DeliveryStatus.PENDING,
                or_(deliveries.c.not_before.is_(None), deliveries.c.not_before <= now),
            ),
            and_(deliveries.c.status == DeliveryStatus.RETRY, deliveries.c.next_attempt_at <= now),
        )
        with self.engine.begin() as conn:
            ids = _expired_lease(conn, issue_id, size, now)  # a dead sender's batch, alone
            for due in kinds if not ids else ():
                if len(ids) >= size:
                    break
                ids += conn.execute(
                    select(deliveries.c.id)
                    .where(deliveries.c.issue_id == issue_id, due)
                    .order_by(deliveries.c.id)
                    .limit(size - len(ids))
                    .with_for_update(skip_locked=True)
                ).scalars()
            if not ids:
                return []
            rows = conn.execute(
                select(
                    deliveries.c.id,
                    deliveries.c.attempts,
                    deliveries.c.status,
                    deliveries.c.in_doubt_since,
                    deliveries.c.updated_at,
                    subscribers.c.id.label("subscriber_id"),
                    subscribers.c.email,
                    subscribers.c.name,
                    subscribers.c.attributes,
                    memberships.c.status.label("membership"),
                    memberships.c.paused_until,
                    suppressions.c.reason.label("suppressed"),
                )
                .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                .outerjoin(
                    memberships,
                    and_(
                        memberships.c.subscriber_id == subscribers.c.id,
                        memberships.c.list_id == list_id,
                    ),
                )
                .outerjoin(suppressions, suppressions.c.email == subscribers.c.email)
                .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
                .order_by(deliveries.c.id),
                {"ids": ids},
            ).all()
            claimed: list[DeliveryRow] = []
            skipped: list[dict[str, Any]] = []
            for row in rows:
                paused = (as_utc(row.paused_until) or now) > now
                if row.membership != MembershipStatus.ACTIVE or row.suppressed or paused:
                    if row.suppressed:
                        reason = f"suppressed ({row.suppressed})"
                    elif row.membership == MembershipStatus.ACTIVE:
                        reason = "paused before sending"
                    else:
                        reason = f"{row.membership or 'removed'} before sending"
                    skipped.append({"b_id": row.id, "b_error": reason})
                    continue
                doubt = as_utc(row.in_doubt_since)
                if row.status == DeliveryStatus.SENDING:  # its sender died: since its claim
                    doubt = as_utc(row.updated_at) or now
                claimed.append(
                    DeliveryRow(
                        id=row.id,
                        subscriber_id=row.subscriber_id,
                        email=row.email,
                        name=row.name,
                        attributes=dict(row.attributes or {}),
                        attempts=row.attempts + 1,
                        in_doubt_since=doubt,
                    )
                )
            if skipped:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id == bindparam("b_id"))
                    .values(
                        status=DeliveryStatus.SKIPPED, error=bindparam("b_error"), updated_at=now
                    ),
                    skipped,
                )
            if claimed:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
                    .values(
                        status=DeliveryStatus.SENDING,
                        lease_until=now + lease,
                        lease_owner=owner,
                        attempts=deliveries.c.attempts + 1,
                        updated_at=now,
                    ),
                    {"ids": [row.id for row in claimed]},
                )
        return claimed

    def record_results(
        self,
        results: Sequence[SendResult],
        *,
        retry_at: dict[int, datetime],
        in_doubt_since: dict[int, datetime] | None = None,
    ) -> None:
        """Write each message's outcome; suppressed addresses also join the suppression list.

        `in_doubt_since` names the deliveries that may have been sent and since when (the rest
        are known: their doubt is cleared).

        This runs once per batch on the hot path, so it goes straight to the driver's
        executemany: SQLAlchemy's per-row parameter processing would cost more than the write.
        """
        if not results:
            return
        now = utcnow()
        sqlite = self.engine.dialect.name == "sqlite"

        def when(value: datetime | None) -> object:
            return driver_value(value, sqlite)

        stamp = when(now)
        doubt = in_doubt_since or {}
        rows = [
            (
                _STATUS[r.outcome],
                r.provider_message_id,
                r.error,
                when(retry_at.get(r.delivery_id)),
                stamp,
                when(doubt.get(r.delivery_id)),
                r.delivery_id,
            )
            for r in results
        ]
        mark = "?" if sqlite else "%s"
        statement = (
            f"UPDATE deliveries SET status = {mark}, provider_message_id = {mark}, "
            f"error = {mark}, next_attempt_at = {mark}, lease_until = NULL, "
            f"updated_at = {mark}, in_doubt_since = {mark} WHERE id = {mark}"
        )
        with self.engine.begin() as conn:
            conn.exec_driver_sql(statement, rows)
            suppressed_ids = [r.delivery_id for r in results if r.outcome is Outcome.SUPPRESSED]
            if suppressed_ids:
                emails = set(
                    conn.execute(
                        select(deliveries.c.email).where(deliveries.c.id.in_(suppressed_ids))
                    ).scalars()
                )
                known = set(
                    conn.execute(
                        select(suppressions.c.email).where(suppressions.c.email.in_(emails))
                    ).scalars()
                )
                fresh = [
                    {"email": e, "reason": "inactive", "detail": "provider", "created_at": now}
                    for e in sorted(emails - known)
                ]
                if fresh:
                    conn.execute(insert(suppressions), fresh)

    def renew_lease(self, delivery_ids: Sequence[int], owner: str, lease: timedelta) -> int:
        """Extend the lease of deliveries `owner` is still sending; how many it still held.

        A sender renews its batch while it works on it, so a batch waiting for its turn on a
        slow connection is not taken over by another sender as if its sender had died.
        """
        if not delivery_ids:
            return 0
        with self.engine.begin() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.id.in_(list(delivery_ids)),
                    deliveries.c.status == DeliveryStatus.SENDING,
                    deliveries.c.lease_owner == owner,
                )
                .values(lease_until=utcnow() + lease)
            )
        return int(done.rowcount)

    def release(
        self,
        delivery_ids: Sequence[int],
        *,
        status: DeliveryStatus = DeliveryStatus.PENDING,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        in_doubt_since: datetime | None = None,
        clear_doubt: bool = False,
    ) -> None:
        """Hand leased deliveries back (nothing was sent), or mark them failed/retry wholesale.

        `in_doubt_since` keeps them to be looked for at the provider before they are sent (an
        earlier attempt may have been accepted); `clear_doubt` forgets that; else it is left.
        """
        if not delivery_ids:
            return
        values: dict[str, Any] = {
            "status": status,
            "error": error,
            "next_attempt_at": next_attempt_at,
            "lease_until": None,
            "updated_at": utcnow(),
        }
        if in_doubt_since is not None or clear_doubt:
            values["in_doubt_since"] = in_doubt_since
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries).where(deliveries.c.id.in_(list(delivery_ids))).values(values)
            )

    def next_due(self, issue_id: int) -> datetime | None:
        """When the next delivery of this issue becomes claimable; None when nothing is left."""
        now = utcnow()
        pending = deliveries.c.status == DeliveryStatus.PENDING
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    func.min(deliveries.c.next_attempt_at).filter(
                        deliveries.c.status == DeliveryStatus.RETRY
                    ),
                    func.min(deliveries.c.lease_until).filter(
                        deliveries.c.status == DeliveryStatus.SENDING
                    ),
                    func.min(deliveries.c.not_before).filter(pending),
                    func.count().filter(
                        pending,
                        or_(deliveries.c.not_before.is_(None), deliveries.c.not_before <= now),
                    ),
                ).where(deliveries.c.issue_id == issue_id)
            ).one()
        if row[3]:
            return now
        times = [as_utc(value) for value in row[:3] if value is not None]
        return min(t for t in times if t is not None) if times else None

    def queue_depth(self) -> dict[str, int]:
        """Deliveries still to work, over every issue, by status (for /metrics)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count())
                .where(deliveries.c.status.in_(DeliveryStatus.OPEN))
                .group_by(deliveries.c.status)
            ).all()
        found = {str(status): 0 for status in DeliveryStatus.OPEN}
        found.update({str(status): int(count) for status, count in rows})
        return found

    def deliveries_to(self, subscriber_id: int, limit: int = 20) -> list[SubscriberDelivery]:
        """A subscriber's last deliveries, newest issue first, with their outcomes."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    deliveries.c.issue_id,
                    issues.c.digest,
                    issues.c.subject,
                    deliveries.c.status,
                    deliveries.c.attempts,
                    deliveries.c.updated_at,
                    deliveries.c.error,
                    deliveries.c.provider_message_id,
                )
                .join(issues, issues.c.id == deliveries.c.issue_id)
                .where(deliveries.c.subscriber_id == subscriber_id)
                .order_by(deliveries.c.issue_id.desc())
                .limit(limit)
            ).all()
        return [
            SubscriberDelivery(
                row.issue_id,
                row.digest,
                row.subject,
                DeliveryStatus(row.status),
                row.attempts,
                as_utc(row.updated_at) or utcnow(),
                row.error,
                row.provider_message_id,
            )
            for row in rows
        ]

    def failed_deliveries(self, issue_id: int, limit: int = 200) -> list[tuple[str, str]]:
        """(address, reason) of the issue's deliveries refused for good, for the editor."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.email, deliveries.c.error)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.status == DeliveryStatus.FAILED,
                )
                .order_by(deliveries.c.id)
                .limit(limit)
            ).all()
        return [(row.email, row.error or "") for row in rows]

    def requeue_failed(self, issue_id: int) -> int:
        """Put the issue's failed deliveries back in the queue (an editor's "resend to the
        failed ones"); suppressed and skipped ones stay as they are. Returns how many."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.issue_id == issue_id,
                    deliveries.c.status == DeliveryStatus.FAILED,
                )
                .values(
                    status=DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=None,
                    error=None,
                    updated_at=utcnow(),
                )
            )
            if done.rowcount:
                conn.execute(
                    update(issues)
                    .where(issues.c.id == issue_id)
                    .values(status=IssueStatus.SENDING, completed_at=None)
                )
        return int(done.rowcount)


def _expired_lease(conn: Connection, issue_id: int, size: int, now: datetime) -> list[int]:
    """The rows of the oldest expired lease of the issue (its sender died), locked; at most
    `size`. The rows of one lease share its owner and its end, so the batch is taken over as it
    was leased, not mixed with others."""
    rows = conn.execute(
        select(deliveries.c.id, deliveries.c.lease_owner, deliveries.c.lease_until)
        .where(
            deliveries.c.issue_id == issue_id,
            deliveries.c.status == DeliveryStatus.SENDING,
            deliveries.c.lease_until < now,
        )
        .order_by(deliveries.c.lease_until, deliveries.c.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    lease = (rows[0].lease_owner, rows[0].lease_until)
    return [row.id for row in rows if (row.lease_owner, row.lease_until) == lease]


def plan_local_hour(
    conn: Connection, issue_id: int, hour: int, default_zone: str, after: datetime
) -> dict[str, datetime]:
    """Hold each pending delivery of the issue until `hour`:00 in its subscriber's time zone.

    The zone is the subscriber's `timezone` column, else their `timezone` attribute (as a CSV
    import stores it), else `default_zone` (the digest's); an unknown zone name counts as unset.
    Returns the not-before time chosen per zone.
    """
    rows = conn.execute(
        select(deliveries.c.id, subscribers.c.timezone, subscribers.c.attributes)
        .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .where(deliveries.c.issue_id == issue_id, deliveries.c.status == DeliveryStatus.PENDING)
    )
    by_zone: dict[str, list[int]] = {}
    for row in rows:
        named = row.timezone or (row.attributes or {}).get("timezone") or default_zone
        zone = named if _known_zone(str(named)) else default_zone
        by_zone.setdefault(str(zone), []).append(row.id)
    chosen: dict[str, datetime] = {}
    for zone, ids in by_zone.items():
        chosen[zone] = next_local_hour(after, ZoneInfo(zone), hour)
        for start in range(0, len(ids), 1000):
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids[start : start + 1000]))
                .values(not_before=chosen[zone])
            )
    return chosen


@functools.lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
