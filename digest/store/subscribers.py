"""Lists, subscribers, memberships and the global suppression list."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update

from digest.store.db import utcnow
from digest.store.schema import lists, memberships, subscribers, suppressions

ACTIVE = "active"
INACTIVE_STATUSES = ("unsubscribed", "bounced", "complained")


@dataclass(frozen=True)
class SubscriberRow:
    id: int
    email: str
    name: str
    attributes: dict[str, Any]
    status: str | None = None  # on the list asked about


class SubscriberQueries:
    engine: Engine

    def ensure_list(self, name: str, title: str = "") -> int:
        with self.engine.begin() as conn:
            found = conn.execute(select(lists.c.id).where(lists.c.name == name)).scalar()
            if found is not None:
                if title:
                    conn.execute(update(lists).where(lists.c.id == found).values(title=title))
                return int(found)
            return int(
                conn.execute(
                    insert(lists).values(name=name, title=title, created_at=utcnow())
                ).inserted_primary_key[0]  # type: ignore[index]
            )

    def list_id(self, name: str) -> int | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(lists.c.id).where(lists.c.name == name)).scalar()
        return None if found is None else int(found)

    def upsert_subscriber(
        self,
        list_id: int,
        email: str,
        *,
        name: str = "",
        attributes: dict[str, Any] | None = None,
        origin: str = "",
        status: str = ACTIVE,
        resubscribe: bool = False,
    ) -> str:
        """Add or update one subscriber on a list; returns "imported", "updated" or "unchanged".

        An address that left the list (unsubscribed, bounced, complained) is never put back
        unless `resubscribe` says so explicitly.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(subscribers.c.id, subscribers.c.name, subscribers.c.attributes).where(
                    subscribers.c.email == email
                )
            ).first()
            changed = False
            if row is None:
                subscriber_id = conn.execute(
                    insert(subscribers).values(
                        email=email,
                        name=name,
                        attributes=attributes or {},
                        created_at=now,
                        updated_at=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            else:
                subscriber_id = row.id
                merged = {**(row.attributes or {}), **(attributes or {})}
                new_name = name or row.name
                if new_name != row.name or merged != (row.attributes or {}):
                    conn.execute(
                        update(subscribers)
                        .where(subscribers.c.id == subscriber_id)
                        .values(name=new_name, attributes=merged, updated_at=now)
                    )
                    changed = True
            membership = conn.execute(
                select(memberships.c.id, memberships.c.status).where(
                    and_(
                        memberships.c.list_id == list_id,
                        memberships.c.subscriber_id == subscriber_id,
                    )
                )
            ).first()
            if membership is None:
                conn.execute(
                    insert(memberships).values(
                        list_id=list_id,
                        subscriber_id=subscriber_id,
                        status=status,
                        origin=origin,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return "imported"
            if membership.status != status and (
                membership.status not in INACTIVE_STATUSES or resubscribe
            ):
                conn.execute(
                    update(memberships)
                    .where(memberships.c.id == membership.id)
                    .values(status=status, updated_at=now)
                )
                changed = True
            return "updated" if changed else "unchanged"

    def set_membership_status(self, list_id: int, subscriber_id: int, status: str) -> bool:
        """Change one membership's status; False when there is no such membership."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(memberships)
                .where(
                    and_(
                        memberships.c.list_id == list_id,
                        memberships.c.subscriber_id == subscriber_id,
                    )
                )
                .values(status=status, updated_at=utcnow())
            )
        return bool(result.rowcount)

    def subscriber_by_email(self, email: str) -> SubscriberRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
        if row is None:
            return None
        return SubscriberRow(row.id, row.email, row.name, dict(row.attributes or {}))

    def members(self, list_id: int, status: str | None = None) -> Iterator[SubscriberRow]:
        """Stream a list's members (never all in memory at once)."""
        query = (
            select(
                subscribers.c.id,
                subscribers.c.email,
                subscribers.c.name,
                subscribers.c.attributes,
                memberships.c.status,
            )
            .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
            .where(memberships.c.list_id == list_id)
            .order_by(subscribers.c.id)
        )
        if status:
            query = query.where(memberships.c.status == status)
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(query):
                yield SubscriberRow(
                    row.id, row.email, row.name, dict(row.attributes or {}), row.status
                )

    def count_members(self, list_id: int) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(memberships.c.status, func.count())
                .where(memberships.c.list_id == list_id)
                .group_by(memberships.c.status)
            ).all()
        return {status: int(count) for status, count in rows}

    def suppress(self, email: str, reason: str, detail: str = "") -> None:
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(suppressions.c.email).where(suppressions.c.email == email)
            ).first()
            if exists is None:
                conn.execute(
                    insert(suppressions).values(
                        email=email, reason=reason, detail=detail, created_at=utcnow()
                    )
                )

    def is_suppressed(self, email: str) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(suppressions.c.email).where(suppressions.c.email == email)
                ).first()
                is not None
            )
