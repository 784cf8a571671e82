"""The public web endpoints: sign-up with double opt-in, one-click unsubscribe, provider webhooks.

    GET  /subscribe?list=NAME       sign-up form          POST /subscribe       form or JSON
    GET  /confirm/{token}           page with a button    POST /confirm/{token} activates
    GET  /unsubscribe/{token}       page with a button    POST /unsubscribe/{token}  RFC 8058
    GET  /issues/{token}            an issue as sent ("view in your browser")
    POST /webhooks/{postmark,sendgrid,mailgun,resend,ses}
    GET  /healthz

GETs never change anything, so link scanners that follow every link in a message neither
unsubscribe nor confirm anybody. Tokens are signed (digest/tokens.py) and name no address; a
forged one gets a 4xx and changes nothing. Pages are Jinja templates under templates/web/.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

import jinja2
from email_validator import EmailNotValidError
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.config import Config, ListConfig, parse_window
from digest.models import IssueStatus, MembershipStatus, Outcome, OutgoingMessage
from digest.store import Store
from digest.subscribers import normalize_email
from digest.tokens import EXPIRED, LinkSigner
from digest.web import webhooks
from digest.web.webhooks import Feedback, Rejected

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "web"  # digest/templates/web
ONE_CLICK = "List-Unsubscribe=One-Click"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",  # the token in the URL must not leak onwards
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


# The issue's own HTML: its inline styles and remote images, nothing else, never framed.
ISSUE_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Cache-Control": "public, max-age=300",
}


class WebWorkspace(Protocol):
    """What the app needs of `digest.pipeline.Workspace` (which satisfies it)."""

    config: Config
    home: Path
    store: Store
    signer: LinkSigner


# -- plumbing ---------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Answer 413 to any request whose body is larger than `limit` bytes, declared or not."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await PlainTextResponse("request body too large", 413)(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watch)
        except _TooLarge:
            if not started:
                await PlainTextResponse("request body too large", 413)(scope, receive, send)


class RateLimiter:
    """A token bucket per client address, in memory (one process serves one bucket set)."""

    def __init__(self, per_minute: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float | None = None) -> float:
        """0 when allowed (a token is taken), else the seconds until the next token."""
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            wait = 0.0
        else:
            self._buckets[client] = (tokens, now)
            wait = (1 - tokens) / self.rate
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait


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
        webhooks._svix_key(resend)  # a malformed secret fails at start, not per request
    return _Secrets(
        postmark=(user, password) if user and password else None,
        sendgrid=webhooks.load_sendgrid_key(sendgrid_key) if sendgrid_key else None,
        mailgun=_env(hooks.mailgun_signing_key_env),
        resend=resend,
    )


def _mask(email: str) -> str:
    """a***@example.org: enough for the owner to recognize, little for anyone else."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


# -- the app ----------------------------------------------------------------------------------


class WebApp:
    """The handlers, holding the workspace, templates, limiter and webhook verifiers."""

    def __init__(self, ws: WebWorkspace) -> None:
        self.ws = ws
        self.config = ws.config
        self.store = ws.store
        self.signer = ws.signer
        self.pages = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        web = ws.config.web
        self.limiter = RateLimiter(web.signup_rate, web.signup_burst)
        self.secrets = _load_secrets(ws.config)
        hooks = web.webhooks
        self.sns = webhooks.SnsVerifier(
            hosts=hooks.sns_certificate_hosts,
            topics=hooks.sns_topic_arns,
            max_age=hooks.sns_max_age,
            ca_bundle=str(ws.config.resolve(hooks.sns_ca_bundle)) if hooks.sns_ca_bundle else None,
        )

    # pages

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.pages.get_template(name).render(**context)
        return HTMLResponse(html, status, headers=SECURITY_HEADERS)

    def invalid_link(self) -> HTMLResponse:
        return self.page("invalid.html", 400)

    def list_title(self, list_id: int) -> tuple[str, ListConfig | None]:
        name = self.store.list_name(list_id) or ""
        configured = self.config.lists.get(name)
        return (configured.title if configured else name), configured

    def client(self, request: Request) -> str:
        if self.config.web.trust_forwarded_for:
            forwarded = request.headers.get("x-forwarded-for", "")
            if forwarded.strip():
                return forwarded.split(",")[0].strip()
        return request.client.host if request.client else "unknown"

    # unsubscribe

    async def unsubscribe_page(self, request: Request) -> Response:
        found = self.signer.read_unsubscribe_token(request.path_params["token"])
        if found is None:
            return self.invalid_link()
        subscriber_id, list_id = found
        title, _ = self.list_title(list_id)
        subscriber = await asyncio.to_thread(self.store.subscriber_by_id, subscriber_id)
        status = await asyncio.to_thread(self.store.membership_status, list_id, subscriber_id)
        return self.page(
            "unsubscribe.html",
            title=title,
            who=_mask(subscriber.email) if subscriber else None,
            already=status in MembershipStatus.INACTIVE,
            one_click=ONE_CLICK,
        )

    async def unsubscribe(self, request: Request) -> Response:
        """RFC 8058 one-click: no cookie, no login, no redirect; idempotent; 200."""
        found = self.signer.read_unsubscribe_token(request.path_params["token"])
        if found is None:
            return self.invalid_link()
        if not await _is_one_click(request):
            return self.page("invalid.html", 400, reason="one_click")
        subscriber_id, list_id = found
        outcome = await asyncio.to_thread(
            self.store.unsubscribe,
            list_id,
            subscriber_id,
            source="web",
            reason="one-click unsubscribe",
        )
        title, _ = self.list_title(list_id)
        log.info("unsubscribe %s from list %s: %s", subscriber_id, list_id, outcome)
        return self.page("unsubscribed.html", title=title, outcome=outcome)

    # web view

    async def issue_page(self, request: Request) -> Response:
        """An issue as sent, for the "view in your browser" link; nobody's data in it."""
        from digest.errors import StoreError
        from digest.models import Recipient
        from digest.personalize import render_preview
        from digest.pipeline import stored_rendering

        issue_id = self.signer.read_issue_token(request.path_params["token"])
        if issue_id is None:
            return self.invalid_link()
        try:
            issue = await asyncio.to_thread(self.store.get_issue, issue_id)
        except StoreError:
            return self.page("invalid.html", 404, reason="issue")
        if issue.status not in IssueStatus.PUBLISHED:
            return self.page("invalid.html", 404, reason="issue")
        reader = Recipient(delivery_id=0, subscriber_id=0, email="", web_url=str(request.url))
        html, _ = render_preview(stored_rendering(issue), reader)
        return HTMLResponse(html, headers=ISSUE_HEADERS)

    # sign-up

    async def subscribe_form(self, request: Request) -> Response:
        name = request.query_params.get("list", "")
        configured = self.config.lists.get(name)
        if configured is None or not configured.signup:
            return self.page("invalid.html", 404, reason="list")
        return self.page("subscribe.html", list_name=name, title=configured.title)

    async def subscribe(self, request: Request) -> Response:
        """Same answer (202) whatever the address's standing, so it reveals nothing."""
        wants_json = "json" in request.headers.get("content-type", "")
        wait = self.limiter.allow(self.client(request))
        if wait:
            headers = {"Retry-After": str(max(1, round(wait)))}
            if wants_json:
                return JSONResponse({"error": "too many requests"}, 429, headers=headers)
            return self.page("invalid.html", 429, reason="rate")
        fields = await _fields(request, wants_json)
        if fields is None:
            return JSONResponse({"error": "send a form or a JSON object"}, 400)
        list_name = fields.get("list", "")
        configured = self.config.lists.get(list_name)
        if configured is None or not configured.signup:
            return JSONResponse({"error": "no such list"}, 404)
        try:
            email = normalize_email(fields.get("email", ""))
        except EmailNotValidError as exc:
            if wants_json:
                return JSONResponse({"error": f"invalid address: {exc}"}, 422)
            return self.page(
                "subscribe.html",
                422,
                list_name=list_name,
                title=configured.title,
                error=str(exc),
            )
        name = fields.get("name", "")[:200]
        list_id = await asyncio.to_thread(self.store.ensure_list, list_name, configured.title)
        outcome, subscriber_id = await asyncio.to_thread(
            self.store.request_subscription,
            list_id,
            email,
            name=name,
            double_opt_in=configured.double_opt_in,
            client=self.client(request),
        )
        task = None
        if outcome == "confirm" and subscriber_id is not None:
            task = BackgroundTask(
                self.send_confirmation, list_name, configured, list_id, subscriber_id, email, name
            )
        # The same body for every outcome: new, pending, active, unsubscribed, suppressed.
        message = (
            "Thank you. Please check your inbox to confirm."
            if configured.double_opt_in
            else "Thank you for subscribing."
        )
        if wants_json:
            return JSONResponse({"status": "accepted", "message": message}, 202, background=task)
        response = self.page("subscribed.html", 202, title=configured.title, message=message)
        response.background = task
        return response

    async def send_confirmation(
        self,
        list_name: str,
        configured: ListConfig,
        list_id: int,
        subscriber_id: int,
        email: str,
        name: str,
    ) -> None:
        """Send the opt-in link through the list's provider; failures are recorded, not raised."""
        from digest.send import make_transport

        sender = confirmation_sender(self.config, list_name)
        if sender is None:
            self.store.record_event("web", "confirmation_failed", email, {"error": "no sender"})
            return
        provider_name, from_addr = sender
        token = self.signer.confirm_token(subscriber_id, list_id)
        link = f"{self.config.web.base_url}/confirm/{token}"
        hours = int(parse_window(configured.confirm_window).total_seconds() // 3600)
        context = {"title": configured.title, "link": link, "name": name, "hours": hours}
        text = self.pages.get_template("email/confirm.txt").render(**context)
        html = self.pages.get_template("email/confirm.html").render(**context)
        event_id = self.store.record_event(
            "web", "confirmation_sent", email, {"list_id": list_id, "provider": provider_name}
        )
        message = build_message(
            -event_id,
            to=email,
            to_name=name,
            from_addr=from_addr,
            subject=configured.confirm_subject,
            text=text,
            html=html,
        )
        try:
            transport = make_transport(
                provider_name, self.config.providers[provider_name], self.ws.home
            )
            try:
                [result] = await transport.send_batch([message])
            finally:
                await transport.aclose()
            if result.outcome != Outcome.SENT:
                raise RuntimeError(result.error or str(result.outcome))
        except Exception as exc:  # the sign-up was answered already; keep the reason
            log.warning("confirmation to list %s failed: %s", list_name, exc)
            self.store.record_event(
                "web", "confirmation_failed", email, {"list_id": list_id, "error": str(exc)}
            )

    async def confirm_page(self, request: Request) -> Response:
        found = self._confirm_token(request)
        if isinstance(found, Response):
            return found
        title, _ = self.list_title(found[1])
        return self.page("confirm.html", title=title)

    async def confirm(self, request: Request) -> Response:
        found = self._confirm_token(request)
        if isinstance(found, Response):
            return found
        subscriber_id, list_id = found
        done = await asyncio.to_thread(
            self.store.confirm_subscription, list_id, subscriber_id, client=self.client(request)
        )
        title, _ = self.list_title(list_id)
        if not done:
            return self.page("invalid.html", 409, reason="confirm")
        return self.page("confirmed.html", title=title)

    def _confirm_token(self, request: Request) -> tuple[int, int] | Response:
        token = request.path_params["token"]
        unverified = self.signer.read_confirm_token(token, max_age=10**9)
        if unverified is None or unverified is EXPIRED:
            return self.invalid_link()
        _, list_id = unverified
        name = self.store.list_name(list_id) or ""
        configured = self.config.lists.get(name)
        window = parse_window(configured.confirm_window if configured else "3d")
        found = self.signer.read_confirm_token(token, max_age=int(window.total_seconds()))
        if found is EXPIRED:
            return self.page("invalid.html", 410, reason="expired")
        if found is None:
            return self.invalid_link()
        return found

    # webhooks

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
            applied = await asyncio.to_thread(apply_feedback, self.store, provider, items)
        except Rejected as exc:
            await self._forget(request)
            log.warning("webhook %s rejected: %s", provider, exc.reason)
            return JSONResponse({"error": exc.reason}, exc.status)
        except Exception:
            await self._forget(request)  # the provider's retry must not look like a replay
            raise
        return JSONResponse({"received": len(items), **applied})

    def _receipt(self, request: Request, provider: str, key: str) -> None:
        """Refuse a request seen before; remember this one (forgotten if handling fails)."""
        if not self.store.first_receipt(provider, key):
            raise Rejected(409, "this request was already received (replay)")
        request.state.receipts.append((provider, key))

    async def _forget(self, request: Request) -> None:
        for provider, key in request.state.receipts:
            await asyncio.to_thread(self.store.forget_receipt, provider, key)

    async def _postmark(self, request: Request, body: bytes) -> list[Feedback]:
        if self.secrets.postmark is None:
            raise Rejected(404, "Postmark webhook not configured")
        webhooks.verify_postmark(request.headers.get("authorization"), *self.secrets.postmark)
        return webhooks.parse_postmark(body)

    async def _sendgrid(self, request: Request, body: bytes) -> list[Feedback]:
        if self.secrets.sendgrid is None:
            raise Rejected(404, "SendGrid webhook not configured")
        signature = request.headers.get("x-twilio-email-event-webhook-signature")
        webhooks.verify_sendgrid(
            body,
            signature,
            request.headers.get("x-twilio-email-event-webhook-timestamp"),
            self.secrets.sendgrid,
            tolerance=self.config.web.webhooks.tolerance,
        )
        self._receipt(request, "sendgrid", f"sig:{signature}")
        return webhooks.parse_sendgrid(body)

    async def _mailgun(self, request: Request, body: bytes) -> list[Feedback]:
        if self.secrets.mailgun is None:
            raise Rejected(404, "Mailgun webhook not configured")
        payload = webhooks._json(body)
        token = webhooks.verify_mailgun(
            payload, self.secrets.mailgun, tolerance=self.config.web.webhooks.tolerance
        )
        self._receipt(request, "mailgun", f"token:{token}")
        return webhooks.parse_mailgun(payload)

    async def _resend(self, request: Request, body: bytes) -> list[Feedback]:
        if self.secrets.resend is None:
            raise Rejected(404, "Resend webhook not configured")
        msg_id = webhooks.verify_svix(
            body,
            request.headers,
            self.secrets.resend,
            tolerance=self.config.web.webhooks.tolerance,
        )
        signature = request.headers.get("svix-signature") or request.headers.get(
            "webhook-signature", ""
        )
        self._receipt(request, "resend", f"sig:{signature}")
        return webhooks.parse_resend(body, msg_id)

    async def _ses(self, request: Request, body: bytes) -> list[Feedback]:
        if not self.sns.topics:
            raise Rejected(404, "SES (SNS) webhook not configured")
        message = await self.sns.verify(webhooks._json(body))
        self._receipt(request, "ses", f"sns:{message.get('MessageId')}")
        if message["Type"] == "SubscriptionConfirmation":
            await self.sns.confirm_subscription(message)
            self.store.record_event(
                "ses", "subscription_confirmed", None, {"TopicArn": message["TopicArn"]}
            )
            return []
        if message["Type"] == "UnsubscribeConfirmation":
            self.store.record_event(
                "ses", "subscription_ended", None, {"TopicArn": message["TopicArn"]}
            )
            return []
        return webhooks.parse_ses(message)


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


def confirmation_sender(config: Config, list_name: str) -> tuple[str, str] | None:
    """(provider name, From) for a list's confirmation messages."""
    configured = config.lists[list_name]
    digest = next((d for d in config.digests.values() if d.list == list_name), None)
    provider = configured.confirm_provider or (digest.provider if digest else None)
    from_addr = configured.confirm_from or (digest.from_ if digest else None)
    if provider is None or from_addr is None or provider not in config.providers:
        return None
    return provider, from_addr


def build_message(
    delivery_id: int,
    *,
    to: str,
    to_name: str,
    from_addr: str,
    subject: str,
    text: str,
    html: str,
) -> OutgoingMessage:
    """A small transactional text + HTML message (no List-Unsubscribe: nobody is on a list)."""
    domain = parseaddr(from_addr)[1].rpartition("@")[2] or "digest.local"
    message = EmailMessage()
    message["From"] = from_addr
    message["To"] = f"{to_name} <{to}>" if to_name else to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    headers = {"Message-ID": str(message["Message-ID"]), "Auto-Submitted": "auto-generated"}
    return OutgoingMessage(
        delivery_id=delivery_id,
        to_email=to,
        to_name=to_name,
        from_addr=from_addr,
        reply_to=None,
        subject=subject,
        html=html,
        text=text,
        headers=headers,
        mime=message.as_bytes(),
        tag="confirmation",
    )


async def _is_one_click(request: Request) -> bool:
    """The RFC 8058 body, sent urlencoded (Gmail) or as multipart/form-data."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        return form.get("List-Unsubscribe") == "One-Click"
    body = await request.body()
    try:
        values = parse_qs(body.decode("utf-8").strip(), keep_blank_values=True)
    except UnicodeDecodeError:
        return False
    return values.get("List-Unsubscribe") == ["One-Click"]


async def _fields(request: Request, wants_json: bool) -> dict[str, str] | None:
    if wants_json:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return None
        if not isinstance(payload, dict):
            return None
        return {k: str(v) for k, v in payload.items() if isinstance(v, str | int)}
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _health(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(ws: WebWorkspace) -> Starlette:
    """The Starlette app `digest web` serves; the scheduler service mounts the same one."""
    base = ws.config.web.base_url
    if not base.startswith("https://") and "127.0.0.1" not in base and "localhost" not in base:
        log.warning("web.base_url %s is not https: RFC 8058 one-click needs an https URL", base)
    handlers = WebApp(ws)
    routes = [
        Route("/healthz", _health, methods=["GET"]),
        Route("/subscribe", handlers.subscribe_form, methods=["GET"]),
        Route("/subscribe", handlers.subscribe, methods=["POST"]),
        Route("/confirm/{token}", handlers.confirm_page, methods=["GET"]),
        Route("/confirm/{token}", handlers.confirm, methods=["POST"]),
        Route("/unsubscribe/{token}", handlers.unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", handlers.unsubscribe, methods=["POST"]),
        Route("/webhooks/{provider}", handlers.webhook, methods=["POST"]),
        Route("/issues/{token}", handlers.issue_page, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.web = handlers
    app.add_middleware(BodyLimit, limit=ws.config.web.max_body_bytes)
    return app
