"""SendGrid webhooks: ECDSA P-256 / SHA-256 over timestamp + raw body (base64 DER signature)."""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from digest.web.webhooks.common import (
    Feedback,
    Kind,
    Rejected,
    check_fresh,
    int_timestamp,
    read_json,
)


def load_sendgrid_key(text: str) -> Any:
    """SendGrid shows the key as base64 DER; a PEM block works too."""

    material = text.strip()
    if material.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(material.encode())
    else:
        key = serialization.load_der_public_key(base64.b64decode(material))
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("the SendGrid webhook key must be an ECDSA P-256 public key")
    return key


def verify_sendgrid(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    key: Any,
    *,
    tolerance: float,
    now: float | None = None,
) -> None:

    if not signature or not timestamp:
        raise Rejected(401, "missing signature headers")
    check_fresh(int_timestamp(timestamp), tolerance, time.time() if now is None else now)
    try:
        raw_signature = base64.b64decode(signature, validate=True)
        key.verify(raw_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise Rejected(401, "bad signature") from None


def parse_sendgrid(body: bytes) -> list[Feedback]:
    payload = read_json(body)
    if not isinstance(payload, list):
        raise Rejected(400, "SendGrid posts a JSON array of events")
    found: list[Feedback] = []
    for item in payload:
        if not isinstance(item, dict):
            raise Rejected(400, "unexpected event")
        event = str(item.get("event", ""))
        kind: Kind = "other"
        if event == "bounce":
            kind = "soft_bounce" if item.get("type") == "blocked" else "bounce"
        elif event == "spamreport":
            kind = "complaint"
        elif event in ("unsubscribe", "group_unsubscribe"):
            kind = "unsubscribe"
        message_id = str(item.get("sg_message_id") or "") or None
        found.append(
            Feedback(
                kind,
                item.get("email"),
                event,
                event_id=str(item["sg_event_id"]) if item.get("sg_event_id") else None,
                message_id=message_id.split(".", 1)[0] if message_id else None,
                detail=str(item.get("reason") or ""),
                raw=item,
            )
        )
    return found
