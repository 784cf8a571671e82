"""SendGrid: /v3/mail/send with personalizations, a bearer key, 202 with no body."""

from __future__ import annotations

import base64
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from digest.testing.sandbox.answers import json_answer
from digest.testing.sandbox.common import Authenticator, Contract, Handler, mailbox
from digest.testing.sandbox.state import AcceptedMessage


class SendGridContract(Contract):
    name = "sendgrid"

    def routes(self) -> list[tuple[str, Authenticator, Handler]]:
        return [
            ("/v3/mail/send", self.sendgrid_auth, self.sendgrid_send),
        ]

    def fault_answer(self, status: int, message: str, headers: dict[str, str]) -> Response:
        body = {"errors": [{"field": None, "message": message}]}
        return json_answer(body, status, headers)

    def rate_headers(self, remaining: int, reset_in: float = 1.0) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.config.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(time.time() + reset_in)),
        }

    def sendgrid_auth(self, request: Request, body: bytes) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header:
            message = "authorization required"
        elif header.startswith("Bearer ") and header[7:] in self.config.sendgrid_keys:
            return None
        else:
            message = "The provided authorization grant is invalid, expired, or revoked"
        body_out = {"errors": [{"message": message, "field": None, "help": None}]}
        return json_answer(body_out, 401)

    async def sendgrid_send(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        rate = self.rate_headers(cfg.rate_limit - 1)
        if len(body) > cfg.sendgrid_body_bytes:
            return json_answer(
                {"errors": [{"message": "content too large", "field": None}]}, 413, rate
            )
        mail = self._parse_json(
            body,
            lambda m: json_answer(
                {"errors": [{"message": "Bad Request", "field": None, "help": m}]}, 400, rate
            ),
        )
        errors: list[dict[str, Any]] = []

        def error(field_name: str | None, message: str) -> None:
            errors.append({"message": message, "field": field_name, "help": None})

        if not isinstance(mail, dict):
            error(None, "The request body must be a JSON object.")
            return json_answer({"errors": errors}, 400, rate)
        from_field: dict[str, Any] = mail.get("from") or {}
        if not isinstance(from_field, dict) or not from_field.get("email"):
            error("from.email", "The from object must be provided for every email send.")
        elif mailbox(from_field["email"]) is None:
            error("from.email", "The from email does not contain a valid address.")
        content = mail.get("content")
        html = text = None
        if mail.get("template_id") is None:
            if not isinstance(content, list) or not content:
                error("content", "Unless a valid template_id is provided, content is required.")
            else:
                seen_types: set[str] = set()
                for i, part in enumerate(content):
                    if not isinstance(part, dict) or not part.get("type") or not part.get("value"):
                        error(f"content.{i}", "Content items need a non-empty type and value.")
                        continue
                    if part["type"] in seen_types:
                        error(f"content.{i}.type", "Each MIME type may only be used once.")
                    seen_types.add(part["type"])
                    if part["type"] == "text/html":
                        html = part["value"]
                    elif part["type"] == "text/plain":
                        text = part["value"]
        if mail.get("reply_to") and mail.get("reply_to_list"):
            error("reply_to", "reply_to and reply_to_list cannot both be set.")
        categories = mail.get("categories") or []
        if len(set(categories)) > cfg.sendgrid_categories_max or any(
            not isinstance(c, str) or len(c) > cfg.sendgrid_category_chars for c in categories
        ):
            error("categories", "Too many categories or a category is too long.")
        top_headers = mail.get("headers") or {}
        self._sendgrid_headers(top_headers, "headers", error)
        personalizations = mail.get("personalizations")
        if not isinstance(personalizations, list) or not personalizations:
            error("personalizations", "The personalizations field is required.")
            personalizations = []
        elif len(personalizations) > cfg.sendgrid_personalizations_max:
            error("personalizations", "Too many personalizations.")
        seen: set[str] = set()
        total = 0
        for p_index, p in enumerate(personalizations):
            where = f"personalizations.{p_index}"
            if not isinstance(p, dict) or not isinstance(p.get("to"), list) or not p["to"]:
                error(f"{where}.to", "The to array is required for all personalization objects.")
                continue
            if not (p.get("subject") or mail.get("subject") or mail.get("template_id")):
                error("subject", "The subject is required.")
            for kind in ("to", "cc", "bcc"):
                for r_index, r in enumerate(p.get(kind) or []):
                    total += 1
                    address = mailbox(r.get("email")) if isinstance(r, dict) else None
                    if address is None or self.state.is_invalid(address):
                        error(
                            f"{where}.{kind}.{r_index}.email", "Does not contain a valid address."
                        )
                        continue
                    if address.lower() in seen:
                        error(
                            f"{where}.{kind}.{r_index}.email",
                            "Each email address in the personalization block should be unique.",
                        )
                    seen.add(address.lower())
            self._sendgrid_headers(p.get("headers") or {}, f"{where}.headers", error)
            custom = {**(mail.get("custom_args") or {}), **(p.get("custom_args") or {})}
            if len(orjson.dumps(custom)) > cfg.sendgrid_custom_args_bytes:
                error(f"{where}.custom_args", "custom_args exceed 10,000 bytes.")
            if len(orjson.dumps(p.get("substitutions") or {})) > cfg.sendgrid_custom_args_bytes:
                error(f"{where}.substitutions", "substitutions exceed 10,000 bytes.")
        if total > cfg.sendgrid_recipients_max:
            error("personalizations", "The total number of recipients must be 1000 or fewer.")
        if errors:
            return json_answer({"errors": errors}, 400, rate)

        message_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        from_addr = from_field["email"]
        if from_field.get("name"):
            from_addr = f"{from_field['name']} <{from_addr}>"
        accepted: list[AcceptedMessage] = []
        for p in personalizations:
            headers = {**top_headers, **(p.get("headers") or {})}
            subject = p.get("subject") or mail.get("subject") or ""
            p_html, p_text = html, text
            substitutions = p.get("substitutions") or {}
            for placeholder, value in substitutions.items():
                subject = subject.replace(placeholder, str(value))
                p_html = p_html.replace(placeholder, str(value)) if p_html else p_html
                p_text = p_text.replace(placeholder, str(value)) if p_text else p_text
            custom = {**(mail.get("custom_args") or {}), **(p.get("custom_args") or {})}
            for r in p["to"] + (p.get("cc") or []) + (p.get("bcc") or []):
                address = mailbox(r["email"]) or r["email"]
                warnings = self._lint(from_addr, p_html, p_text, headers)
                accepted.append(
                    AcceptedMessage(
                        seq=0,
                        provider="sendgrid",
                        to=address,
                        from_addr=from_addr,
                        subject=subject,
                        html=p_html,
                        text=p_text,
                        headers=dict(headers),
                        message_id=message_id,
                        metadata={str(k): str(v) for k, v in custom.items()},
                        tags=list(categories),
                        warnings=self._suppression_warning(address, warnings),
                    )
                )
        self.state.record(accepted)
        return Response(b"", 202, headers={**rate, "X-Message-Id": message_id})

    def _sendgrid_headers(
        self, headers: Any, where: str, error: Callable[[str | None, str], None]
    ) -> None:
        if not isinstance(headers, dict):
            error(where, "headers must be an object.")
            return
        for name, value in headers.items():
            if name.lower() in self.config.sendgrid_reserved_headers:
                error(f"{where}.{name}", f"The header {name} is reserved and cannot be set.")
            elif not isinstance(value, str):
                error(f"{where}.{name}", "Header values must be strings.")

    # Mailgun.
