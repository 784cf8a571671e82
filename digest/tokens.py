"""Signed tokens for the links in messages: unsubscribe, preferences, web view, opt-in.

Tokens are signed with a key from the environment (the variable named by `web.secret_env`); when
it is unset, a random key is created once in `<home>/secret.key` (mode 0600), never in the repo.
A token names ids only (a subscriber, a list, an issue), never an address. Each kind has its
own salt, so a token of one kind is never valid as another.

Unsubscribe and preferences tokens do not expire: a message read months later must still let
its reader leave. They are revoked all at once by changing the key. Confirmation tokens carry a
time stamp and expire with the list's `confirm_window`.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    URLSafeSerializer,
    URLSafeTimedSerializer,
    base64_encode,
)


def load_secret(env_name: str, home: Path) -> str:
    if value := os.environ.get(env_name):
        return value
    key_file = home / "secret.key"
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


class LinkSigner:
    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._unsubscribe = URLSafeSerializer(secret, salt="digest.unsubscribe")
        # One token per message on the send path: sign the tiny payload directly with a signer
        # made once. The serializer would also try to zlib-compress it and re-encode JSON each
        # time, for a token that comes out byte-identical (tests/test_tokens.py checks).
        self._unsubscribe_signer = self._unsubscribe.make_signer(self._unsubscribe.salt)
        self._preferences = URLSafeSerializer(secret, salt="digest.preferences")
        self._preferences_signer = self._preferences.make_signer(self._preferences.salt)
        self._issue = URLSafeSerializer(secret, salt="digest.web-view")
        self._confirm = URLSafeTimedSerializer(secret, salt="digest.confirm")

    def derive(self, purpose: str) -> str:
        """A key for one purpose (desk sessions, CSRF tokens), derived from the signing key so
        there is one secret to keep, and a token of one purpose is never valid for another."""
        return hmac.new(self._secret, f"digest.{purpose}".encode(), hashlib.sha256).hexdigest()

    def unsubscribe_token(self, subscriber_id: int, list_id: int) -> str:
        payload = base64_encode(f"[{int(subscriber_id)},{int(list_id)}]".encode())
        return self._unsubscribe_signer.sign(payload).decode()

    def read_unsubscribe_token(self, token: str) -> tuple[int, int] | None:
        """(subscriber id, list id), or None for a forged, truncated or tampered token."""
        try:
            value = self._unsubscribe.loads(token)
        except BadSignature:
            return None
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            return value[0], value[1]
        return None

    def preferences_token(self, subscriber_id: int) -> str:
        """The subscriber's preferences page: every list they are on, so no list id in it."""
        payload = base64_encode(f"[{int(subscriber_id)}]".encode())
        return self._preferences_signer.sign(payload).decode()

    def read_preferences_token(self, token: str) -> int | None:
        """The subscriber id, or None for a forged, truncated or tampered token."""
        try:
            value = self._preferences.loads(token)
        except BadSignature:
            return None
        if (
            isinstance(value, list)
            and len(value) == 1
            and isinstance(value[0], int)
            and not isinstance(value[0], bool)
        ):
            return value[0]
        return None

    def issue_token(self, issue_id: int) -> str:
        return self._issue.dumps(issue_id)

    def read_issue_token(self, token: str) -> int | None:
        try:
            value = self._issue.loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def confirm_token(self, subscriber_id: int, list_id: int) -> str:
        """A time-stamped token for the opt-in link; it names no address either."""
        return self._confirm.dumps([subscriber_id, list_id])

    def read_confirm_token(self, token: str, max_age: int) -> tuple[int, int] | Expired | None:
        """(subscriber id, list id); `EXPIRED` for a genuine but old token; None if forged."""
        try:
            value = self._confirm.loads(token, max_age=max_age)
        except SignatureExpired:
            return EXPIRED
        except BadSignature:
            return None
        if (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        ):
            return value[0], value[1]
        return None


class Expired(enum.Enum):
    """A genuine token past its age: the answer differs from a forged one (410, not 400)."""

    EXPIRED = "expired"


EXPIRED = Expired.EXPIRED
