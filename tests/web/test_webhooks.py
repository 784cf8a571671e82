"""Provider webhooks over real HTTP, signed the way each provider signs them.

Keys and certificates are made at test time. SNS fetches its signing certificate over HTTPS from
a local server whose host is allow-listed and whose CA the config trusts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from digest.web import create_app
from digest.web.webhooks import host_allowed, sns_string_to_sign
from digest.workspace import Workspace
from tests.web.conftest import LiveServer, Running

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"


def _member(ws: Workspace, email: str, *lists: str) -> int:
    for name in lists or ("open",):
        ws.store.upsert_subscriber(ws.store.ensure_list(name, name), email)
    row = ws.store.subscriber_by_email(email)
    assert row is not None
    return row.id


def _statuses(ws: Workspace, email: str) -> dict[str, str]:
    row = ws.store.subscriber_by_email(email)
    assert row is not None
    return {m.list_name: m.status for m in ws.store.memberships_of(row.id)}


# -- Postmark ---------------------------------------------------------------------------------


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_postmark_hard_bounce_and_complaint(live: Running) -> None:
    ws = live.ws
    _member(ws, "gone@example.org", "open", "readers")
    _member(ws, "angry@example.org")
    auth = _basic("postmark", "s3cret-pass")
    bounce = {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "TypeCode": 1,
        "Email": "Gone@Example.org",
        "MessageID": "883953f4",
        "Description": "The server was unable to deliver your message",
        "Inactive": True,
    }
    response = live.client.post("/webhooks/postmark", json=bounce, headers=auth)
    assert response.status_code == 200, response.text
    assert ws.store.is_suppressed("gone@example.org")
    assert _statuses(ws, "gone@example.org") == {"open": "bounced", "readers": "bounced"}
    complaint = {
        "RecordType": "SpamComplaint",
        "ID": 42,
        "Type": "SpamComplaint",
        "Email": "angry@example.org",
        "MessageID": "x",
    }
    live.client.post("/webhooks/postmark", json=complaint, headers=auth)
    assert ws.store.suppression("angry@example.org").reason.startswith("SpamComplaint")  # type: ignore[union-attr]
    assert _statuses(ws, "angry@example.org") == {"open": "complained"}
    # the same bounce delivered again is recorded once
    again = live.client.post("/webhooks/postmark", json=bounce, headers=auth)
    assert again.json()["duplicates"] == 1
    assert len(ws.store.events_for("gone@example.org")) == 1


def test_postmark_soft_bounce_only_records(live: Running) -> None:
    _member(live.ws, "full@example.org")
    soft = {"RecordType": "Bounce", "ID": 7, "Type": "SoftBounce", "Email": "full@example.org"}
    live.client.post("/webhooks/postmark", json=soft, headers=_basic("postmark", "s3cret-pass"))
    assert not live.ws.store.is_suppressed("full@example.org")
    assert _statuses(live.ws, "full@example.org") == {"open": "active"}
    assert [e.kind for e in live.ws.store.events_for("full@example.org")] == ["soft_bounce"]


def test_postmark_subscription_change_unsubscribes(live: Running) -> None:
    _member(live.ws, "quit@example.org", "open", "readers")
    change = {
        "RecordType": "SubscriptionChange",
        "MessageID": "m1",
        "Recipient": "quit@example.org",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "ChangedAt": "2026-11-26T10:00:00Z",
    }
    live.client.post("/webhooks/postmark", json=change, headers=_basic("postmark", "s3cret-pass"))
    assert _statuses(live.ws, "quit@example.org") == {
        "open": "unsubscribed",
        "readers": "unsubscribed",
    }
    assert not live.ws.store.is_suppressed("quit@example.org")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        _basic("postmark", "wrong"),
        _basic("other", "s3cret-pass"),
        {"Authorization": "Basic !!"},
    ],
)
def test_postmark_without_the_right_credentials_changes_nothing(
    live: Running, headers: dict[str, str]
) -> None:
    _member(live.ws, "gone@example.org")
    bounce = {"RecordType": "Bounce", "ID": 1, "Type": "HardBounce", "Email": "gone@example.org"}
    response = live.client.post("/webhooks/postmark", json=bounce, headers=headers)
    assert response.status_code == 401
    assert not live.ws.store.is_suppressed("gone@example.org")
    assert live.ws.store.events_for() == []


# -- SendGrid ---------------------------------------------------------------------------------


def _sendgrid(private_pem: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def test_sendgrid_signed_events(live: Running, webhook_env: dict[str, str]) -> None:
    ws = live.ws
    for address in ("b@example.org", "c@example.org", "d@example.org", "u@example.org"):
        _member(ws, address)
    events = [
        {
            "email": "b@example.org",
            "event": "bounce",
            "type": "bounce",
            "sg_event_id": "e1",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "timestamp": 1,
        },
        {"email": "c@example.org", "event": "spamreport", "sg_event_id": "e2", "timestamp": 1},
        {"email": "d@example.org", "event": "delivered", "sg_event_id": "e3", "timestamp": 1},
        {"email": "u@example.org", "event": "unsubscribe", "sg_event_id": "e4", "timestamp": 1},
    ]
    body = json.dumps(events).encode()
    headers = _sendgrid(webhook_env["sendgrid_private_pem"], body)
    response = live.client.post("/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 4, "applied": 3, "duplicates": 0}
    assert ws.store.is_suppressed("b@example.org") and ws.store.is_suppressed("c@example.org")
    assert _statuses(ws, "d@example.org") == {"open": "active"}
    assert _statuses(ws, "u@example.org") == {"open": "unsubscribed"}
    assert len(ws.store.events_for(provider="sendgrid")) == 4  # every event is recorded
    # the very same request again is a replay
    replay = live.client.post("/webhooks/sendgrid", content=body, headers=headers)
    assert replay.status_code == 409
    assert len(ws.store.events_for(provider="sendgrid")) == 4


def test_sendgrid_bad_signatures_change_nothing(live: Running, webhook_env: dict[str, str]) -> None:
    _member(live.ws, "b@example.org")
    body = json.dumps([{"email": "b@example.org", "event": "bounce", "sg_event_id": "x"}]).encode()
    pem = webhook_env["sendgrid_private_pem"]
    other = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    tampered = _sendgrid(pem, body)
    cases = [
        (body.replace(b"bounce", b"bounced"), tampered),  # body changed after signing
        (body, _sendgrid(other, body)),  # someone else's key
        (body, _sendgrid(pem, body, int(time.time()) - 900)),  # stale, though validly signed
        (body, {**tampered, "X-Twilio-Email-Event-Webhook-Signature": "bm90IGEgc2ln"}),
        (body, {"Content-Type": "application/json"}),
    ]
    for content, headers in cases:
        response = live.client.post("/webhooks/sendgrid", content=content, headers=headers)
        assert response.status_code == 401, headers
    assert not live.ws.store.is_suppressed("b@example.org")
    assert live.ws.store.events_for() == []


# -- Mailgun ----------------------------------------------------------------------------------


def _mailgun(
    key: str, event_data: dict[str, Any], timestamp: int | None = None, token: str | None = None
) -> dict[str, Any]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    token = token or hashlib.sha256(f"{time.time_ns()}".encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": stamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def test_mailgun_signed_events_and_replays(live: Running, webhook_env: dict[str, str]) -> None:
    ws = live.ws
    _member(ws, "angry@example.org")
    _member(ws, "gone@example.org")
    key = webhook_env["TEST_MG_KEY"]
    complaint = _mailgun(
        key,
        {
            "event": "complained",
            "recipient": "angry@example.org",
            "id": "a1",
            "message": {"headers": {"message-id": "2026@mg.example.org"}},
        },
    )
    assert live.client.post("/webhooks/mailgun", json=complaint).status_code == 200
    assert ws.store.is_suppressed("angry@example.org")
    assert _statuses(ws, "angry@example.org") == {"open": "complained"}
    assert live.client.post("/webhooks/mailgun", json=complaint).status_code == 409  # token seen
    failed = _mailgun(
        key,
        {
            "event": "failed",
            "severity": "permanent",
            "id": "a2",
            "recipient": "gone@example.org",
            "delivery-status": {"code": 550, "description": "No such user"},
        },
    )
    assert live.client.post("/webhooks/mailgun", json=failed).status_code == 200
    assert ws.store.suppression("gone@example.org").detail == "No such user"  # type: ignore[union-attr]


def test_mailgun_bad_signatures_change_nothing(live: Running, webhook_env: dict[str, str]) -> None:
    _member(live.ws, "x@example.org")
    data = {"event": "complained", "recipient": "x@example.org", "id": "z"}
    key = webhook_env["TEST_MG_KEY"]
    wrong_key = _mailgun("another-key", data)
    stale = _mailgun(key, data, timestamp=int(time.time()) - 3600)
    tampered = _mailgun(key, data)
    tampered["signature"]["token"] = "0" * 50
    for payload in (wrong_key, stale, tampered, {"event-data": data}):
        response = live.client.post("/webhooks/mailgun", json=payload)
        assert response.status_code == 401
    assert not live.ws.store.is_suppressed("x@example.org")
    assert live.ws.store.events_for() == []


# -- Resend (Svix) ----------------------------------------------------------------------------


def _svix(
    secret: str, body: bytes, msg_id: str = "msg_2ABC", timestamp: int | None = None
) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": "v1,bm90LXRoaXMtb25l v1," + base64.b64encode(digest).decode(),
        "Content-Type": "application/json",
    }


def test_resend_svix_signed_bounce(live: Running, webhook_env: dict[str, str]) -> None:
    _member(live.ws, "gone@example.org")
    body = json.dumps(
        {
            "type": "email.bounced",
            "created_at": "2026-11-26T10:00:00Z",
            "data": {
                "email_id": "4ef9a417",
                "to": ["gone@example.org"],
                "bounce": {"type": "Permanent"},
            },
        }
    ).encode()
    headers = _svix(webhook_env["TEST_RS_SECRET"], body)
    assert live.client.post("/webhooks/resend", content=body, headers=headers).status_code == 200
    assert live.ws.store.is_suppressed("gone@example.org")
    assert live.client.post("/webhooks/resend", content=body, headers=headers).status_code == 409


def test_resend_bad_signatures_change_nothing(live: Running, webhook_env: dict[str, str]) -> None:
    _member(live.ws, "x@example.org")
    body = json.dumps({"type": "email.complained", "data": {"to": ["x@example.org"]}}).encode()
    secret = webhook_env["TEST_RS_SECRET"]
    cases = [
        (body, _svix("whsec_" + base64.b64encode(b"another secret").decode(), body)),
        (body, _svix(secret, body, timestamp=int(time.time()) - 600)),  # outside ±5 min
        (body, _svix(secret, body, timestamp=int(time.time()) + 600)),
        (body + b" ", _svix(secret, body)),
        (body, {**_svix(secret, body), "svix-id": "msg_other"}),
    ]
    for content, headers in cases:
        assert (
            live.client.post("/webhooks/resend", content=content, headers=headers).status_code
            == 401
        )
    assert not live.ws.store.is_suppressed("x@example.org")
    assert live.ws.store.events_for() == []


# -- replays are known by the provider's ids, not by signatures ------------------------------


def test_sendgrid_events_signed_again_are_a_replay(
    live: Running, webhook_env: dict[str, str]
) -> None:
    """A new timestamp gives a new signature; the events' sg_event_id still recognize them."""
    _member(live.ws, "b@example.org")
    _member(live.ws, "c@example.org")
    pem = webhook_env["sendgrid_private_pem"]
    first = json.dumps([{"email": "b@example.org", "event": "bounce", "sg_event_id": "r1"}])
    post = live.client.post
    stamp = int(time.time())
    body = first.encode()
    assert post("/webhooks/sendgrid", content=body, headers=_sendgrid(pem, body, stamp)).is_success
    resigned = _sendgrid(pem, body, stamp - 5)
    assert post("/webhooks/sendgrid", content=body, headers=resigned).status_code == 409
    other = json.dumps([{"email": "c@example.org", "event": "bounce", "sg_event_id": "r2"}])
    response = post(
        "/webhooks/sendgrid", content=other.encode(), headers=_sendgrid(pem, other.encode())
    )
    assert response.status_code == 200 and response.json()["applied"] == 1
    assert len(live.ws.store.events_for(provider="sendgrid")) == 2


def test_mailgun_events_signed_again_are_a_replay(
    live: Running, webhook_env: dict[str, str]
) -> None:
    """Each signing has a fresh token; the event's id is what makes it the same event."""
    _member(live.ws, "angry@example.org")
    _member(live.ws, "cross@example.org")
    key = webhook_env["TEST_MG_KEY"]
    data = {"event": "complained", "recipient": "angry@example.org", "id": "ev-1"}
    post = live.client.post
    assert post("/webhooks/mailgun", json=_mailgun(key, data, token="t" * 50)).status_code == 200
    resigned = _mailgun(key, data, timestamp=int(time.time()) - 5, token="u" * 50)
    assert post("/webhooks/mailgun", json=resigned).status_code == 409
    other = {"event": "complained", "recipient": "cross@example.org", "id": "ev-2"}
    assert post("/webhooks/mailgun", json=_mailgun(key, other, token="t" * 50)).status_code == 200
    assert live.ws.store.is_suppressed("cross@example.org")
    assert len(live.ws.store.events_for(provider="mailgun")) == 2


def test_resend_messages_signed_again_are_a_replay(
    live: Running, webhook_env: dict[str, str]
) -> None:
    """Svix signs id, timestamp and body: a new timestamp is a new signature, the same id."""
    _member(live.ws, "gone@example.org")
    _member(live.ws, "left@example.org")
    secret = webhook_env["TEST_RS_SECRET"]

    def bounce(address: str) -> bytes:
        data = {"email_id": "4ef9", "to": [address], "bounce": {"type": "Permanent"}}
        return json.dumps({"type": "email.bounced", "data": data}).encode()

    post = live.client.post
    body = bounce("gone@example.org")
    stamp = int(time.time())
    assert post(
        "/webhooks/resend", content=body, headers=_svix(secret, body, "msg_1", stamp)
    ).is_success
    resigned = _svix(secret, body, "msg_1", stamp - 5)
    assert post("/webhooks/resend", content=body, headers=resigned).status_code == 409
    other = bounce("left@example.org")
    assert post("/webhooks/resend", content=other, headers=_svix(secret, other, "msg_2")).is_success
    assert live.ws.store.is_suppressed("left@example.org")
    assert len(live.ws.store.events_for(provider="resend")) == 2


# -- SES through SNS --------------------------------------------------------------------------


@dataclass
class SnsHost:
    """A local HTTPS host playing sns.<region>.amazonaws.com: certificate and SubscribeURL."""

    base: str
    host: str
    ca_file: Path
    key: rsa.RSAPrivateKey
    confirmations: list[str]
    failures: list[int]  # statuses to answer the next confirmations with
    sent: dict[str, int]  # bytes of the endless certificate sent so far

    def sign(
        self, message: dict[str, Any], version: str = "1", cert: str = "test"
    ) -> dict[str, Any]:
        message = {
            **message,
            "SignatureVersion": version,
            "SigningCertURL": f"{self.base}/SimpleNotificationService-{cert}.pem",
        }
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(sns_string_to_sign(message), padding.PKCS1v15(), digest)
        return {**message, "Signature": base64.b64encode(signature).decode()}


def _certificate(
    subject: str,
    key: Any,
    issuer_key: Any,
    issuer: x509.Name | None = None,
    *,
    ca: bool = False,
    ip: str | None = None,
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address(ip))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def sns_host(tmp_path: Path) -> Iterator[SnsHost]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("Test CA", ca_key, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _certificate("127.0.0.1", server_key, ca_key, ca_cert.subject, ip="127.0.0.1")
    signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_cert = _certificate("sns.amazonaws.com", signing_key, signing_key)
    (tmp_path / "ca.pem").write_bytes(_pem(ca_cert))
    (tmp_path / "server.pem").write_bytes(_pem(server_cert))
    (tmp_path / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    confirmations: list[str] = []
    failures: list[int] = []
    sent = {"endless": 0}

    async def cert(request: Request) -> Response:
        return Response(_pem(signing_cert), media_type="application/x-pem-file")

    async def endless_cert(request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"-----BEGIN CERTIFICATE-----\n"
            while sent["endless"] < 200 * 1024 * 1024:
                sent["endless"] += 64 * 1024
                yield b"A" * (64 * 1024)

        return StreamingResponse(body(), media_type="application/x-pem-file")

    async def confirm(request: Request) -> Response:
        if failures:
            return PlainTextResponse("unavailable", failures.pop(0))
        confirmations.append(str(request.url))
        return PlainTextResponse("<ConfirmSubscriptionResponse/>")

    app = Starlette(
        routes=[
            Route("/SimpleNotificationService-test.pem", cert),
            Route("/SimpleNotificationService-endless.pem", endless_cert),
            Route("/", confirm),
        ]
    )
    with LiveServer(
        app, ssl_certfile=str(tmp_path / "server.pem"), ssl_keyfile=str(tmp_path / "server.key")
    ) as server:
        yield SnsHost(
            f"https://127.0.0.1:{server.port}",
            f"127.0.0.1:{server.port}",
            tmp_path / "ca.pem",
            signing_key,
            confirmations,
            failures,
            sent,
        )


@pytest.fixture
def ses_live(
    make_ws: Callable[..., Workspace], webhook_env: dict[str, str], sns_host: SnsHost
) -> Iterator[Running]:
    ws = make_ws(
        sns=f'sns_certificate_hosts = ["{sns_host.host}"]\nsns_ca_bundle = "{sns_host.ca_file}"'
    )
    with (
        LiveServer(create_app(ws)) as server,
        httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client,
    ):
        yield Running(ws, f"http://127.0.0.1:{server.port}", client)


def _notification(inner: dict[str, Any], message_id: str = "m-1", **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": json.dumps(inner),
        "Timestamp": datetime.now(UTC).isoformat()[:23] + "Z",
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        **extra,
    }


BOUNCE = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "feedbackId": "f1",
        "bouncedRecipients": [
            {"emailAddress": "gone@example.org", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
        ],
    },
    "mail": {"messageId": "0100018c", "destination": ["gone@example.org"]},
}


@pytest.mark.slow
def test_ses_subscription_confirmation_and_bounce(ses_live: Running, sns_host: SnsHost) -> None:
    ws = ses_live.ws
    _member(ws, "gone@example.org")
    _member(ws, "angry@example.org")
    confirmation = sns_host.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "c-1",
            "Token": "2336412f37",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic",
            "SubscribeURL": f"{sns_host.base}/?Action=ConfirmSubscription&Token=2336412f37",
            "Timestamp": datetime.now(UTC).isoformat()[:23] + "Z",
        }
    )
    response = ses_live.client.post(
        "/webhooks/ses",
        content=json.dumps(confirmation),
        headers={"Content-Type": "text/plain; charset=UTF-8"},
    )
    assert response.status_code == 200, response.text
    assert len(sns_host.confirmations) == 1
    bounce = sns_host.sign(_notification(BOUNCE), version="1")
    response = ses_live.client.post("/webhooks/ses", content=json.dumps(bounce))
    assert response.status_code == 200, response.text
    assert ws.store.is_suppressed("gone@example.org")
    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "angry@example.org"}],
            "complaintFeedbackType": "abuse",
            "feedbackId": "f2",
        },
        "mail": {"messageId": "0100018d"},
    }
    signed = sns_host.sign(_notification(complaint, "m-2", Subject="Complaint"), version="2")
    assert ses_live.client.post("/webhooks/ses", content=json.dumps(signed)).status_code == 200
    assert _statuses(ws, "angry@example.org") == {"open": "complained"}
    assert ses_live.client.post("/webhooks/ses", content=json.dumps(signed)).status_code == 409


@pytest.mark.slow
def test_a_failed_confirmation_can_be_retried(ses_live: Running, sns_host: SnsHost) -> None:
    confirmation = sns_host.sign(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "c-2",
            "Token": "t",
            "TopicArn": TOPIC,
            "Message": "confirm",
            "SubscribeURL": f"{sns_host.base}/?Action=ConfirmSubscription&Token=t",
            "Timestamp": datetime.now(UTC).isoformat()[:23] + "Z",
        }
    )
    sns_host.failures.append(503)
    first = ses_live.client.post("/webhooks/ses", content=json.dumps(confirmation))
    assert first.status_code == 502 and sns_host.confirmations == []
    # SNS retries the very same message: it is not taken for a replay
    again = ses_live.client.post("/webhooks/ses", content=json.dumps(confirmation))
    assert again.status_code == 200 and len(sns_host.confirmations) == 1
    replay = ses_live.client.post("/webhooks/ses", content=json.dumps(confirmation))
    assert replay.status_code == 409 and len(sns_host.confirmations) == 1


@pytest.mark.slow
def test_ses_forgeries_change_nothing(ses_live: Running, sns_host: SnsHost) -> None:
    _member(ses_live.ws, "gone@example.org")
    good = sns_host.sign(_notification(BOUNCE))
    evil_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        **good,
        "Signature": base64.b64encode(
            evil_key.sign(sns_string_to_sign(good), padding.PKCS1v15(), hashes.SHA1())
        ).decode(),
    }
    cases = [
        (forged, 401),
        ({**good, "Message": good["Message"].replace("Permanent", "Transient")}, 401),
        ({**good, "SigningCertURL": "https://evil.example.com/cert.pem"}, 403),
        ({**good, "SigningCertURL": good["SigningCertURL"].replace("https", "http")}, 403),
        (sns_host.sign({**_notification(BOUNCE), "TopicArn": TOPIC.replace("ses", "other")}), 403),
        (sns_host.sign(_notification(BOUNCE, Timestamp="2020-01-01T00:00:00.000Z")), 401),
        ({**good, "SignatureVersion": "3"}, 400),
    ]
    for message, status in cases:
        response = ses_live.client.post("/webhooks/ses", content=json.dumps(message))
        assert response.status_code == status, (message, response.text)
    assert not ses_live.ws.store.is_suppressed("gone@example.org")
    assert ses_live.ws.store.events_for() == []


@pytest.mark.slow
def test_an_endless_certificate_is_cut_off_as_it_streams(
    ses_live: Running, sns_host: SnsHost
) -> None:
    message = sns_host.sign(_notification(BOUNCE), cert="endless")
    response = ses_live.client.post("/webhooks/ses", content=json.dumps(message))
    assert response.status_code == 400
    assert "cannot fetch the signing certificate" in response.json()["error"]
    assert sns_host.sent["endless"] < 8 * 1024 * 1024  # not the 200 MB it would have sent


def test_certificate_host_patterns() -> None:
    hosts = ["sns.*.amazonaws.com"]
    assert host_allowed("https://sns.eu-west-1.amazonaws.com/x.pem", hosts)
    assert not host_allowed("http://sns.eu-west-1.amazonaws.com/x.pem", hosts)
    assert not host_allowed("https://sns.evil.com.amazonaws.com.evil.org/x.pem", hosts)
    assert not host_allowed("https://sns.a.b.amazonaws.com/x.pem", hosts)
    assert not host_allowed("https://user@sns.eu-west-1.amazonaws.com/x.pem", hosts)
    assert not host_allowed("https://sns.eu-west-1.amazonaws.com:8443/x.pem", hosts)


# -- every endpoint ---------------------------------------------------------------------------


@pytest.mark.slow
def test_unconfigured_providers_are_not_found(make_ws: Callable[..., Workspace]) -> None:
    ws = make_ws()  # no secrets in the environment
    with (
        LiveServer(create_app(ws)) as server,
        httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client,
    ):
        for provider in ("postmark", "sendgrid", "mailgun", "resend", "nope"):
            assert client.post(f"/webhooks/{provider}", json={}).status_code == 404


@pytest.mark.parametrize("provider", ["postmark", "mailgun", "ses"])
@pytest.mark.parametrize("depth", [50_000, 40])
def test_deeply_nested_webhook_bodies_get_400(
    live: Running, webhook_env: dict[str, str], provider: str, depth: int
) -> None:
    """Those that read the body before (or without) a signature over it; 50,000 levels were
    a RecursionError and a 500."""
    body = b'{"Type": "Notification", "x": ' + b"[" * depth + b"]" * depth + b"}"
    headers = {"Content-Type": "application/json"}
    if provider == "postmark":
        headers.update(_basic(webhook_env["TEST_PM_USER"], webhook_env["TEST_PM_PASSWORD"]))
    response = live.client.post(f"/webhooks/{provider}", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "the JSON body is nested too deeply"}
    assert live.ws.store.events_for() == []


@pytest.mark.parametrize("provider", ["postmark", "sendgrid", "mailgun", "resend", "ses"])
def test_oversized_webhook_bodies_get_413(live: Running, provider: str) -> None:
    body = b"[" + b" " * (1024 * 1024 + 1) + b"]"
    response = live.client.post(
        f"/webhooks/{provider}", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
