"""Consent: how someone joins a list (sign-up, confirmation), leaves it, or pauses it.

Every change is recorded as an event (`feedback.add_event`) with where it came from. Nothing
here moves someone who left back to `active` without a confirmed request. Confirmation messages
are counted per address (`claim_confirmation`) so a sign-up form cannot mail-bomb anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine, delete, insert, select, update

from digest.dates import utcnow
from digest.models import MembershipStatus
from digest.store.db import as_utc
from digest.store.feedback import add_event
from digest.store.schema import confirmation_sends, memberships, subscribers, suppressions

__all__ = ["ConsentQueries", "SubscribeOutcome"]

SubscribeOutcome = Literal["confirm", "activated", "nothing"]


class ConsentQueries:
    engine: Engine

    # -- joining -----------------------------------------------------------------------------

    def request_subscription(
        self,
        list_id: int,
        email: str,
        *,
        name: str = "",
        double_opt_in: bool,
        origin: str = "web",
        client: str | None = None,
    ) -> tuple[SubscribeOutcome, int | None]:
        """Someone asked to join a list; what to do next, and the subscriber id.

        "confirm": send a confirmation link (double opt-in, or someone who had left and asks to
        come back: their earlier choice is only overridden by a confirmed request).
        "activated": a new member, active at once (no double opt-in). "nothing": already a
        member, or the address is suppressed. The caller's answer must not tell these apart.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            if conn.execute(
                select(suppressions.c.email).where(suppressions.c.email == email)
            ).first():
                return "nothing", None
            found = conn.execute(
                select(subscribers.c.id).where(subscribers.c.email == email)
            ).scalar()
            if found is None:
                found = conn.execute(
                    insert(subscribers).values(
                        email=email, name=name, attributes={}, created_at=now, updated_at=now
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            subscriber_id = int(found)
            status = conn.execute(
                select(memberships.c.status).where(
                    memberships.c.list_id == list_id, memberships.c.subscriber_id == subscriber_id
                )
            ).scalar()
            if status is None:
                new_status = MembershipStatus.PENDING if double_opt_in else MembershipStatus.ACTIVE
                conn.execute(
                    insert(memberships).values(
                        list_id=list_id,
                        subscriber_id=subscriber_id,
                        status=new_status,
                        origin=origin,
                        status_reason="signup",
                        consent_ip=client if not double_opt_in else None,
                        created_at=now,
                        updated_at=now,
                    )
                )
                return ("confirm" if double_opt_in else "activated"), subscriber_id
            if status == MembershipStatus.ACTIVE:
                return "nothing", subscriber_id
            return "confirm", subscriber_id  # pending again, or someone who left asking back

    def claim_confirmation(self, email: str, *, every: timedelta, per_day: int) -> bool:
        """Whether a confirmation message may go to `email` now, counting it if so: none in the
        last `every`, fewer than `per_day` in the last 24 hours, whichever client asks.

        Requests for one address are counted in turn: SQLite transactions are BEGIN IMMEDIATE,
        and on PostgreSQL the subscriber's row (a sign-up made it) is locked first.
        """
        now = utcnow()
        day = timedelta(days=1)
        with self.engine.begin() as conn:
            conn.execute(
                select(subscribers.c.id).where(subscribers.c.email == email).with_for_update()
            )
            conn.execute(
                delete(confirmation_sends).where(
                    confirmation_sends.c.sent_at <= now - max(every, day)
                )
            )
            sent = [
                as_utc(at) or now
                for at in conn.execute(
                    select(confirmation_sends.c.sent_at).where(confirmation_sends.c.email == email)
                ).scalars()
            ]
            if (
                any(at > now - every for at in sent)
                or sum(at > now - day for at in sent) >= per_day
            ):
                return False
            conn.execute(insert(confirmation_sends).values(email=email, sent_at=now))
            return True

    def confirm_subscription(
        self, list_id: int, subscriber_id: int, *, client: str | None = None
    ) -> bool:
        """Activate a membership from a confirmed link; False when there is nothing to confirm.

        Confirming twice is harmless. A suppressed address is never activated.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(memberships.c.id, memberships.c.status, subscribers.c.email)
                .join(subscribers, subscribers.c.id == memberships.c.subscriber_id)
                .where(
                    memberships.c.list_id == list_id, memberships.c.subscriber_id == subscriber_id
                )
            ).first()
            if row is None:
                return False
            if conn.execute(
                select(suppressions.c.email).where(suppressions.c.email == row.email)
            ).first():
                return False
            if row.status != MembershipStatus.ACTIVE:
                conn.execute(
                    update(memberships)
                    .where(memberships.c.id == row.id)
                    .values(
                        status=MembershipStatus.ACTIVE,
                        status_reason="confirmed",
                        confirmed_at=now,
                        consent_ip=client,
                        paused_until=None,  # a new confirmed sign-up starts unpaused
                        updated_at=now,
                    )
                )
                add_event(conn, "web", "confirmed", row.email, {"list_id": list_id})
            return True

    # -- leaving -----------------------------------------------------------------------------

    def unsubscribe(
        self, list_id: int, subscriber_id: int, *, source: str, reason: str
    ) -> Literal["unsubscribed", "already", "unknown"]:
        """Take one subscriber off one list and record it; calling it again changes nothing.

        Frozen issues still sending skip this person: the ledger checks memberships at claim.
        """
        with self.engine.begin() as conn:
            return _leave(conn, list_id, subscriber_id, source=source, reason=reason)

    def unsubscribe_all(self, subscriber_id: int, *, source: str, reason: str) -> list[int]:
        """Take a subscriber off every list they are on (or asked to join), in one transaction,
        each recorded as `unsubscribe` does; the lists they left."""
        with self.engine.begin() as conn:
            joined = conn.execute(
                select(memberships.c.list_id)
                .where(
                    memberships.c.subscriber_id == subscriber_id,
                    memberships.c.status.in_(MembershipStatus.JOINED),
                )
                .order_by(memberships.c.list_id)
            ).scalars()
            return [
                int(list_id)
                for list_id in list(joined)
                if _leave(conn, list_id, subscriber_id, source=source, reason=reason)
                == "unsubscribed"
            ]

    # -- pausing -----------------------------------------------------------------------------

    def pause(
        self,
        subscriber_id: int,
        until: datetime,
        *,
        source: str,
        list_ids: Sequence[int] | None = None,
    ) -> list[int]:
        """Pause the subscriber's active memberships (all, or those of `list_ids`) until then.

        Pausing again moves the end. Recorded as a `pause` event; returns the lists paused.
        """
        until = as_utc(until) or until
        with self.engine.begin() as conn:
            query = select(memberships.c.list_id).where(
                memberships.c.subscriber_id == subscriber_id,
                memberships.c.status == MembershipStatus.ACTIVE,
            )
            if list_ids is not None:
                query = query.where(memberships.c.list_id.in_(list_ids))
            paused = sorted(int(found) for found in conn.execute(query).scalars())
            if not paused:
                return []
            conn.execute(
                update(memberships)
                .where(
                    memberships.c.subscriber_id == subscriber_id,
                    memberships.c.list_id.in_(paused),
                )
                .values(paused_until=until, updated_at=utcnow())
            )
            _subscriber_event(
                conn,
                source,
                "pause",
                subscriber_id,
                {"list_ids": paused, "until": until.isoformat()},
            )
        return paused

    def resume(self, subscriber_id: int, *, source: str) -> list[int]:
        """End the subscriber's running pauses now; a `resume` event if any ran. The lists."""
        now = utcnow()
        with self.engine.begin() as conn:
            running = sorted(
                int(found)
                for found in conn.execute(
                    select(memberships.c.list_id).where(
                        memberships.c.subscriber_id == subscriber_id,
                        memberships.c.paused_until > now,
                    )
                ).scalars()
            )
            if not running:
                return []
            conn.execute(
                update(memberships)
                .where(
                    memberships.c.subscriber_id == subscriber_id,
                    memberships.c.list_id.in_(running),
                )
                .values(paused_until=None, updated_at=now)
            )
            _subscriber_event(conn, source, "resume", subscriber_id, {"list_ids": running})
        return running


def _leave(
    conn: Connection, list_id: int, subscriber_id: int, *, source: str, reason: str
) -> Literal["unsubscribed", "already", "unknown"]:
    """One subscriber leaves one list, recorded as an `unsubscribe` event (any pause ends)."""
    row = conn.execute(
        select(memberships.c.id, memberships.c.status, subscribers.c.email)
        .join(subscribers, subscribers.c.id == memberships.c.subscriber_id)
        .where(memberships.c.list_id == list_id, memberships.c.subscriber_id == subscriber_id)
    ).first()
    if row is None:
        return "unknown"
    if row.status in MembershipStatus.INACTIVE:
        return "already"
    conn.execute(
        update(memberships)
        .where(memberships.c.id == row.id)
        .values(
            status=MembershipStatus.UNSUBSCRIBED,
            status_reason=reason,
            paused_until=None,
            updated_at=utcnow(),
        )
    )
    add_event(
        conn,
        source,
        "unsubscribe",
        row.email,
        {"list_id": list_id, "subscriber_id": subscriber_id, "reason": reason},
    )
    return "unsubscribed"


def _subscriber_event(
    conn: Connection, source: str, kind: str, subscriber_id: int, payload: dict[str, Any]
) -> None:
    email = conn.execute(
        select(subscribers.c.email).where(subscribers.c.id == subscriber_id)
    ).scalar()
    add_event(conn, source, kind, email, {"subscriber_id": subscriber_id, **payload})
