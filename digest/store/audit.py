"""The audit log: who did what to which subscriber or list, from the desk or the command line.

Subscribers' own acts (one-click unsubscribe, confirmation) and providers' reports (bounces,
complaints) are events (feedback.py); the audit log holds what staff did, with their reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, or_, select

from digest.dates import utcnow
from digest.store.db import as_utc
from digest.store.schema import audit

__all__ = ["AuditQueries", "AuditRow"]


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    subscriber_id: int | None
    email: str | None
    list_id: int | None
    detail: dict[str, Any] = field(default_factory=dict)


class AuditQueries:
    engine: Engine

    def audit(
        self,
        actor: str,
        action: str,
        *,
        subscriber_id: int | None = None,
        email: str | None = None,
        list_id: int | None = None,
        **detail: Any,
    ) -> int:
        """Record one act; returns its id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(audit).values(
                    at=utcnow(),
                    actor=actor[:200],
                    action=action[:50],
                    subscriber_id=subscriber_id,
                    email=email,
                    list_id=list_id,
                    detail=detail,
                )
            )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def audit_log(
        self,
        *,
        subscriber_id: int | None = None,
        email: str | None = None,
        list_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditRow]:
        """The newest acts first: about one subscriber (by id or address), one list, or all."""
        query = select(audit).order_by(audit.c.id.desc()).limit(limit)
        about = []
        if subscriber_id is not None:
            about.append(audit.c.subscriber_id == subscriber_id)
        if email is not None:
            about.append(audit.c.email == email)
        if about:
            query = query.where(or_(*about))
        if list_id is not None:
            query = query.where(audit.c.list_id == list_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            AuditRow(
                row.id,
                as_utc(row.at) or utcnow(),
                row.actor,
                row.action,
                row.subscriber_id,
                row.email,
                row.list_id,
                dict(row.detail or {}),
            )
            for row in rows
        ]
