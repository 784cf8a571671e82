"""Postmark webhooks: HTTP basic auth (Postmark signs nothing); bounce, complaint and
unsubscribe events."""

from __future__ import annotations

import base64
import binascii
import hmac

from digest.web.webhooks.common import (
    Feedback,
    Kind,
    Rejected,
    read_json,
)


def verify_postmark(authorization: str | None, username: str, password: str) -> None:
    """Postmark calls with the credentials put in the webhook URL (https://user:pass@...)."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise Rejected(401, "missing basic credentials")
    try:
        given = base64.b64decode(authorization[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(401, "malformed basic credentials") from None
    expected = f"{username}:{password}".encode()
    if not hmac.compare_digest(given, expected):
        raise Rejected(401, "wrong credentials")


_POSTMARK_HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked"}


def parse_postmark(body: bytes) -> list[Feedback]:
    payload = read_json(body)
    items = payload if isinstance(payload, list) else [payload]
    found: list[Feedback] = []
    for item in items:
        if not isinstance(item, dict):
            raise Rejected(400, "unexpected payload")
        record = str(item.get("RecordType", ""))
        message_id = item.get("MessageID")
        if record == "Bounce":
            bounce_type = str(item.get("Type", ""))
            if bounce_type == "SpamComplaint":
                kind: Kind = "complaint"
            elif bounce_type == "Unsubscribe":
                kind = "unsubscribe"
            elif bounce_type in _POSTMARK_HARD or item.get("Inactive") is True:
                kind = "bounce"
            else:
                kind = "soft_bounce"
            found.append(
                Feedback(
                    kind,
                    item.get("Email"),
                    f"Bounce/{bounce_type}",
                    event_id=f"bounce:{item.get('ID')}" if item.get("ID") else None,
                    message_id=message_id,
                    detail=str(item.get("Description") or ""),
                    raw=item,
                )
            )
        elif record == "SpamComplaint":
            found.append(
                Feedback(
                    "complaint",
                    item.get("Email"),
                    "SpamComplaint",
                    event_id=f"complaint:{item.get('ID')}" if item.get("ID") else None,
                    message_id=message_id,
                    raw=item,
                )
            )
        elif record == "SubscriptionChange":
            reason = str(item.get("SuppressionReason") or "")
            if item.get("SuppressSending") is True:
                kind = {"HardBounce": "bounce", "SpamComplaint": "complaint"}.get(
                    reason, "unsubscribe"
                )  # type: ignore[assignment]
            else:
                kind = "other"  # reactivated at Postmark; Digest does not re-add anyone
            found.append(
                Feedback(
                    kind,
                    item.get("Recipient"),
                    f"SubscriptionChange/{reason or 'none'}",
                    event_id=f"change:{message_id}:{item.get('Recipient')}:{item.get('ChangedAt')}",
                    message_id=message_id,
                    detail=reason,
                    raw=item,
                )
            )
        else:
            found.append(
                Feedback(
                    "other",
                    item.get("Recipient") or item.get("Email"),
                    record or "unknown",
                    message_id=message_id,
                    raw=item,
                )
            )
    return found
