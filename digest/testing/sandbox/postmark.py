"""Postmark: /email/batch and /email, a server token, per-message ErrorCode answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from digest.testing.sandbox.answers import json_answer, new_id
from digest.testing.sandbox.common import (
    Authenticator,
    Contract,
    Handler,
    mailbox,
    mailboxes,
    utf8_len_over,
)
from digest.testing.sandbox.state import AcceptedMessage


class PostmarkContract(Contract):
    name = "postmark"

    def routes(self) -> list[tuple[str, Authenticator, Handler]]:
        return [
            ("/email/batch", self.postmark_auth, self.postmark_batch),
            ("/email", self.postmark_auth, self.postmark_single),
        ]

    def fault_answer(self, status: int, message: str, headers: dict[str, str]) -> Response:
        return json_answer({"ErrorCode": status, "Message": message}, status, headers)

    def postmark_auth(self, request: Request, body: bytes) -> Response | None:
        token = request.headers.get("x-postmark-server-token")
        if token is None:
            message = (
                "No Account or Server API tokens were supplied in the HTTP headers. Please add "
                "a header for either X-Postmark-Server-Token or X-Postmark-Account-Token."
            )
            return json_answer({"ErrorCode": 10, "Message": message}, 401)
        valid = {t.lower() for t in self.config.postmark_tokens}
        valid.add(self.config.postmark_test_token.lower())
        if token.lower() not in valid:
            message = "Request does not contain a valid Server token."
            return json_answer({"ErrorCode": 10, "Message": message}, 401)
        return None

    async def postmark_batch(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        if len(body) > cfg.postmark_batch_bytes:
            return json_answer({"ErrorCode": 413, "Message": "Payload too large"}, 413)
        items = self._parse_json(
            body,
            lambda m: json_answer(
                {"ErrorCode": 402, "Message": f"Received invalid JSON. {m}"}, 422
            ),
        )
        if not isinstance(items, list):
            return json_answer(
                {"ErrorCode": 402, "Message": "Expected a JSON array of messages."}, 422
            )
        if len(items) > cfg.postmark_batch_max:
            message = f"The batch contains more than {cfg.postmark_batch_max} messages."
            return json_answer({"ErrorCode": 300, "Message": message}, 422)
        test_only = self._postmark_test(request)
        answers: list[dict[str, Any]] = []
        accepted: list[AcceptedMessage] = []
        submitted_at = datetime.now(UTC).isoformat()
        for item in items:
            answer, record = self._postmark_message(item, submitted_at)
            answers.append(answer)
            if record is not None and not test_only:
                accepted.extend(record)
        self.state.record(accepted)
        return json_answer(answers)

    async def postmark_single(self, request: Request, body: bytes) -> Response:
        item = self._parse_json(
            body,
            lambda m: json_answer(
                {"ErrorCode": 402, "Message": f"Received invalid JSON. {m}"}, 422
            ),
        )
        answer, record = self._postmark_message(item, datetime.now(UTC).isoformat())
        if answer["ErrorCode"] != 0:
            return json_answer(answer, 422)
        if record is not None and not self._postmark_test(request):
            self.state.record(record)
        return json_answer(answer)

    def _postmark_test(self, request: Request) -> bool:
        token = request.headers.get("x-postmark-server-token", "")
        return token.lower() == self.config.postmark_test_token.lower()

    def _postmark_message(
        self, item: Any, submitted_at: str
    ) -> tuple[dict[str, Any], list[AcceptedMessage] | None]:
        cfg = self.config

        def invalid(message: str, code: int = 300) -> tuple[dict[str, Any], None]:
            return {"ErrorCode": code, "Message": message}, None

        if not isinstance(item, dict):
            return invalid("Invalid email request: expected an object.")
        from_addr = item.get("From")
        to = item.get("To")
        subject = item.get("Subject")
        html = item.get("HtmlBody")
        text = item.get("TextBody")
        if not from_addr or not isinstance(from_addr, str):
            return invalid("Invalid 'From' address: ''.")
        if mailbox(from_addr) is None:
            return invalid(f"Invalid 'From' address: '{from_addr}'.")
        if not to or not isinstance(to, str):
            return invalid("Zero recipients specified")
        if cfg.postmark_subject_required and not subject:
            return invalid("Invalid email request: Subject is required.")
        if not html and not text:
            return invalid("Provide either email TextBody or HtmlBody or both.")
        for name, value in (("HtmlBody", html), ("TextBody", text)):
            if value is not None and not isinstance(value, str):
                return invalid(f"{name} must be a string.")
            if value and utf8_len_over(value, cfg.postmark_body_bytes):
                return invalid(f"{name} is larger than {cfg.postmark_body_bytes} bytes.")
        if utf8_len_over((html or "") + (text or ""), cfg.postmark_message_bytes):
            return invalid(f"The message is larger than {cfg.postmark_message_bytes} bytes.")
        recipients = mailboxes(to)
        for extra in ("Cc", "Bcc"):
            if item.get(extra):
                recipients += mailboxes(str(item[extra]))
        if len(recipients) > cfg.postmark_recipients_max:
            return invalid(f"Too many recipients ({cfg.postmark_recipients_max} max).")
        if any(r is None for r in recipients):
            return invalid(f"Error parsing 'To': Illegal email address '{to}'.")
        addresses = [r for r in recipients if r is not None]
        if any(self.state.is_invalid(a) for a in addresses):
            return invalid(f"Error parsing 'To': Illegal email address '{to}'.")
        if any(self.state.is_inactive(a) for a in addresses):
            return invalid(
                "You tried to send to recipient(s) that have been marked as inactive. Found "
                f"inactive addresses: {to}. Inactive recipients are ones that have generated "
                "a hard bounce, a spam complaint, or a manual suppression.",
                406,
            )
        raw_headers = item.get("Headers") or []
        headers: dict[str, str] = {}
        if not isinstance(raw_headers, list):
            return invalid("Headers must be a list of {Name, Value} objects.")
        for h in raw_headers:
            if not isinstance(h, dict) or not isinstance(h.get("Name"), str) or "Value" not in h:
                return invalid("Headers must be a list of {Name, Value} objects.")
            headers[h["Name"]] = str(h["Value"])
        metadata = item.get("Metadata") or {}
        if not isinstance(metadata, dict):
            return invalid("Metadata must be a flat object.")
        flat: dict[str, str] = {}
        for k, v in metadata.items():
            if isinstance(v, dict | list):
                return invalid("Metadata must be a flat object.")
            flat[str(k)] = str(v)
        message_id = new_id()
        warnings = self._lint(from_addr, html, text, headers)
        tag = item.get("Tag")
        records = [
            AcceptedMessage(
                seq=0,
                provider="postmark",
                to=address,
                from_addr=from_addr,
                subject=subject or "",
                html=html,
                text=text,
                headers=headers,
                message_id=message_id,
                metadata=flat,
                tags=[tag] if tag else [],
                warnings=warnings,
            )
            for address in addresses
        ]
        answer = {
            "To": to,
            "SubmittedAt": submitted_at,
            "MessageID": message_id,
            "ErrorCode": 0,
            "Message": "OK",
        }
        return answer, records

    # SendGrid.
