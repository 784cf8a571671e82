"""The webhook endpoint: verify the provider's request, apply its feedback to the store.

    POST /webhooks/{postmark,sendgrid,mailgun,resend,ses}

A request is verified the way its provider signs it (one module per provider beside this one)
before anything is read; a replayed request (known by the provider's message or event ids, never
by its signature, which changes with each signing) is refused; hard bounces and complaints suppress
the address, unsubscribes unsubscribe it. A refusal changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest.config import Config
from digest.models import MembershipStatus
from digest.store import Store
from digest.subscribers import normalize_email
from digest.web.site import Site
from digest.web.webhooks.common import Feedback, Rejected, read_json
from digest.web.webhooks.mailgun import parse_mailgun, verify_mailgun
from digest.web.webhooks.postmark import parse_postmark, verify_postmark
from digest.web.webhooks.resend import parse_resend, svix_key, verify_svix
from digest.web.webhooks.sendgrid import load_sendgrid_key, parse_sendgrid, verify_sendgrid
from digest.web.webhooks.ses import SnsVerifier, parse_ses

__all__ = ["WebhookRoutes", "apply_feedback"]

log = logging.getLogger(__name__)


@dataclass
class _Secrets:
    """Webhook secrets read from the environment at start; None when not configured."""

    postmark: tuple[str, str] | None
    sendgrid: Any
    mailgun: str | None
    resend: str | None


def _env(name: str | None) -> str | None:
    return (os.environ.get(name) or None) if name else None


def _load_secrets(config: Config) -> _Secrets:
    hooks = config.web.webhooks
    user, password = _env(hooks.postmark_username_env), _env(hooks.postmark_password_env)
    sendgrid_key = _env(hooks.sendgrid_public_key_env)
    resend = _env(hooks.resend_secret_env)
    if resend:
        svix_key(resend)  # a malformed secret fails at start, not per request
    return _Secrets(
        postmark=(user, password) if user and password else None,
        sendgrid=load_sendgrid_key(sendgrid_key) if sendgrid_key else None,
        mailgun=_env(hooks.mailgun_signing_key_env),
        resend=resend,
    )


class WebhookRoutes:
    """Receives every provider's feedback; secrets are read from the environment at start."""

    def __init__(self, site: Site) -> None:
        self.site = site
        config = site.config
        self.secrets = _load_secrets(config)
        hooks = config.web.webhooks
        self.sns = SnsVerifier(
            hosts=hooks.sns_certificate_hosts,
            topics=hooks.sns_topic_arns,
            max_age=hooks.sns_max_age,
            ca_bundle=str(config.resolve(hooks.sns_ca_bundle)) if hooks.sns_ca_bundle else None,
        )

    def routes(self) -> list[Route]:
        return [Route("/webhooks/{provider}", self.webhook, methods=["POST"])]

    async def webhook(self, request: Request) -> Response:
        provider = request.path_params["provider"]
        handler = {
            "postmark": self._postmark,
            "sendgrid": self._sendgrid,
            "mailgun": self._mailgun,
            "resend": self._resend,
            "ses": self._ses,
        }.get(provider)
        if handler is None:
            return JSONResponse({"error": "unknown provider"}, 404)
        body = await request.body()
        request.state.receipts = []
        try:
            items = await handler(request, body)
            applied = await asyncio.to_thread(apply_feedback, self.site.store, provider, items)
        except Rejected as exc:
            await self._forget(request)
            log.warning("webhook %s rejected: %s", provider, exc.reason)
            return JSONResponse({"error": exc.reason}, exc.http_status)
        except Exception:
            await self._forget(request)  # the provider's retry must not look like a replay
            raise
        return JSONResponse({"received": len(items), **applied})

    def _receipt(self, request: Request, provider: str, key: str) -> None:
        """Refuse a request seen before; remember this one (forgotten if handling fails)."""
        if not self.site.store.first_receipt(provider, key):
            raise Rejected(409, "this request was already received (replay)")
        request.state.receipts.append((provider, key))

    async def _forget(self, request: Request) -> None:
        for provider, key in request.state.receipts:
            await asyncio.to_thread(self.site.store.forget_receipt, provider, key)

    async def _postmark(self, request: Request, body: bytes) -> list[Feedback]:
        if self.secrets.postmark is None:
            raise Rejected(404, "Postmark webhook not configured")
        verify_postmark(request.headers.get("authorization"), *self.secrets.postmark)
        return parse_postmark(body)

    async def _sendgrid(self, request: Request, body: bytes) -> list[Feedback]:
        if self.secrets.sendgrid is None:
            raise Rejected(404, "SendGrid webhook not configured")
        signature = request.headers.get("x-twilio-email-event-webhook-signature")
        verify_sendgrid(
            body,
            signature,
            request.headers.get("x-twilio-email-event-webhook-timestamp"),
            self.secrets.sendgrid,
            tolerance=self.site.config.web.webhooks.tolerance,
        )
        items = parse_sendgrid(body)
        self._receipt(request, "sendgrid", _events_key(items, body))
        return items

    async def _mailgun(self, request: Request, body: bytes) -> list[Feedback]:
        if self.secrets.mailgun is None:
            raise Rejected(404, "Mailgun webhook not configured")
        payload = read_json(body)
        verify_mailgun(
            payload, self.secrets.mailgun, tolerance=self.site.config.web.webhooks.tolerance
        )
        items = parse_mailgun(payload)
        # the body holds the signature: without ids, only the event data identifies it
        event_data = json.dumps(payload.get("event-data"), sort_keys=True).encode()
        self._receipt(request, "mailgun", _events_key(items, event_data))
        return items

    async def _resend(self, request: Request, body: bytes) -> list[Feedback]:
        if self.secrets.resend is None:
            raise Rejected(404, "Resend webhook not configured")
        msg_id = verify_svix(
            body,
            request.headers,
            self.secrets.resend,
            tolerance=self.site.config.web.webhooks.tolerance,
        )
        self._receipt(request, "resend", f"msg:{msg_id}")  # signed with the body
        return parse_resend(body, msg_id)

    async def _ses(self, request: Request, body: bytes) -> list[Feedback]:
        if not self.sns.topics:
            raise Rejected(404, "SES (SNS) webhook not configured")
        message = await self.sns.verify(read_json(body))
        self._receipt(request, "ses", f"sns:{message.get('MessageId')}")
        if message["Type"] == "SubscriptionConfirmation":
            await self.sns.confirm_subscription(message)
            self.site.store.record_event(
                "ses", "subscription_confirmed", None, {"TopicArn": message["TopicArn"]}
            )
            return []
        if message["Type"] == "UnsubscribeConfirmation":
            self.site.store.record_event(
                "ses", "subscription_ended", None, {"TopicArn": message["TopicArn"]}
            )
            return []
        return parse_ses(message)


def _events_key(items: list[Feedback], content: bytes) -> str:
    """A request's replay key from the provider's event ids, never from its signature.

    A signature changes each time the same events are signed again (new timestamp, token), so
    it cannot recognize a replay; the events' own ids do. Events without ids are known by the
    digest of their signed content instead.
    """
    ids = [item.event_id for item in items]
    if items and all(ids):
        return "events:" + hashlib.sha256("\n".join(sorted(map(str, ids))).encode()).hexdigest()
    return "content:" + hashlib.sha256(content).hexdigest()


def apply_feedback(store: Store, provider: str, items: list[Feedback]) -> dict[str, int]:
    """Record every event; hard bounces and complaints suppress, unsubscribes unsubscribe."""
    counts = {"applied": 0, "duplicates": 0}
    for item in items:
        if item.event_id and not store.first_receipt(f"{provider}:event", item.event_id):
            counts["duplicates"] += 1
            continue
        email = None
        if item.email:
            try:
                email = normalize_email(str(item.email))
            except EmailNotValidError:
                email = None
        store.record_event(
            provider,
            item.kind,
            email or (str(item.email) if item.email else None),
            {
                "event": item.event,
                "message_id": item.message_id,
                "detail": item.detail,
                "raw": item.raw,
            },
        )
        if email is None:
            continue
        reason = f"{item.event} ({provider})"
        if item.kind == "bounce":
            store.stop_address(email, MembershipStatus.BOUNCED, reason=reason, detail=item.detail)
        elif item.kind == "complaint":
            store.stop_address(
                email, MembershipStatus.COMPLAINED, reason=reason, detail=item.detail
            )
        elif item.kind == "unsubscribe":
            list_id = store.list_of_message(item.message_id) if item.message_id else None
            store.stop_address(email, MembershipStatus.UNSUBSCRIBED, reason=reason, list_id=list_id)
        else:
            continue
        counts["applied"] += 1
    return counts
