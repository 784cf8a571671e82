"""Sign-up with double opt-in: the POST (form or JSON), the confirmation link.

    POST /subscribe              form or JSON from this site; 202 whatever the address's standing
    GET  /confirm/{token}        a page with a button
    POST /confirm/{token}        activates the subscription

The answer to a sign-up is the same for a new, pending, active, unsubscribed or suppressed
address, so it reveals nothing; confirmation links are signed and expire, and an address
gets at most one confirmation an hour and a few a day (counted in the store), whoever asks.
The pages with the form (/, /subscribe/{list}) are in front.py.
"""

from __future__ import annotations

import asyncio
import logging

from email_validator import EmailNotValidError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest.config import Config, ListConfig, parse_window
from digest.errors import RequestError
from digest.models import Outcome
from digest.render import build_message
from digest.subscribers import normalize_email
from digest.tokens import EXPIRED
from digest.web.front import signup_page
from digest.web.middleware import (
    ClientLimiter,
    check_form_token,
    csrf_token,
    form_token_deferred,
    media_type,
    same_site,
)
from digest.web.payloads import check_fields, read_json
from digest.web.site import Site

__all__ = ["SignupRoutes", "confirmation_sender"]

log = logging.getLogger(__name__)

# What a sign-up may be sent as: the encodings of an HTML form, and JSON (the media type
# exactly; parameters such as charset aside) for API clients. A page on another site can post
# forms and text/plain without asking a browser's leave (and `text/plain; x=json` once passed
# for JSON here), so Origin is checked as well.
_ACCEPTED = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")


class SignupRoutes:
    def __init__(self, site: Site) -> None:
        self.site = site
        web = site.config.web
        self.limiter = ClientLimiter(web.signup_rate, web.signup_burst)

    def routes(self) -> list[Route]:
        return [
            Route("/subscribe", self.subscribe, methods=["POST"]),
            Route("/confirm/{token}", self.confirm_page, methods=["GET"]),
            Route("/confirm/{token}", self.confirm, methods=["POST"]),
        ]

    async def subscribe(self, request: Request) -> Response:
        """Same answer (202) whatever the address's standing, so it reveals nothing."""
        if not same_site(request, self.site.config.web.base_url):
            raise RequestError(403, "sign up from this site's own pages")
        media = media_type(request)
        if media not in _ACCEPTED:
            raise RequestError(415, "send a form or application/json")
        wants_json = media == "application/json"
        wait = self.limiter.allow(self.site.client(request))
        if wait:
            headers = {"Retry-After": str(max(1, round(wait)))}
            if wants_json:
                return JSONResponse({"error": "too many requests"}, 429, headers=headers)
            return self.site.pages.page("invalid.html", 429, reason="rate")
        fields = await _fields(request, wants_json)
        if fields is None:
            return JSONResponse({"error": "send a form or a JSON object"}, 400)
        list_name = fields.get("list", "")
        configured = self.site.config.lists.get(list_name)
        if configured is None or not configured.signup:
            return JSONResponse({"error": "no such list"}, 404)
        try:
            email = normalize_email(fields.get("email", ""))
        except EmailNotValidError as exc:
            if wants_json:
                return JSONResponse({"error": f"invalid address: {exc}"}, 422)
            return signup_page(self.site, request, list_name, root="", status=422, error=str(exc))
        name = fields.get("name", "")[:200]
        list_id = await asyncio.to_thread(self.site.store.ensure_list, list_name, configured.title)
        outcome, subscriber_id = await asyncio.to_thread(
            self.site.store.request_subscription,
            list_id,
            email,
            name=name,
            double_opt_in=configured.double_opt_in,
            client=self.site.client(request),
        )
        task = None
        if outcome == "confirm" and subscriber_id is not None:
            task = BackgroundTask(
                self.send_confirmation, list_name, configured, list_id, subscriber_id, email
            )
        # The same body for every outcome: new, pending, active, unsubscribed, suppressed, and
        # an address that had its confirmations for now (send_confirmation sends nothing).
        message = (
            "Thank you. Please check your inbox to confirm."
            if configured.double_opt_in
            else "Thank you for subscribing."
        )
        if wants_json:
            return JSONResponse({"status": "accepted", "message": message}, 202, background=task)
        response = self.site.pages.page(
            "subscribed.html", 202, title=self.site.reading_title(list_name), message=message
        )
        response.background = task
        return response

    async def send_confirmation(
        self,
        list_name: str,
        configured: ListConfig,
        list_id: int,
        subscriber_id: int,
        email: str,
    ) -> None:
        """Send the opt-in link through the list's provider; failures are recorded, not raised.

        Nothing goes out to an address that had one within `web.signup_confirm_every`, or
        `web.signup_confirm_per_day` within a day, so a sign-up form cannot flood a mailbox.
        The message holds nothing the requester typed (not even a name: the form is open to
        anyone, and what it sends must not carry their text to someone else).
        """
        web = self.site.config.web
        allowed = await asyncio.to_thread(
            self.site.store.claim_confirmation,
            email,
            every=parse_window(web.signup_confirm_every),
            per_day=web.signup_confirm_per_day,
        )
        if not allowed:
            log.info("confirmation for list %s not sent: the address had its share", list_name)
            return
        sender = confirmation_sender(self.site.config, list_name)
        if sender is None:
            self.site.store.record_event(
                "web", "confirmation_failed", email, {"error": "no sender"}
            )
            return
        provider_name, from_addr = sender
        token = self.site.signer.confirm_token(subscriber_id, list_id)
        link = f"{web.base_url}/confirm/{token}"
        hours = int(parse_window(configured.confirm_window).total_seconds() // 3600)
        title = self.site.reading_title(list_name)
        context = {"title": title, "link": link, "hours": hours}
        text = self.site.pages.render("email/confirm.txt", **context)
        html = self.site.pages.render("email/confirm.html", **context)
        event_id = self.site.store.record_event(
            "web", "confirmation_sent", email, {"list_id": list_id, "provider": provider_name}
        )
        message = build_message(
            -event_id,
            to=email,
            to_name="",
            from_addr=from_addr,
            subject=configured.confirm_subject,
            text=text,
            html=html,
        )
        try:
            transport = self.site.ws.transport(provider_name)
            try:
                [result] = await transport.send_batch([message])
            finally:
                await transport.aclose()
            if result.outcome != Outcome.SENT:
                raise RuntimeError(result.error or str(result.outcome))
        except Exception as exc:  # the sign-up was answered already; keep the reason
            log.warning("confirmation to list %s failed: %s", list_name, exc)
            self.site.store.record_event(
                "web", "confirmation_failed", email, {"list_id": list_id, "error": str(exc)}
            )

    async def confirm_page(self, request: Request) -> Response:
        found = self._confirm_token(request)
        if isinstance(found, Response):
            return found
        title, _ = self.site.list_title(found[1])
        return self.site.pages.page("confirm.html", title=title, csrftoken=csrf_token(request))

    async def confirm(self, request: Request) -> Response:
        found = self._confirm_token(request)
        if isinstance(found, Response):
            return found
        subscriber_id, list_id = found
        done = await asyncio.to_thread(
            self.site.store.confirm_subscription,
            list_id,
            subscriber_id,
            client=self.site.client(request),
        )
        title, _ = self.site.list_title(list_id)
        if not done:
            return self.site.pages.page("invalid.html", 409, reason="confirm")
        return self.site.pages.page("confirmed.html", title=title)

    def _confirm_token(self, request: Request) -> tuple[int, int] | Response:
        token = request.path_params["token"]
        unverified = self.site.signer.read_confirm_token(token, max_age=10**9)
        if unverified is None or unverified is EXPIRED:
            return self.site.pages.invalid()
        _, list_id = unverified
        name = self.site.store.list_name(list_id) or ""
        configured = self.site.config.lists.get(name)
        window = parse_window(configured.confirm_window if configured else "3d")
        found = self.site.signer.read_confirm_token(token, max_age=int(window.total_seconds()))
        if found is EXPIRED:
            return self.site.pages.page("invalid.html", 410, reason="expired")
        if found is None:
            return self.site.pages.invalid()
        return found


def confirmation_sender(config: Config, list_name: str) -> tuple[str, str] | None:
    """(provider name, From) for a list's confirmation messages."""
    configured = config.lists[list_name]
    digest = next((d for d in config.digests.values() if d.list == list_name), None)
    provider = configured.confirm_provider or (digest.provider if digest else None)
    from_addr = configured.confirm_from or (digest.from_ if digest else None)
    if provider is None or from_addr is None or provider not in config.providers:
        return None
    return provider, from_addr


async def _fields(request: Request, wants_json: bool) -> dict[str, str] | None:
    """The sign-up's fields; a 400 (RequestError) for JSON nested too deeply or a field
    holding a control character."""
    if wants_json:
        payload = read_json(await request.body())
        if not isinstance(payload, dict):
            return None
        fields = {k: str(v) for k, v in payload.items() if isinstance(v, str | int)}
    else:
        form = await request.form()
        if form_token_deferred(request):
            check_form_token(request, form)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    check_fields(fields, known=("list", "email", "name"))
    return fields
