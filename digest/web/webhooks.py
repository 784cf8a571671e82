"""Provider feedback: verify each provider's webhook the way it signs it, then read its events.

Every verifier raises `Rejected` (a 4xx status and a reason) and changes nothing; only a verified
request is parsed into `Feedback` items, which the app applies to the store. The schemes:

    Postmark   HTTP basic auth (Postmark signs nothing)
    SendGrid   ECDSA P-256 / SHA-256 over timestamp + raw body, base64 DER signature
    Mailgun    HMAC-SHA256(signing key, timestamp + token), hex; tokens cached against replay
    Resend     Svix: HMAC-SHA256(base64 secret, "id.timestamp.body"), base64, "v1,<sig>" list
    SES        SNS envelope, RSA signature (v1 SHA1, v2 SHA256) by a certificate fetched over
               HTTPS from an allow-listed host, topic ARN allow-listed
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

Kind = Literal["bounce", "soft_bounce", "complaint", "unsubscribe", "other"]


class Rejected(Exception):
    """A webhook request that must change nothing; `status` is the 4xx to answer."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}")


@dataclass(frozen=True)
class Feedback:
    """One event a provider told us about, reduced to what Digest acts on."""

    kind: Kind
    email: str | None
    event: str  # the provider's own name for it
    event_id: str | None = None  # for recognizing the same event delivered twice
    message_id: str | None = None  # the provider's id of the message it concerns
    detail: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def _dict(value: Any) -> dict[str, Any]:
    """A nested object of a payload, or an empty one when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "the body is not JSON") from None


def _fresh(timestamp: float, tolerance: float, now: float) -> None:
    if abs(now - timestamp) > tolerance:
        raise Rejected(401, "stale or future timestamp")


def _int_timestamp(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise Rejected(400, "malformed timestamp") from None


# -- Postmark ---------------------------------------------------------------------------------


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
    payload = _json(body)
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


# -- SendGrid ---------------------------------------------------------------------------------


def load_sendgrid_key(text: str) -> Any:
    """SendGrid shows the key as base64 DER; a PEM block works too."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

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
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature or not timestamp:
        raise Rejected(401, "missing signature headers")
    _fresh(_int_timestamp(timestamp), tolerance, time.time() if now is None else now)
    try:
        raw_signature = base64.b64decode(signature, validate=True)
        key.verify(raw_signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise Rejected(401, "bad signature") from None


def parse_sendgrid(body: bytes) -> list[Feedback]:
    payload = _json(body)
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


# -- Mailgun ----------------------------------------------------------------------------------


def verify_mailgun(
    payload: Any, signing_key: str, *, tolerance: float, now: float | None = None
) -> str:
    """Check the `signature` object; returns its token, which the caller caches against replay."""
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
    _fresh(_int_timestamp(timestamp), tolerance, time.time() if now is None else now)
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
    message = _dict(data.get("message"))
    headers = _dict(message.get("headers"))
    status = _dict(data.get("delivery-status"))
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


# -- Resend (Svix) ----------------------------------------------------------------------------


def _svix_key(secret: str) -> bytes:
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
    _fresh(_int_timestamp(stamp), tolerance, time.time() if now is None else now)
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(_svix_key(secret), signed, hashlib.sha256).digest())
    for part in signatures.split():
        version, _, value = part.partition(",")
        if version == "v1" and hmac.compare_digest(expected, value.encode()):
            return str(msg_id)
    raise Rejected(401, "bad signature")


def parse_resend(body: bytes, msg_id: str) -> list[Feedback]:
    payload = _json(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise Rejected(400, "unexpected payload")
    event = str(payload.get("type", ""))
    data = payload["data"]
    kind: Kind = {
        "email.bounced": "bounce",
        "email.complained": "complaint",
    }.get(event, "other")  # type: ignore[assignment]
    if event == "email.bounced":
        bounce = _dict(data.get("bounce"))
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


# -- SES through SNS --------------------------------------------------------------------------

_SNS_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}


def sns_string_to_sign(message: dict[str, Any]) -> bytes:
    """The canonical `Key\\nValue\\n` lines SNS signs, in its order (Subject only if present)."""
    kind = message.get("Type")
    if kind not in _SNS_FIELDS:
        raise Rejected(400, f"unknown SNS message type {kind!r}")
    lines = []
    for key in _SNS_FIELDS[kind]:
        if key in message and message[key] is not None:
            lines.append(f"{key}\n{message[key]}\n")
        elif key != "Subject":
            raise Rejected(400, f"SNS message without {key}")
    return "".join(lines).encode()


def host_allowed(url: str, patterns: list[str]) -> bool:
    """https, and a host matching a pattern whose `*` stands for exactly one DNS label."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
        return False
    netloc = parts.netloc.lower()
    for pattern in patterns:
        host_pattern, _, port_pattern = pattern.partition(":")
        host, _, port = netloc.partition(":")
        if port_pattern != port:
            continue
        want, have = host_pattern.split("."), host.split(".")
        if len(want) == len(have) and all(
            w == h or (w == "*" and h and h.replace("-", "").isalnum())
            for w, h in zip(want, have, strict=True)
        ):
            return True
    return False


class SnsVerifier:
    """Verifies SNS envelopes; certificates are fetched once per URL and kept."""

    MAX_CERT_BYTES = 64 * 1024

    def __init__(
        self,
        *,
        hosts: list[str],
        topics: list[str],
        max_age: float,
        ca_bundle: str | None = None,
    ) -> None:
        self.hosts = hosts
        self.topics = set(topics)
        self.max_age = max_age
        self.ca_bundle = ca_bundle
        self._certs: dict[str, Any] = {}

    def client(self) -> httpx.AsyncClient:
        verify: ssl.SSLContext | bool = True
        if self.ca_bundle:
            verify = ssl.create_default_context(cafile=self.ca_bundle)
        return httpx.AsyncClient(verify=verify, timeout=10.0, follow_redirects=False)

    async def _certificate(self, url: str) -> Any:
        from cryptography import x509

        if url in self._certs:
            return self._certs[url]
        try:
            async with self.client() as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            raise Rejected(400, f"cannot fetch the signing certificate: {exc}") from None
        if response.status_code != 200 or len(response.content) > self.MAX_CERT_BYTES:
            raise Rejected(400, "cannot fetch the signing certificate")
        try:
            cert = x509.load_pem_x509_certificate(response.content)
        except ValueError:
            raise Rejected(400, "the signing certificate is not a PEM certificate") from None
        if len(self._certs) > 32:
            self._certs.clear()
        self._certs[url] = cert
        return cert

    async def verify(self, message: Any, *, now: datetime | None = None) -> dict[str, Any]:
        """Check everything SNS offers; returns the message. Raises Rejected."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        if not isinstance(message, dict):
            raise Rejected(400, "not an SNS message")
        if message.get("TopicArn") not in self.topics:
            raise Rejected(403, "topic not allowed")
        version = str(message.get("SignatureVersion", ""))
        digest = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
        if digest is None:
            raise Rejected(400, f"unsupported SignatureVersion {version!r}")
        cert_url = str(message.get("SigningCertURL") or message.get("SigningCertUrl") or "")
        if not host_allowed(cert_url, self.hosts) or not urlsplit(cert_url).path.endswith(".pem"):
            raise Rejected(403, "certificate URL not allowed")
        now = now or datetime.now(UTC)
        try:
            sent = datetime.fromisoformat(str(message.get("Timestamp", "")).replace("Z", "+00:00"))
        except ValueError:
            raise Rejected(400, "malformed Timestamp") from None
        if sent.tzinfo is None or abs((now - sent).total_seconds()) > self.max_age:
            raise Rejected(401, "stale or future timestamp")
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except (binascii.Error, ValueError):
            raise Rejected(401, "malformed signature") from None
        string_to_sign = sns_string_to_sign(message)
        cert = await self._certificate(cert_url)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise Rejected(401, "the signing certificate is not valid now")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise Rejected(401, "the signing certificate has no RSA key")
        try:
            key.verify(signature, string_to_sign, padding.PKCS1v15(), digest)
        except InvalidSignature:
            raise Rejected(401, "bad signature") from None
        return message

    async def confirm_subscription(self, message: dict[str, Any]) -> None:
        """Follow SubscribeURL (allow-listed host, https) to start receiving notifications."""
        url = str(message.get("SubscribeURL", ""))
        if not host_allowed(url, self.hosts):
            raise Rejected(403, "SubscribeURL host not allowed")
        try:
            async with self.client() as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            raise Rejected(502, f"cannot confirm the subscription: {exc}") from None
        if response.status_code != 200:
            raise Rejected(502, f"SNS answered {response.status_code} to the confirmation")


def parse_ses(message: dict[str, Any]) -> list[Feedback]:
    """The SES notification inside an SNS Notification's `Message`."""
    try:
        inner = json.loads(str(message.get("Message", "")))
    except ValueError:
        raise Rejected(400, "the SNS Message is not SES JSON") from None
    if not isinstance(inner, dict):
        raise Rejected(400, "the SNS Message is not SES JSON")
    event = str(inner.get("notificationType") or inner.get("eventType") or "")
    mail = _dict(inner.get("mail"))
    message_id = str(mail.get("messageId") or "") or None
    found: list[Feedback] = []
    if event == "Bounce":
        bounce = _dict(inner.get("bounce"))
        kind: Kind = "bounce" if bounce.get("bounceType") == "Permanent" else "soft_bounce"
        for index, recipient in enumerate(bounce.get("bouncedRecipients") or []):
            found.append(
                Feedback(
                    kind,
                    recipient.get("emailAddress"),
                    f"Bounce/{bounce.get('bounceType')}",
                    event_id=f"{bounce.get('feedbackId') or message.get('MessageId')}:{index}",
                    message_id=message_id,
                    detail=str(
                        recipient.get("diagnosticCode") or bounce.get("bounceSubType") or ""
                    ),
                    raw=inner,
                )
            )
    elif event == "Complaint":
        complaint = _dict(inner.get("complaint"))
        for index, recipient in enumerate(complaint.get("complainedRecipients") or []):
            found.append(
                Feedback(
                    "complaint",
                    recipient.get("emailAddress"),
                    "Complaint",
                    event_id=f"{complaint.get('feedbackId') or message.get('MessageId')}:{index}",
                    message_id=message_id,
                    detail=str(complaint.get("complaintFeedbackType") or ""),
                    raw=inner,
                )
            )
    else:
        for recipient in mail.get("destination") or [None]:
            found.append(
                Feedback("other", recipient, event or "unknown", message_id=message_id, raw=inner)
            )
    return found
