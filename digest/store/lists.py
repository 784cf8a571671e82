"""Lists, subscribers and memberships: who gets which list, and how they join and leave.

A membership's status (`MembershipStatus`) says whether one subscriber gets one list. Nothing
here ever moves someone who left back to `active` unless the caller says so explicitly. An
active membership can be paused until a moment (`paused_until`): no issue frozen before then is
planned for it, and none is sent to it meanwhile.
Joining, leaving and pausing live in `consent`; suppressions and what providers report in
`feedback`; bulk imports in `bulk_import`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, func, insert, select, update

from digest.dates import utcnow
from digest.models import MembershipStatus
from digest.store.db import as_utc
from digest.store.schema import (
    lists,
    memberships,
    subscribers,
)


@dataclass(frozen=True)
class SubscriberRow:
    id: int
    email: str
    name: str
    attributes: dict[str, Any]
    status: str | None = None  # on the list asked about: a MembershipStatus value
    created_at: datetime | None = None
    origin: str | None = None  # on the list asked about


@dataclass(frozen=True)
class ListRow:
    id: int
    name: str
    title: str
    created_at: datetime
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class MembershipRow:
    list_id: int
    list_name: str
    status: MembershipStatus
    origin: str
    created_at: datetime
    updated_at: datetime
    status_reason: str | None
    confirmed_at: datetime | None
    consent_ip: str | None = None
    paused_until: datetime | None = None  # a past moment means the pause has ended

    def paused(self, now: datetime) -> bool:
        """Whether issues frozen at `now` skip this membership."""
        return self.paused_until is not None and self.paused_until > now


class ListQueries:
    engine: Engine

    # -- lists -------------------------------------------------------------------------------

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

    def list_name(self, list_id: int) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(lists.c.name).where(lists.c.id == list_id)).scalar()
        return None if found is None else str(found)

    def lists_overview(self) -> list[ListRow]:
        """Every stored list with its member counts by status."""
        with self.engine.connect() as conn:
            counts: dict[int, dict[str, int]] = {}
            for list_id, status, count in conn.execute(
                select(memberships.c.list_id, memberships.c.status, func.count()).group_by(
                    memberships.c.list_id, memberships.c.status
                )
            ):
                counts.setdefault(int(list_id), {})[status] = int(count)
            rows = conn.execute(select(lists).order_by(lists.c.name)).all()
        return [
            ListRow(
                row.id,
                row.name,
                row.title,
                as_utc(row.created_at) or utcnow(),
                counts.get(row.id, {}),
            )
            for row in rows
        ]

    # -- subscribers -------------------------------------------------------------------------

    def upsert_subscriber(
        self,
        list_id: int,
        email: str,
        *,
        name: str = "",
        attributes: dict[str, Any] | None = None,
        origin: str = "",
        status: MembershipStatus = MembershipStatus.ACTIVE,
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
                membership.status not in MembershipStatus.INACTIVE or resubscribe
            ):
                conn.execute(
                    update(memberships)
                    .where(memberships.c.id == membership.id)
                    .values(
                        status=status,
                        status_reason=origin or None,
                        paused_until=None,  # a pause belongs to the membership that was
                        updated_at=now,
                    )
                )
                changed = True
            return "updated" if changed else "unchanged"

    def set_membership_status(
        self,
        list_id: int,
        subscriber_id: int,
        status: MembershipStatus,
        reason: str | None = None,
    ) -> bool:
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
                .values(status=status, status_reason=reason, updated_at=utcnow())
            )
        return bool(result.rowcount)

    def subscriber_by_email(self, email: str) -> SubscriberRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
        if row is None:
            return None
        return SubscriberRow(
            row.id,
            row.email,
            row.name,
            dict(row.attributes or {}),
            created_at=as_utc(row.created_at),
        )

    def subscriber_by_id(self, subscriber_id: int) -> SubscriberRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        if row is None:
            return None
        return SubscriberRow(
            row.id,
            row.email,
            row.name,
            dict(row.attributes or {}),
            created_at=as_utc(row.created_at),
        )

    def find_subscribers(self, query: str, limit: int = 50) -> list[SubscriberRow]:
        """Subscribers whose address contains `query` (addresses are stored lower-cased);
        an exact match comes first."""
        needle = query.strip().lower()
        if not needle:
            return []
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscribers)
                .where(subscribers.c.email.like(f"%{escaped}%", escape="\\"))
                .order_by((subscribers.c.email != needle), subscribers.c.email)
                .limit(limit)
            ).all()
        return [
            SubscriberRow(
                row.id,
                row.email,
                row.name,
                dict(row.attributes or {}),
                created_at=as_utc(row.created_at),
            )
            for row in rows
        ]

    def memberships_of(self, subscriber_id: int) -> list[MembershipRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(memberships, lists.c.name.label("list_name"))
                .join(lists, lists.c.id == memberships.c.list_id)
                .where(memberships.c.subscriber_id == subscriber_id)
                .order_by(lists.c.name)
            ).all()
        return [
            MembershipRow(
                row.list_id,
                row.list_name,
                MembershipStatus(row.status),
                row.origin,
                as_utc(row.created_at) or utcnow(),
                as_utc(row.updated_at) or utcnow(),
                row.status_reason,
                as_utc(row.confirmed_at),
                row.consent_ip,
                as_utc(row.paused_until),
            )
            for row in rows
        ]

    def membership_status(self, list_id: int, subscriber_id: int) -> MembershipStatus | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(memberships.c.status).where(
                    memberships.c.list_id == list_id,
                    memberships.c.subscriber_id == subscriber_id,
                )
            ).scalar()
        return None if found is None else MembershipStatus(found)

    def members(
        self, list_id: int, status: MembershipStatus | None = None
    ) -> Iterator[SubscriberRow]:
        """Stream a list's members (never all in memory at once)."""
        query = (
            select(
                subscribers.c.id,
                subscribers.c.email,
                subscribers.c.name,
                subscribers.c.attributes,
                memberships.c.status,
                memberships.c.created_at,
                memberships.c.origin,
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
                    row.id,
                    row.email,
                    row.name,
                    dict(row.attributes or {}),
                    row.status,
                    as_utc(row.created_at),
                    row.origin,
                )

    def count_members(self, list_id: int) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(memberships.c.status, func.count())
                .where(memberships.c.list_id == list_id)
                .group_by(memberships.c.status)
            ).all()
        return {status: int(count) for status, count in rows}
