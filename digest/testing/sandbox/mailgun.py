"""Mailgun: /v3/{domain}/messages as multipart form data, basic auth with the API key."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from digest.testing.sandbox.answers import json_answer
from digest.testing.sandbox.common import Authenticator, Contract, Handler, mailbox, mailboxes
from digest.testing.sandbox.state import AcceptedMessage


class MailgunContract(Contract):
    name = "mailgun"

    def routes(self) -> list[tuple[str, Authenticator, Handler]]:
        return [
            ("/v3/{domain}/messages", self.mailgun_auth, self.mailgun_send),
        ]

    def fault_answer(self, status: int, message: str, headers: dict[str, str]) -> Response:
        return json_answer({"message": message}, status, headers)

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
