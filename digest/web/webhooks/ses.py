"""SES feedback through SNS: an RSA-signed envelope (v1 SHA1, v2 SHA256) whose certificate is
fetched over HTTPS from an allow-listed host, for an allow-listed topic ARN."""

from __future__ import annotations

import base64
import binascii
import ssl
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from digest.fetch import FetchError, http_client, read_capped
from digest.web.webhooks.common import (
    Feedback,
    Kind,
    Rejected,
    as_dict,
    read_json,
)

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
        return http_client(verify=verify, timeout=10.0)

    async def _certificate(self, url: str) -> Any:

        if url in self._certs:
            return self._certs[url]
        try:  # streamed: the size is checked as it arrives (and decompresses), not after
            async with self.client() as client, client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise Rejected(400, "cannot fetch the signing certificate")
                pem = await read_capped(response, url=url, cap=self.MAX_CERT_BYTES)
        except httpx.HTTPError as exc:
            raise Rejected(400, f"cannot fetch the signing certificate: {exc}") from None
        except FetchError as exc:  # larger than any certificate, or a broken encoding
            raise Rejected(400, f"cannot fetch the signing certificate: {exc}") from None
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise Rejected(400, "the signing certificate is not a PEM certificate") from None
        if len(self._certs) > 32:
            self._certs.clear()
        self._certs[url] = cert
        return cert

    async def verify(self, message: Any, *, now: datetime | None = None) -> dict[str, Any]:
        """Check everything SNS offers; returns the message. Raises Rejected."""

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
        try:  # the answer's status is all that matters: its body is never read
            async with self.client() as client, client.stream("GET", url) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            raise Rejected(502, f"cannot confirm the subscription: {exc}") from None
        if status != 200:
            raise Rejected(502, f"SNS answered {status} to the confirmation")


def parse_ses(message: dict[str, Any]) -> list[Feedback]:
    """The SES notification inside an SNS Notification's `Message`."""
    try:
        inner = read_json(str(message.get("Message", "")))
    except Rejected:
        raise Rejected(400, "the SNS Message is not SES JSON") from None
    if not isinstance(inner, dict):
        raise Rejected(400, "the SNS Message is not SES JSON")
    event = str(inner.get("notificationType") or inner.get("eventType") or "")
    mail = as_dict(inner.get("mail"))
    message_id = str(mail.get("messageId") or "") or None
    found: list[Feedback] = []
    if event == "Bounce":
        bounce = as_dict(inner.get("bounce"))
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
        complaint = as_dict(inner.get("complaint"))
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
