"""Mailgun webhooks: HMAC-SHA256(signing key, timestamp + token), hex; replays are recognized
by the event's id (the token changes whenever an event is signed again)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from digest.web.webhooks.common import (
    Feedback,
    Kind,
    Rejected,
    as_dict,
    check_fresh,
    int_timestamp,
)


def verify_mailgun(
    payload: Any, signing_key: str, *, tolerance: float, now: float | None = None
) -> str:
    """Check the `signature` object (fresh, signed with our key); returns its token."""
    signature = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(signature, dict):
        raise Rejected(401, "missing signature")
    timestamp, token, given = (
        str(signature.get("timestamp", "")),
        str(signature.get("token", "")),
        str(signature.get("signature", "")),
    )
    if not (timestamp and token and given):
        raise Rejected(401, "incomplete signature")
    check_fresh(int_timestamp(timestamp), tolerance, time.time() if now is None else now)
    expected = hmac.new(
        signing_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise Rejected(401, "bad signature")
    return token


def parse_mailgun(payload: Any) -> list[Feedback]:
    data = payload.get("event-data")
    if not isinstance(data, dict):
        raise Rejected(400, "missing event-data")
    event = str(data.get("event", ""))
    kind: Kind = "other"
    if event == "failed":
        kind = "bounce" if data.get("severity") == "permanent" else "soft_bounce"
    elif event == "complained":
        kind = "complaint"
    elif event == "unsubscribed":
        kind = "unsubscribe"
    message = as_dict(data.get("message"))
    headers = as_dict(message.get("headers"))
    status = as_dict(data.get("delivery-status"))
    return [
        Feedback(
            kind,
            data.get("recipient"),
            event,
            event_id=str(data["id"]) if data.get("id") else None,
            message_id=str(headers.get("message-id") or "") or None,
            detail=str(
                status.get("description") or status.get("message") or data.get("reason") or ""
            ),
            raw=data,
        )
    ]
