"""What comes back from outside: the global suppression list, events that providers and
subscribers report, and webhook receipts (so a replayed webhook is applied once).

The suppression list is global: an address on it gets nothing, whatever its memberships say
(the ledger checks it at claim time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from digest.dates import utcnow
from digest.models import MembershipStatus
from digest.store.db import as_utc, dialect_insert
from digest.store.schema import (
    deliveries,
    events,
    issues,
    memberships,
    subscribers,
    suppressions,
    webhook_receipts,
)

RECEIPT_TTL = timedelta(days=7)  # longer than any webhook timestamp tolerance


@dataclass(frozen=True)
class SuppressionRow:
    email: str
    reason: str
    detail: str
    created_at: datetime


@dataclass(frozen=True)
class EventRow:
    id: int
    provider: str
    kind: str
    email: str | None
    payload: dict[str, Any]
    received_at: datetime


def add_event(
    conn: Connection, provider: str, kind: str, email: str | None, payload: dict[str, Any]
) -> int:
    """Record an event inside the caller's transaction; returns its id."""
    result = conn.execute(
        insert(events).values(
            provider=provider,
            kind=kind[:50],
            email=email[:320] if email else None,
            payload=payload,
            received_at=utcnow(),
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _insert_new(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> int:
    """Insert the rows, silently keeping what another writer inserted first; rows inserted."""
    if not rows:
        return 0
    # rowcount is unreliable here (psycopg reports -1), so count the rows RETURNING gives back
    statement = (
        dialect_insert(conn.dialect.name, table)
        .on_conflict_do_nothing()
        .returning(*table.primary_key.columns)
    )
    return len(conn.execute(statement, rows).all())


class FeedbackQueries:
    engine: Engine

    # -- leaving on a provider's word --------------------------------------------------------

    def stop_address(
        self,
        email: str,
        status: MembershipStatus,
        *,
        reason: str,
        detail: str = "",
        list_id: int | None = None,
    ) -> int:
        """An address must stop getting mail: memberships it has (on one list or all) change.

        `bounced` and `complained` also put the address on the global suppression list;
        `unsubscribed` only leaves the list(s). Returns how many memberships changed.
        """
        assert status in MembershipStatus.INACTIVE
        now = utcnow()
        with self.engine.begin() as conn:
            if status in MembershipStatus.SUPPRESSING:
                _insert_new(
                    conn,
                    suppressions,
                    [{"email": email, "reason": reason, "detail": detail, "created_at": now}],
                )
            subscriber_id = conn.execute(
                select(subscribers.c.id).where(subscribers.c.email == email)
            ).scalar()
            if subscriber_id is None:
                return 0
            query = update(memberships).where(
                memberships.c.subscriber_id == subscriber_id,
                memberships.c.status.in_(MembershipStatus.JOINED),
            )
            if list_id is not None:
                query = query.where(memberships.c.list_id == list_id)
            result = conn.execute(query.values(status=status, status_reason=reason, updated_at=now))
        return int(result.rowcount or 0)

    def list_of_message(self, provider_message_id: str) -> int | None:
        """The list an issue went to, found from one of its messages' provider id."""
        bare = provider_message_id.strip().strip("<>")
        candidates = {provider_message_id, bare, f"<{bare}>"}  # providers differ on brackets
        with self.engine.connect() as conn:
            content = conn.execute(
                select(issues.c.content)
                .join(deliveries, deliveries.c.issue_id == issues.c.id)
                .where(deliveries.c.provider_message_id.in_(candidates))
                .limit(1)
            ).scalar()
        if isinstance(content, dict) and isinstance(content.get("list_id"), int):
            return int(content["list_id"])
        return None

    # -- suppression -------------------------------------------------------------------------

    def suppress(self, email: str, reason: str, detail: str = "") -> None:
        with self.engine.begin() as conn:
            _insert_new(
                conn,
                suppressions,
                [{"email": email, "reason": reason, "detail": detail, "created_at": utcnow()}],
            )

    def unsuppress(self, email: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(delete(suppressions).where(suppressions.c.email == email))
        return bool(result.rowcount)

    def is_suppressed(self, email: str) -> bool:
        return self.suppression(email) is not None

    def suppression(self, email: str) -> SuppressionRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(suppressions).where(suppressions.c.email == email)).first()
        if row is None:
            return None
        return SuppressionRow(row.email, row.reason, row.detail, as_utc(row.created_at) or utcnow())

    # -- events and webhook receipts ---------------------------------------------------------

    def record_event(
        self, provider: str, kind: str, email: str | None, payload: dict[str, Any]
    ) -> int:
        """Keep what a provider or subscriber told us; returns the event's id."""
        with self.engine.begin() as conn:
            return add_event(conn, provider, kind, email, payload)

    def events_for(
        self, email: str | None = None, *, provider: str | None = None, limit: int = 100
    ) -> list[EventRow]:
        query = select(events).order_by(events.c.id.desc()).limit(limit)
        if email is not None:
            query = query.where(events.c.email == email)
        if provider is not None:
            query = query.where(events.c.provider == provider)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            EventRow(
                row.id,
                row.provider,
                row.kind,
                row.email,
                dict(row.payload or {}),
                as_utc(row.received_at) or utcnow(),
            )
            for row in rows
        ]

    def first_receipt(self, provider: str, key: str) -> bool:
        """Remember a webhook delivery's key; False when it was seen before (a replay)."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                delete(webhook_receipts).where(webhook_receipts.c.received_at < now - RECEIPT_TTL)
            )
            inserted = _insert_new(
                conn,
                webhook_receipts,
                [{"provider": provider, "key": key[:300], "received_at": now}],
            )
        return inserted == 1

    def forget_receipt(self, provider: str, key: str) -> None:
        """Undo `first_receipt` for a delivery whose handling failed, so its retry is taken."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(webhook_receipts).where(
                    webhook_receipts.c.provider == provider, webhook_receipts.c.key == key[:300]
                )
            )
