"""Desk accounts: who may log in to the desk, with which role, and their passwords' hashes.

Passwords are hashed with Argon2id (pwdlib's recommended settings) and never stored or logged;
a wrong name costs the same as a wrong password, so a login reveals nothing about who exists.
"""

from __future__ import annotations

import re

from pwdlib import PasswordHash

from digest.errors import UsageError
from digest.models import Role
from digest.store import Store, UserRow

__all__ = ["MIN_PASSWORD", "add_user", "change_password", "check_password", "verify_login"]

MIN_PASSWORD = 12
"""Characters a password needs at least (a passphrase of three words is about 20)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
_HASHER = PasswordHash.recommended()
_DECOY = _HASHER.hash("a password nobody has, verified when the name is unknown")


def check_password(password: str) -> str:
    """The password if it is acceptable, else UsageError saying why (never echoing it)."""
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise UsageError("a password may have at most 1024 characters")
    return password


def add_user(store: Store, name: str, role: Role, password: str) -> int:
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a user name (letters, digits and . _ @ -, at most 100 characters)"
        )
    return store.add_user(name, role, _HASHER.hash(check_password(password)))


def change_password(store: Store, name: str, password: str) -> None:
    if not store.set_password(name, _HASHER.hash(check_password(password))):
        raise UsageError(f"no user named {name!r}")


def verify_login(store: Store, name: str, password: str) -> UserRow | None:
    """The user when the name and password match, else None (in about the same time)."""
    user = store.user_by_name(name) if _NAME.match(name) else None
    if user is None:
        _HASHER.verify(password, _DECOY)
        return None
    valid, updated = _HASHER.verify_and_update(password, user.password_hash)
    if not valid:
        return None
    if updated is not None:  # the recommended parameters grew stronger since it was hashed
        store.set_password(user.name, updated)
        user = store.user_by_id(user.id) or user
    return user
