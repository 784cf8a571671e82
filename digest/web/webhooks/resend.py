"""Resend webhooks, signed by Svix: HMAC-SHA256(base64 secret, "id.timestamp.body"), base64."""

from __future__ import annotations

import base64
import binascii
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
    read_json,
)


def svix_key(secret: str) -> bytes:
    material = secret.strip().removeprefix("whsec_")
    try:
        return base64.b64decode(material, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the Resend webhook secret must be whsec_<base64>") from None


def verify_svix(
    body: bytes, headers: Any, secret: str, *, tolerance: float, now: float | None = None
) -> str:
    """Standard Webhooks / Svix signature; returns the message id."""
    msg_id = headers.get("svix-id") or headers.get("webhook-id")
    stamp = headers.get("svix-timestamp") or headers.get("webhook-timestamp")
    signatures = headers.get("svix-signature") or headers.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise Rejected(401, "missing svix headers")
    check_fresh(int_timestamp(stamp), tolerance, time.time() if now is None else now)
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(svix_key(secret), signed, hashlib.sha256).digest())
    for part in signatures.split():
        version, _, value = part.partition(",")
        if version == "v1" and hmac.compare_digest(expected, value.encode()):
            return str(msg_id)
    raise Rejected(401, "bad signature")


def parse_resend(body: bytes, msg_id: str) -> list[Feedback]:
    payload = read_json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise Rejected(400, "unexpected payload")
    event = str(payload.get("type", ""))
    data = payload["data"]
    kind: Kind = {
        "email.bounced": "bounce",
        "email.complained": "complaint",
    }.get(event, "other")  # type: ignore[assignment]
    if event == "email.bounced":
        bounce = as_dict(data.get("bounce"))
        if str(bounce.get("type", "")).lower() in ("transient", "undetermined"):
            kind = "soft_bounce"
    if event == "contact.updated" and data.get("unsubscribed") is True:
        kind = "unsubscribe"
    recipients = data.get("to") if isinstance(data.get("to"), list) else [data.get("email")]
    return [
        Feedback(
            kind,
            recipient,
            event,
            event_id=f"{msg_id}:{recipient}",
            message_id=str(data.get("email_id") or "") or None,
            raw=payload,
        )
        for recipient in recipients
        if recipient
    ]
