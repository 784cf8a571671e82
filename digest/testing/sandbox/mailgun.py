"""Mailgun: /v3/{domain}/messages as multipart form data, basic auth with the API key; the
events API (GET /v3/{domain}/events) over what was accepted."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from digest.testing.sandbox.answers import json_answer
from digest.testing.sandbox.common import Authenticator, Contract, Handler, mailbox, mailboxes
from digest.testing.sandbox.state import AcceptedMessage

EVENTS_LIMIT = 300  # entries per page at most
EVENTS_DEFAULT_LIMIT = 100  # unconfirmed


class MailgunContract(Contract):
    name = "mailgun"

    def routes(self) -> list[tuple[str, Authenticator, Handler]]:
        return [
            ("/v3/{domain}/messages", self.mailgun_auth, self.mailgun_send),
        ]

    def searches(self) -> list[tuple[str, Authenticator, Handler]]:
        return [
            ("/v3/{domain}/events", self.mailgun_auth, self.mailgun_events),
            ("/v3/{domain}/events/{page}", self.mailgun_auth, self.mailgun_events),
        ]

    def fault_answer(self, status: int, message: str, headers: dict[str, str]) -> Response:
        return json_answer({"message": message}, status, headers)

    async def mailgun_events(self, request: Request, body: bytes) -> Response:
        """`GET /v3/{domain}/events`: `accepted` events of the messages this domain accepted.

        A time range (`begin`, `end`: epoch seconds or RFC 2822; without `end`, `ascending`
        yes/no says the direction), `limit` (at most 300) and filters `event`, `recipient`,
        `from`, `to`, `subject`, `tags`, `message-id`. The answer is a page of `items` and
        `paging` URLs (`next`, `previous`, `first`, `last`); a page past the end is empty.
        """
        domain = request.path_params["domain"]
        if domain not in self.config.mailgun_domains:
            return json_answer({"message": f"Domain not found: {domain}"}, 404)
        token = request.path_params.get("page")
        try:
            if token is None:
                query, offset = dict(request.query_params), 0
            else:
                state = orjson.loads(base64.urlsafe_b64decode(token.encode()))
                query, offset = dict(state["q"]), int(state["o"])
            begin, end = _moment(query.get("begin")), _moment(query.get("end"))
            limit = int(query.get("limit", EVENTS_DEFAULT_LIMIT))
        except (ValueError, TypeError, KeyError, binascii.Error, orjson.JSONDecodeError):
            return json_answer({"message": "Invalid query parameters"}, 400)
        ascending = query.get("ascending")
        if ascending not in (None, "yes", "no") or not 1 <= limit <= EVENTS_LIMIT:
            return json_answer({"message": "ascending must be yes or no; limit 1-300"}, 400)
        if begin is not None and end is None and ascending is None:
            return json_answer({"message": "Either end or ascending must be specified"}, 400)
        low = high = None
        if begin is not None and end is not None:
            ascending = "yes" if end >= begin else "no"
            low, high = min(begin, end), max(begin, end)
        elif begin is not None:  # from `begin` on, forwards or backwards
            low, high = (begin, None) if ascending == "yes" else (None, begin)
        # in the order they were recorded (several share one timestamp when sent together)
        events = [
            _event(m, domain)
            for m in sorted(self.state.messages("mailgun"), key=lambda m: m.seq)
            if m.message_id.endswith(f"@{domain}>")
        ]
        wanted = {e.strip() for e in query.get("event", "accepted").split(" OR ")}
        found = [
            e
            for e in events
            if e["event"] in wanted
            and (low is None or low <= e["timestamp"])
            and (high is None or e["timestamp"] <= high)
            and _matches(e, query)
        ]
        if ascending != "yes":
            found.reverse()  # newest first; recorded order is oldest first
        base = f"{request.url.scheme}://{request.url.netloc}/v3/{domain}/events"

        def page_url(at: int) -> str:
            state = orjson.dumps({"q": query, "o": max(0, at)})
            return f"{base}/{base64.urlsafe_b64encode(state).decode()}"

        return json_answer(
            {
                "items": found[offset : offset + limit],
                "paging": {
                    "first": page_url(0),
                    "last": page_url(max(0, len(found) - limit)),
                    "next": page_url(offset + limit),
                    "previous": page_url(offset - limit),
                },
            }
        )

    def mailgun_auth(self, request: Request, body: bytes) -> Response | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, key = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user = key = ""
            if user == "api" and key in self.config.mailgun_keys:
                return None
        return Response(b"Forbidden", self.config.mailgun_auth_status, media_type="text/plain")

    async def mailgun_send(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        domain = request.path_params["domain"]
        if domain not in cfg.mailgun_domains:
            return json_answer({"message": f"Domain not found: {domain}"}, 404)
        if len(body) > cfg.mailgun_message_bytes:
            return json_answer({"message": "Request entity too large"}, 413)
        form = await request.form(
            max_fields=cfg.mailgun_recipients_max * 4 + 100,
            max_part_size=cfg.mailgun_message_bytes,
        )
        try:
            return self._mailgun_accept(domain, form.multi_items())
        finally:
            await form.close()

    def _mailgun_accept(self, domain: str, items: list[tuple[str, Any]]) -> Response:
        cfg = self.config

        def bad(message: str) -> Response:
            return json_answer({"message": message}, 400)

        values: dict[str, list[str]] = {}
        for name, value in items:
            values.setdefault(name, []).append(value if isinstance(value, str) else "")

        def one(name: str) -> str | None:
            found = values.get(name)
            return found[0] if found else None

        from_addr = one("from")
        if not from_addr:
            return bad("from parameter is missing")
        if mailbox(from_addr) is None:
            return bad("from parameter is not a valid address. please check documentation")
        to_values = values.get("to", [])
        if not to_values and not values.get("cc") and not values.get("bcc"):
            return bad("to parameter is missing")
        recipients: list[str] = []
        for value in to_values:
            for address in mailboxes(value):
                if address is None or self.state.is_invalid(address):
                    return bad("to parameter is not a valid address. please check documentation")
                recipients.append(address)
        if len(recipients) > cfg.mailgun_recipients_max:
            return bad(f"Too many recipients: {cfg.mailgun_recipients_max} max")
        subject = one("subject")
        if not subject:
            return bad("subject parameter is missing")
        html, text = one("html"), one("text")
        if not (html or text or one("template")):
            return bad("Need at least one of 'text', 'html' or 'template' parameters specified")
        tags = values.get("o:tag", [])
        if len(tags) > cfg.mailgun_tags_max or any(
            not t.isascii() or len(t) > cfg.mailgun_tag_chars for t in tags
        ):
            return bad(f"o:tag: at most {cfg.mailgun_tags_max} ASCII tags of 128 chars")
        variables: dict[str, Any] = {}
        shared_warnings: list[str] = []
        raw_variables = one("recipient-variables")
        if raw_variables is not None:
            try:
                variables = orjson.loads(raw_variables)
            except orjson.JSONDecodeError:
                return bad("recipient-variables parameter is not a valid JSON")
            if not isinstance(variables, dict):
                return bad("recipient-variables parameter is not a valid JSON")
            missing = [r for r in recipients if r not in variables]
            if missing:
                shared_warnings.append(f"recipient-variables lack {len(missing)} recipients")
        elif len(recipients) > 1:
            shared_warnings.append("several recipients without recipient-variables see each other")
        headers = {k[2:]: v[0] for k, v in values.items() if k.startswith("h:")}
        user_vars = {k[2:]: v[0] for k, v in values.items() if k.startswith("v:")}
        message_id = f"<{datetime.now(UTC):%Y%m%d%H%M%S}.{uuid.uuid4().hex[:16]}@{domain}>"
        accepted = []
        for address in recipients:
            personal = variables.get(address) if variables else None

            def sub(value: str | None, personal: Any = personal) -> str | None:
                if value is None or not isinstance(personal, dict) or "%recipient." not in value:
                    return value
                for k, v in personal.items():
                    value = value.replace(f"%recipient.{k}%", str(v))
                return value

            p_headers = {k: sub(v) or "" for k, v in headers.items()}
            p_html, p_text = sub(html), sub(text)
            warnings = shared_warnings + self._lint(from_addr, p_html, p_text, p_headers)
            accepted.append(
                AcceptedMessage(
                    seq=0,
                    provider="mailgun",
                    to=address,
                    from_addr=from_addr,
                    subject=sub(subject) or "",
                    html=p_html,
                    text=p_text,
                    headers=p_headers,
                    message_id=message_id,
                    metadata={k: sub(v) or "" for k, v in user_vars.items()},
                    tags=list(tags),
                    warnings=self._suppression_warning(address, warnings),
                )
            )
        self.state.record(accepted)
        return json_answer({"id": message_id, "message": "Queued. Thank you."})

    # Resend.


def _moment(value: str | None) -> float | None:
    """A time range bound: epoch seconds, or an RFC 2822 date."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return parsedate_to_datetime(value).timestamp()


def _event(m: AcceptedMessage, domain: str) -> dict[str, Any]:
    """The `accepted` event of one recipient's copy, in the events API's structure."""
    return {
        "event": "accepted",
        "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{m.message_id}/{m.to}").hex[:22],
        "timestamp": m.received_at,
        "log-level": "info",
        "method": "HTTP",
        "recipient": m.to,
        "recipient-domain": m.to.rpartition("@")[2],
        "tags": list(m.tags),
        "user-variables": dict(m.metadata),
        "envelope": {"sender": m.from_addr, "targets": m.to, "transport": "smtp"},
        "flags": {"is-authenticated": True, "is-test-mode": False},
        "message": {
            "headers": {
                "message-id": m.message_id.strip("<>"),
                "from": m.from_addr,
                "to": m.to,
                "subject": m.subject,
            },
            "size": len((m.html or "") + (m.text or "")),
        },
    }


def _matches(event: dict[str, Any], query: dict[str, str]) -> bool:
    headers = event["message"]["headers"]
    checks = {
        "recipient": event["recipient"],
        "from": headers["from"],
        "to": headers["to"],
        "subject": headers["subject"],
        "message-id": headers["message-id"],
    }
    for name, actual in checks.items():
        if name in query and query[name].strip("<>").lower() != str(actual).lower():
            return False
    return "tags" not in query or query["tags"] in event["tags"]
