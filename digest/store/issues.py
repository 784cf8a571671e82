"""Issues: claimed once per (digest, period), built as drafts, frozen, then delivered."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, literal, or_, select, update

from digest.dates import utcnow
from digest.errors import StoreError
from digest.models import DeliveryStatus, IssueStatus, MembershipStatus
from digest.store.db import as_utc, dialect_insert
from digest.store.ledger import plan_local_hour
from digest.store.schema import (
    deliveries,
    issues,
    memberships,
    sent_articles,
    subscribers,
    suppressions,
)


@dataclass(frozen=True)
class IssueRow:
    id: int
    digest: str
    period: str
    status: IssueStatus
    subject: str
    html: str
    text: str
    content: dict[str, Any]
    report: dict[str, Any]
    created_at: datetime
    frozen_at: datetime | None
    completed_at: datetime | None


def _issue(row: Any) -> IssueRow:
    return IssueRow(
        id=row.id,
        digest=row.digest,
        period=row.period,
        status=IssueStatus(row.status),
        subject=row.subject,
        html=row.html,
        text=row.text,
        content=dict(row.content or {}),
        report=dict(row.report or {}),
        created_at=as_utc(row.created_at) or utcnow(),
        frozen_at=as_utc(row.frozen_at),
        completed_at=as_utc(row.completed_at),
    )


class IssueQueries:
    engine: Engine

    def claim_issue(self, digest: str, period: str, owner: str) -> int | None:
        """Claim (digest, period); the id if this caller got it, None if someone already had it.

        `INSERT ... ON CONFLICT DO NOTHING RETURNING id`: of two processes firing for the same
        period, exactly one gets the row back and builds the issue.
        """
        statement = (
            dialect_insert(self.engine.dialect.name, issues)
            .values(
                digest=digest,
                period=period,
                status=IssueStatus.BUILDING,
                subject="",
                html="",
                text="",
                content={},
                report={},
                claimed_by=owner,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["digest", "period"])
            .returning(issues.c.id)
        )
        with self.engine.begin() as conn:
            found = conn.execute(statement).scalar()
        return None if found is None else int(found)

    def record_missed(self, digest: str, period: str, owner: str, reason: str) -> int | None:
        """Record (digest, period) as missed, with the reason, unless it was claimed meanwhile
        (another process reached the store in time); the id if this call recorded it."""
        now = utcnow()
        statement = (
            dialect_insert(self.engine.dialect.name, issues)
            .values(
                digest=digest,
                period=period,
                status=IssueStatus.MISSED,
                subject="",
                html="",
                text="",
                content={},
                report={"reason": reason},
                claimed_by=owner,
                created_at=now,
                completed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["digest", "period"])
            .returning(issues.c.id)
        )
        with self.engine.begin() as conn:
            found = conn.execute(statement).scalar()
        return None if found is None else int(found)

    def get_issue(self, issue_id: int) -> IssueRow:
        with self.engine.connect() as conn:
            row = conn.execute(select(issues).where(issues.c.id == issue_id)).first()
        if row is None:
            raise StoreError(f"no issue {issue_id}")
        return _issue(row)

    def issues_of(
        self,
        digest: str | None = None,
        *,
        statuses: Iterable[IssueStatus] | None = None,
        limit: int = 20,
    ) -> list[IssueRow]:
        query = select(issues).order_by(issues.c.id.desc()).limit(limit)
        if digest:
            query = query.where(issues.c.digest == digest)
        if statuses is not None:
            query = query.where(issues.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [_issue(row) for row in conn.execute(query)]

    def save_draft(
        self,
        issue_id: int,
        *,
        subject: str,
        html: str,
        text: str,
        content: dict[str, Any],
        report: dict[str, Any],
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(issues)
                .where(issues.c.id == issue_id)
                .values(
                    status=IssueStatus.DRAFT,
                    subject=subject,
                    html=html,
                    text=text,
                    content=content,
                    report=report,
                    built_at=utcnow(),
                )
            )

    def set_issue_status(
        self, issue_id: int, status: IssueStatus, *, report: dict[str, Any] | None = None
    ) -> None:
        values: dict[str, Any] = {"status": status}
        if report is not None:
            values["report"] = report
        if status in IssueStatus.ENDED:
            values["completed_at"] = utcnow()
        if status == IssueStatus.APPROVED:
            values["approved_at"] = utcnow()
        with self.engine.begin() as conn:
            conn.execute(update(issues).where(issues.c.id == issue_id).values(values))

    def delete_issue(self, issue_id: int) -> None:
        """Forget a claim that never became an issue (a preview, or a build that failed)."""
        with self.engine.begin() as conn:
            conn.execute(delete(issues).where(issues.c.id == issue_id))

    def freeze_issue(
        self,
        issue_id: int,
        digest: str,
        list_id: int,
        article_keys: list[str],
        *,
        local_hour: int | None = None,
        default_zone: str = "UTC",
    ) -> int:
        """Freeze the issue and plan its deliveries in one transaction; returns how many.

        One delivery per active member of the list who is neither suppressed nor paused (a
        member paused now skips this issue; the first one frozen after the pause is theirs).
        The articles are recorded as sent in this digest at the same moment, so no later issue
        repeats them.
        With `local_hour`, each delivery waits for that hour in its subscriber's time zone
        (decided in the same transaction, so no sender can pick one up early).
        """
        now = utcnow()
        with self.engine.begin() as conn:
            updated = conn.execute(
                update(issues)
                .where(and_(issues.c.id == issue_id, issues.c.status.in_(IssueStatus.EDITABLE)))
                .values(status=IssueStatus.FROZEN, frozen_at=now)
            )
            if not updated.rowcount:
                raise StoreError(f"issue {issue_id} is not a draft or approved issue")
            for key in dict.fromkeys(article_keys):
                conn.execute(
                    dialect_insert(self.engine.dialect.name, sent_articles)
                    .values(digest=digest, article_key=key, issue_id=issue_id)
                    .on_conflict_do_nothing(index_elements=["digest", "article_key"])
                )
            eligible = (
                select(
                    literal(issue_id),
                    subscribers.c.id,
                    subscribers.c.email,
                    literal(DeliveryStatus.PENDING, deliveries.c.status.type),
                    literal(0),
                    literal(now),
                )
                .join(memberships, memberships.c.subscriber_id == subscribers.c.id)
                .where(
                    memberships.c.list_id == list_id,
                    memberships.c.status == MembershipStatus.ACTIVE,
                    or_(memberships.c.paused_until.is_(None), memberships.c.paused_until <= now),
                )
                .where(~subscribers.c.email.in_(select(suppressions.c.email)))
            )
            conn.execute(
                dialect_insert(self.engine.dialect.name, deliveries)
                .from_select(
                    ["issue_id", "subscriber_id", "email", "status", "attempts", "updated_at"],
                    eligible,
                )
                .on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"])
            )
            if local_hour is not None:
                plan_local_hour(conn, issue_id, local_hour, default_zone, now)
            planned = conn.execute(
                select(func.count()).where(deliveries.c.issue_id == issue_id)
            ).scalar_one()
        return int(planned)

    def drafts_built_before(self, digest: str, before: datetime) -> list[int]:
        """Drafts of the digest built before `before`: those whose approval deadline has passed."""
        with self.engine.connect() as conn:
            return [
                int(found)
                for found in conn.execute(
                    select(issues.c.id)
                    .where(
                        issues.c.digest == digest,
                        issues.c.status == IssueStatus.DRAFT,
                        issues.c.built_at < before,
                    )
                    .order_by(issues.c.id)
                ).scalars()
            ]

    def drop_draft(self, issue_id: int, reason: str) -> bool:
        """Drop a draft that was never approved; False if it is no longer a draft (someone
        approved, froze or dropped it first), so only one process ever decides its fate."""
        with self.engine.begin() as conn:
            row = conn.execute(select(issues.c.report).where(issues.c.id == issue_id)).first()
            if row is None:
                return False
            report = {**dict(row.report or {}), "reason": reason}
            done = conn.execute(
                update(issues)
                .where(issues.c.id == issue_id, issues.c.status == IssueStatus.DRAFT)
                .values(status=IssueStatus.DROPPED, report=report, completed_at=utcnow())
            )
        return bool(done.rowcount)

    def update_draft(
        self, issue_id: int, *, subject: str, html: str, text: str, content: dict[str, Any]
    ) -> bool:
        """Replace a draft's rendering and content (an editor's change, a refresh); False when
        it is no longer a draft, so nothing changes an issue once it was approved."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(issues)
                .where(issues.c.id == issue_id, issues.c.status == IssueStatus.DRAFT)
                .values(subject=subject, html=html, text=text, content=content)
            )
        return bool(done.rowcount)

    def refresh_draft(
        self,
        issue_id: int,
        *,
        subject: str,
        html: str,
        text: str,
        content: dict[str, Any],
        report: dict[str, Any],
    ) -> bool:
        """Rebuild an untouched draft with new stories; False when it is no longer a draft."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(issues)
                .where(issues.c.id == issue_id, issues.c.status == IssueStatus.DRAFT)
                .values(
                    subject=subject,
                    html=html,
                    text=text,
                    content=content,
                    report=report,
                    built_at=utcnow(),
                )
            )
        return bool(done.rowcount)

    def set_public_edition(self, issue_id: int, html: str, text: str) -> None:
        """Keep the issue's web edition (nobody's data in it) beside its content."""
        with self.engine.begin() as conn:
            row = conn.execute(select(issues.c.content).where(issues.c.id == issue_id)).first()
            if row is not None:
                content = {**dict(row.content or {}), "public": {"html": html, "text": text}}
                conn.execute(update(issues).where(issues.c.id == issue_id).values(content=content))

    def approve_issue(self, issue_id: int, by: str) -> bool:
        """Approve a draft as it is now; False when it is no longer a draft."""
        with self.engine.begin() as conn:
            row = conn.execute(select(issues.c.report).where(issues.c.id == issue_id)).first()
            if row is None:
                return False
            report = {**dict(row.report or {}), "approved_by": by}
            done = conn.execute(
                update(issues)
                .where(issues.c.id == issue_id, issues.c.status == IssueStatus.DRAFT)
                .values(status=IssueStatus.APPROVED, approved_at=utcnow(), report=report)
            )
        return bool(done.rowcount)

    def drop_waiting(self, issue_id: int, reason: str) -> bool:
        """Drop a draft or an approved issue not yet frozen; False when it is neither."""
        with self.engine.begin() as conn:
            row = conn.execute(select(issues.c.report).where(issues.c.id == issue_id)).first()
            if row is None:
                return False
            report = {**dict(row.report or {}), "reason": reason}
            done = conn.execute(
                update(issues)
                .where(issues.c.id == issue_id, issues.c.status.in_(IssueStatus.EDITABLE))
                .values(status=IssueStatus.DROPPED, report=report, completed_at=utcnow())
            )
        return bool(done.rowcount)

    def stale_builds(self, before: datetime) -> list[IssueRow]:
        """Claims still `building` that were made before `before`: their builder likely died."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(issues)
                .where(issues.c.status == IssueStatus.BUILDING, issues.c.created_at < before)
                .order_by(issues.c.id)
            )
            return [_issue(row) for row in rows]

    def take_over_build(self, issue_id: int, owner: str, before: datetime) -> bool:
        """Take a stale claim over (still building, claimed before `before`); True for the one
        process that gets it. The claim time is renewed so the new builder is not taken over."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(issues)
                .where(
                    issues.c.id == issue_id,
                    issues.c.status == IssueStatus.BUILDING,
                    issues.c.created_at < before,
                )
                .values(claimed_by=owner, created_at=utcnow())
            )
        return bool(done.rowcount)

    def note_on_issue(self, issue_id: int, key: str, value: Any) -> None:
        """Add one entry to the issue's report, whatever its status (which is left alone)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(issues.c.report).where(issues.c.id == issue_id)).first()
            if row is not None:
                conn.execute(
                    update(issues)
                    .where(issues.c.id == issue_id)
                    .values(report={**dict(row.report or {}), key: value})
                )

    def last_claimed_at(self, digest: str) -> datetime | None:
        """When the digest's latest issue was claimed (any period); None if it never was."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(func.max(issues.c.created_at)).where(issues.c.digest == digest)
            ).scalar()
        return as_utc(found)

    def delivery_counts(self, issue_id: int) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.status, func.count())
                .where(deliveries.c.issue_id == issue_id)
                .group_by(deliveries.c.status)
            ).all()
        return {status: int(count) for status, count in rows}
