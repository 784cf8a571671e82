"""Resend: /emails and /emails/batch, a bearer key, answers replayed per Idempotency-Key."""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from digest.testing.sandbox.answers import json_answer, new_id, resend_error
from digest.testing.sandbox.common import TAG, Authenticator, Contract, Handler, mailbox
from digest.testing.sandbox.state import AcceptedMessage


class ResendContract(Contract):
    name = "resend"

    def routes(self) -> list[tuple[str, Authenticator, Handler]]:
        return [
            ("/emails/batch", self.resend_auth, self.resend_batch),
            ("/emails", self.resend_auth, self.resend_single),
        ]

    def fault_answer(self, status: int, message: str, headers: dict[str, str]) -> Response:
        name = "rate_limit_exceeded" if status == 429 else "internal_server_error"
        return json_answer(
            {"statusCode": status, "message": message, "name": name}, status, headers
        )

    def rate_headers(self, remaining: int, reset_in: float = 1.0) -> dict[str, str]:
        return {
            "ratelimit-limit": str(self.config.rate_limit),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(math.ceil(reset_in)),
        }

    def resend_auth(self, request: Request, body: bytes) -> Response | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return resend_error(
                401, "missing_api_key", "Missing API key in the authorization header."
            )
        if header[7:] not in self.config.resend_keys:
            status = self.config.resend_invalid_key_status
            name = "invalid_api_key" if status == 403 else "validation_error"
            return resend_error(status, name, "API key is invalid")
        return None

    async def resend_single(self, request: Request, body: bytes) -> Response:
        email = self._parse_json(
            body, lambda m: resend_error(422, "validation_error", f"Invalid JSON: {m}")
        )
        problem = self._resend_problem(email, batch=False)
        if problem is not None:
            return resend_error(422, problem[0], problem[1])
        message_id = new_id()
        self.state.record(self._resend_records(email, message_id, request))
        return json_answer(
            {"id": message_id}, headers=self.rate_headers(self.config.rate_limit - 1)
        )

    async def resend_batch(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        rate = self.rate_headers(cfg.rate_limit - 1)
        emails = self._parse_json(
            body, lambda m: resend_error(422, "validation_error", f"Invalid JSON: {m}")
        )
        if not isinstance(emails, list) or not 1 <= len(emails) <= cfg.resend_batch_max:
            return resend_error(
                422, "validation_error", f"The batch must hold 1 to {cfg.resend_batch_max} emails."
            )
        mode = request.headers.get("x-batch-validation", "strict")
        if mode not in ("strict", "permissive"):
            return resend_error(
                422, "validation_error", "x-batch-validation must be strict or permissive."
            )
        problems = [self._resend_problem(e, batch=True) for e in emails]
        if mode == "strict":
            for index, problem in enumerate(problems):
                if problem is not None:
                    return resend_error(422, problem[0], f"emails[{index}]: {problem[1]}")
        data: list[dict[str, str]] = []
        errors: list[dict[str, Any]] = []
        accepted: list[AcceptedMessage] = []
        for index, (email, problem) in enumerate(zip(emails, problems, strict=True)):
            if problem is not None:
                errors.append({"index": index, "message": problem[1]})
                continue
            message_id = new_id()
            data.append({"id": message_id})
            accepted.extend(self._resend_records(email, message_id, request))
        self.state.record(accepted)
        answer: dict[str, Any] = {"data": data}
        if mode == "permissive":
            answer["errors"] = errors
        return json_answer(answer, headers=rate)

    def _resend_problem(self, email: Any, *, batch: bool) -> tuple[str, str] | None:
        cfg = self.config
        if not isinstance(email, dict):
            return "validation_error", "Each email must be an object."
        if not email.get("from"):
            return "missing_required_field", "Missing `from` field."
        if mailbox(email["from"]) is None:
            return (
                "invalid_from_address",
                "Invalid `from` field. The email address needs to follow the "
                "`email@example.com` or `Name <email@example.com>` format.",
            )
        to = email.get("to")
        if not to:
            return "missing_required_field", "Missing `to` field."
        to_list = [to] if isinstance(to, str) else to
        if not isinstance(to_list, list) or len(to_list) > cfg.resend_to_max:
            return "validation_error", f"`to` takes at most {cfg.resend_to_max} addresses."
        for value in to_list:
            address = mailbox(value)
            if address is None or self.state.is_invalid(address):
                return "validation_error", f"Invalid `to` field: {value!r}."
        if not email.get("subject"):
            return "missing_required_field", "Missing `subject` field."
        if not (email.get("html") or email.get("text") or email.get("template")):
            return "missing_required_field", "Missing `html`, `text` or `template` field."
        size = sum(len(str(email.get(k) or "")) for k in ("html", "text", "subject"))
        if size * 4 > cfg.resend_message_bytes and len(orjson.dumps(email)) > (
            cfg.resend_message_bytes
        ):
            return "validation_error", f"The email is larger than {cfg.resend_message_bytes} bytes."
        if batch and email.get("attachments"):
            return "validation_error", "Attachments are not supported in batch sending."
        tags = email.get("tags") or []
        if not isinstance(tags, list) or len(tags) > cfg.resend_tags_max:
            return "validation_error", f"At most {cfg.resend_tags_max} tags."
        for tag in tags:
            if not (
                isinstance(tag, dict)
                and TAG.fullmatch(str(tag.get("name", "")))
                and TAG.fullmatch(str(tag.get("value", "")))
            ):
                return (
                    "validation_error",
                    "Tags should only contain ASCII letters, numbers, underscores, or dashes.",
                )
        headers = email.get("headers") or {}
        if not isinstance(headers, dict):
            return "validation_error", "`headers` must be an object."
        return None

    def _resend_records(
        self, email: dict[str, Any], message_id: str, request: Request
    ) -> list[AcceptedMessage]:
        to = email["to"]
        to_list = [to] if isinstance(to, str) else to
        headers = {str(k): str(v) for k, v in (email.get("headers") or {}).items()}
        html, text = email.get("html"), email.get("text")
        tags = {t["name"]: t["value"] for t in email.get("tags") or []}
        warnings = self._lint(email["from"], html, text, headers)
        records = []
        for value in to_list:
            address = mailbox(value) or value
            records.append(
                AcceptedMessage(
                    seq=0,
                    provider="resend",
                    to=address,
                    from_addr=email["from"],
                    subject=email["subject"],
                    html=html,
                    text=text,
                    headers=headers,
                    message_id=message_id,
                    idempotency_key=request.headers.get("idempotency-key"),
                    metadata=tags,
                    tags=list(tags),
                    warnings=self._suppression_warning(address, list(warnings)),
                )
            )
        return records

    # SES v2.
