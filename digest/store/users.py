"""Desk users: editors and operators, with their Argon2 password hashes (never the passwords)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from digest.dates import utcnow
from digest.errors import UsageError
from digest.models import Role
from digest.store.db import as_utc
from digest.store.schema import users

__all__ = ["UserQueries", "UserRow"]


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: Role
    password_hash: str
    created_at: datetime
    password_changed_at: datetime


def _user(row: object) -> UserRow:
    return UserRow(
        id=row.id,  # type: ignore[attr-defined]
        name=row.name,  # type: ignore[attr-defined]
        role=Role(row.role),  # type: ignore[attr-defined]
        password_hash=row.password_hash,  # type: ignore[attr-defined]
        created_at=as_utc(row.created_at) or utcnow(),  # type: ignore[attr-defined]
        password_changed_at=as_utc(row.password_changed_at) or utcnow(),  # type: ignore[attr-defined]
    )


class UserQueries:
    engine: Engine

    def add_user(self, name: str, role: Role, password_hash: str) -> int:
        """A new user; UsageError when the name is taken."""
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                return int(
                    conn.execute(
                        insert(users)
                        .values(
                            name=name,
                            role=role,
                            password_hash=password_hash,
                            created_at=now,
                            password_changed_at=now,
                        )
                        .returning(users.c.id)
                    ).scalar_one()
                )
        except IntegrityError:
            raise UsageError(f"a user named {name!r} exists already") from None

    def user_by_name(self, name: str) -> UserRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return _user(row) if row is not None else None

    def user_by_id(self, user_id: int) -> UserRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row is not None else None

    def users(self) -> list[UserRow]:
        with self.engine.connect() as conn:
            return [_user(row) for row in conn.execute(select(users).order_by(users.c.name))]

    def remove_user(self, name: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(users).where(users.c.name == name)).rowcount)

    def set_password(self, name: str, password_hash: str) -> bool:
        """A new password; the user's sessions from before it stop working."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(users)
                .where(users.c.name == name)
                .values(password_hash=password_hash, password_changed_at=utcnow())
            )
        return bool(done.rowcount)
