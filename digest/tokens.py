"""Signed tokens for the links in messages: unsubscribe, preferences, web view, opt-in.

Tokens are signed with a key from the environment (the variable named by `web.secret_env`); when
it is unset, a random key is created once in `<home>/secret.key` (mode 0600), never in the repo.
A key shorter than 32 bytes is refused, from either place (`load_secret`).
A token names ids only (a subscriber, a list, an issue), never an address. Each kind has its
own salt, so a token of one kind is never valid as another.

Unsubscribe and preferences tokens do not expire: a message read months later must still let
its reader leave. They are revoked all at once by changing the key. Confirmation tokens carry a
time stamp and expire with the list's `confirm_window`.
"""

from __future__ import annotations

import enum
import fcntl
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

from digest.errors import ConfigError, ConfigProblem
from digest.files import create_private_file, private_folder

KEY_FILE = "secret.key"
MIN_KEY_BYTES = 32  # a shorter key can be guessed offline from any one signed link
_MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def load_secret(env_name: str, home: Path) -> str:
    """The link-signing key: the environment variable's value, else `<home>/secret.key`, made
    once if absent.

    A key shorter than MIN_KEY_BYTES is refused (ConfigError, exit 2), wherever it comes from.
    The file is made atomically (a temporary file written and synced, then linked in: the first
    process wins, the others read its key), so processes starting together on a fresh data
    directory share one key. An empty file (an interrupted start of an older version) counts
    as absent and is replaced under a lock on the data directory.
    """
    if value := os.environ.get(env_name):
        _check_length(value, f"${env_name}", "set a longer key")
        return value
    private_folder(home)
    key_file = home / KEY_FILE
    key = _read_key(key_file)
    if key is None:
        key = _create_key(key_file)
    elif not key:
        key = _replace_empty_key(key_file)
    _check_length(
        key,
        str(key_file),
        "delete the file to have a new one made (links already "
        "sent stop working) or put a longer key in it",
    )
    return key


def signing_key_problems(env_name: str) -> list[ConfigProblem]:
    """What `digest check` says of a key in the environment (the file is judged where it is
    read: check opens no data directory)."""
    value = os.environ.get(env_name)
    problem = value and _length_problem(value, f"${env_name}", "set a longer key")
    return [problem] if problem else []


def _check_length(key: str, where: str, remedy: str) -> None:
    if problem := _length_problem(key, where, remedy):
        raise ConfigError([problem])


def _length_problem(key: str, where: str, remedy: str) -> ConfigProblem | None:
    size = len(key.encode("utf-8"))
    if size >= MIN_KEY_BYTES:
        return None
    return ConfigProblem(
        where,
        "",
        f"the link-signing key is {size} bytes, at least {MIN_KEY_BYTES} are needed: "
        f"{remedy} (make one with {_MAKE_ONE})",
    )


def _read_key(key_file: Path) -> str | None:
    """The key in the file ("" when it is empty), or None when there is no file."""
    try:
        data = key_file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(
            [ConfigProblem(str(key_file), "", f"cannot read: {exc.strerror}")]
        ) from None
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError([ConfigProblem(str(key_file), "", "not UTF-8 text")]) from None


def _write_temporary(key_file: Path, key: str) -> Path:
    """The key in a synced 0600 file beside `key_file`, ready to be linked or renamed in."""
    temporary = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    with os.fdopen(create_private_file(temporary, exclusive=True), "w", encoding="utf-8") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return temporary


def _create_key(key_file: Path) -> str:
    """Make a key; when another process made one first, use that one."""
    key = secrets.token_urlsafe(48)
    temporary = _write_temporary(key_file, key)
    try:
        os.link(temporary, key_file)  # fails if the file exists: the first writer wins
    except FileExistsError:
        found = _read_key(key_file)
        return found if found else _replace_empty_key(key_file)
    except OSError:  # a file system without hard links: rename in, one process at a time
        return _replace_empty_key(key_file)
    finally:
        temporary.unlink(missing_ok=True)
    _sync_folder(key_file.parent)
    return key


def _replace_empty_key(key_file: Path) -> str:
    """Replace an empty (or missing) key file, one process at a time: each re-reads it under
    the lock, so only the first replaces it and all end with the same key."""
    folder = os.open(key_file.parent, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        found = _read_key(key_file)
        if found:
            return found
        key = secrets.token_urlsafe(48)
        temporary = _write_temporary(key_file, key)
        os.replace(temporary, key_file)
        os.fsync(folder)
        return key
    finally:
        os.close(folder)  # releases the lock


def _sync_folder(folder: Path) -> None:
    """Make the new directory entry durable (a crash must not leave the key file empty)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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
