"""Amazon SES v2: outbound-emails and outbound-bulk-emails, SigV4 recomputed with botocore."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
import uuid
from datetime import UTC, datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.requests import Request
from starlette.responses import Response

from digest.testing.sandbox.answers import json_answer, new_id, ses_error
from digest.testing.sandbox.common import (
    SES_HEADER_NAME,
    TAG,
    Authenticator,
    Contract,
    Handler,
    json_object,
    mailbox,
    render_template,
)
from digest.testing.sandbox.state import AcceptedMessage


class SesContract(Contract):
    name = "ses"

    def routes(self) -> list[tuple[str, Authenticator, Handler]]:
        return [
            ("/v2/email/outbound-emails", self.ses_auth, self.ses_send),
            ("/v2/email/outbound-bulk-emails", self.ses_auth, self.ses_bulk),
        ]

    def fault_answer(self, status: int, message: str, headers: dict[str, str]) -> Response:
        kind = "TooManyRequestsException" if status == 429 else "InternalFailure"
        if status == 503:
            kind = "ServiceUnavailable"
        headers = {**headers, "x-amzn-ErrorType": kind, "x-amzn-RequestId": new_id()}
        return json_answer({"message": message}, status, headers)

    def ses_auth(self, request: Request, body: bytes) -> Response | None:
        """Recompute the SigV4 signature with botocore and compare (providers.md §8)."""
        header = request.headers.get("authorization", "")
        if not header:
            return ses_error(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        match = re.fullmatch(
            r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
            r"SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})",
            header.strip(),
        )
        if match is None:
            return ses_error(400, "IncompleteSignatureException", "Authorization header malformed")
        key_id, day, region, service, signed_headers, signature = match.groups()
        secret = self.config.ses_credentials.get(key_id)
        if secret is None:
            return ses_error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        amz_date = request.headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return ses_error(
                400, "IncompleteSignatureException", "X-Amz-Date header is missing or malformed"
            )
        if abs(time.time() - signed_at.timestamp()) > self.config.ses_max_clock_skew:
            return ses_error(
                403, "InvalidSignatureException", f"Signature expired: {amz_date} is now stale"
            )
        if service != "ses" or day != amz_date[:8]:
            return ses_error(
                403, "InvalidSignatureException", "Credential scope does not match the request"
            )
        names = signed_headers.split(";")
        if "host" not in names or "x-amz-date" not in names:
            return ses_error(403, "InvalidSignatureException", "host and x-amz-date must be signed")
        headers = {name: request.headers.get(name, "") for name in names}
        url = f"{request.url.scheme}://{headers['host']}{request.url.path}"
        if request.url.query:
            url += f"?{request.url.query}"
        recreated = AWSRequest(method=request.method, url=url, data=body, headers=headers)
        recreated.context["timestamp"] = amz_date
        token = request.headers.get("x-amz-security-token")
        signer = SigV4Auth(Credentials(key_id, secret, token), "ses", region)
        canonical = signer.canonical_request(recreated)
        expected = signer.signature(signer.string_to_sign(recreated, canonical), recreated)
        if not hmac.compare_digest(expected, signature):
            return ses_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method.",
            )
        return None

    async def ses_send(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        payload = self._parse_json(
            body, lambda m: ses_error(400, "BadRequestException", f"Invalid JSON: {m}")
        )
        if not isinstance(payload, dict):
            return ses_error(400, "BadRequestException", "Expected a JSON object")
        content = payload.get("Content")
        if (
            not isinstance(content, dict)
            or sum(k in content for k in ("Simple", "Raw", "Template")) != 1
        ):
            return ses_error(
                400, "BadRequestException", "Content must hold exactly one of Simple, Raw, Template"
            )
        problem = self._ses_tags(payload.get("EmailTags") or [])
        if problem:
            return ses_error(400, "BadRequestException", problem)
        from_addr: str
        if "Raw" in content:
            parsed = self._ses_raw(content["Raw"])
            if isinstance(parsed, Response):
                return parsed
            from_addr, subject, html, text, headers, mime_recipients = parsed
        elif "Simple" in content:
            simple = content["Simple"]
            subject = str((simple.get("Subject") or {}).get("Data") or "")
            body_part = simple.get("Body") or {}
            html = (body_part.get("Html") or {}).get("Data")
            text = (body_part.get("Text") or {}).get("Data")
            if not subject or not (html or text):
                return ses_error(
                    400, "BadRequestException", "Simple content needs Subject.Data and a Body"
                )
            raw_headers = simple.get("Headers") or []
            problem = self._ses_headers(raw_headers)
            if problem:
                return ses_error(400, "BadRequestException", problem)
            headers = {h["Name"]: h["Value"] for h in raw_headers}
            from_addr = str(payload.get("FromEmailAddress") or "")
            mime_recipients = []
        else:
            return ses_error(
                400, "BadRequestException", "Template content is not supported by SendEmail here"
            )
        from_addr = str(payload.get("FromEmailAddress") or from_addr)
        if not from_addr or mailbox(from_addr) is None:
            return ses_error(400, "BadRequestException", "A valid FromEmailAddress is required")
        destination = payload.get("Destination") or {}
        recipients: list[str] = []
        for kind in ("ToAddresses", "CcAddresses", "BccAddresses"):
            recipients.extend(destination.get(kind) or [])
        if not recipients:
            recipients = mime_recipients
        if not 1 <= len(recipients) <= cfg.ses_recipients_max:
            return ses_error(
                400, "BadRequestException", f"Recipients must number 1 to {cfg.ses_recipients_max}"
            )
        addresses = []
        for value in recipients:
            address = mailbox(value)
            if address is None:
                return ses_error(400, "BadRequestException", f"Illegal address: {value}")
            if self.state.is_invalid(address):
                return ses_error(
                    400, "MessageRejected", f"Email address is not verified: {address}"
                )
            addresses.append(address)
        message_id = f"0100{uuid.uuid4().hex}-000000"
        tags = {t["Name"]: t["Value"] for t in payload.get("EmailTags") or []}
        warnings = self._lint(from_addr, html, text, headers)
        self.state.record(
            [
                AcceptedMessage(
                    seq=0,
                    provider="ses",
                    to=address,
                    from_addr=from_addr,
                    subject=subject or "",
                    html=html,
                    text=text,
                    headers=headers,
                    message_id=message_id,
                    metadata=tags,
                    tags=list(tags),
                    warnings=self._suppression_warning(address, list(warnings)),
                )
                for address in addresses
            ]
        )
        return json_answer({"MessageId": message_id}, headers={"x-amzn-RequestId": new_id()})

    def _ses_raw(
        self, raw: Any
    ) -> Response | tuple[str, str, str | None, str | None, dict[str, str], list[str]]:
        try:
            data = base64.b64decode(raw["Data"], validate=True)
        except (KeyError, TypeError, binascii.Error):
            return ses_error(400, "BadRequestException", "Raw.Data must be base64")
        if len(data) > self.config.ses_message_bytes:
            return ses_error(400, "MessageRejected", "Message too large")
        message = message_from_bytes(data, policy=email_policy.default)
        if not isinstance(message, EmailMessage):
            return ses_error(400, "BadRequestException", "Raw.Data is not a MIME message")
        headers = {k: str(v) for k, v in message.items()}
        if "From" not in message:
            return ses_error(400, "MessageRejected", "Missing From header in raw message")
        html_part = message.get_body(("html",))
        text_part = message.get_body(("plain",))
        html = html_part.get_content() if isinstance(html_part, EmailMessage) else None
        text = text_part.get_content() if isinstance(text_part, EmailMessage) else None
        recipients = [
            addr for _, addr in getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
        ]
        return str(message["From"]), str(message["Subject"] or ""), html, text, headers, recipients

    def _ses_headers(self, raw_headers: Any) -> str | None:
        cfg = self.config
        if not isinstance(raw_headers, list) or len(raw_headers) > cfg.ses_headers_max:
            return f"At most {cfg.ses_headers_max} headers"
        for h in raw_headers:
            name, value = (h.get("Name"), h.get("Value")) if isinstance(h, dict) else (None, None)
            if not isinstance(name, str) or not SES_HEADER_NAME.fullmatch(name):
                return f"Invalid header name {name!r}"
            if len(name) > cfg.ses_header_name_chars:
                return f"Header name {name!r} is too long"
            if not isinstance(value, str) or len(value) > cfg.ses_header_value_chars:
                return f"Header {name} value is missing or too long"
        return None

    @staticmethod
    def _ses_tags(tags: Any) -> str | None:
        if not isinstance(tags, list):
            return "EmailTags must be a list"
        for tag in tags:
            if not (
                isinstance(tag, dict)
                and TAG.fullmatch(str(tag.get("Name", "")))
                and TAG.fullmatch(str(tag.get("Value", "")))
            ):
                return f"Invalid EmailTag {tag!r}"
        return None

    async def ses_bulk(self, request: Request, body: bytes) -> Response:
        cfg = self.config
        payload = self._parse_json(
            body, lambda m: ses_error(400, "BadRequestException", f"Invalid JSON: {m}")
        )
        default = (payload.get("DefaultContent") or {}) if isinstance(payload, dict) else {}
        template = default.get("Template") if isinstance(default, dict) else None
        if not isinstance(template, dict):
            return ses_error(400, "BadRequestException", "DefaultContent.Template is required")
        entries = payload.get("BulkEmailEntries")
        if not isinstance(entries, list) or not 1 <= len(entries) <= cfg.ses_bulk_entries_max:
            return ses_error(
                400,
                "BadRequestException",
                f"BulkEmailEntries must hold 1 to {cfg.ses_bulk_entries_max}",
            )
        from_addr = payload.get("FromEmailAddress") or ""
        if mailbox(from_addr) is None:
            return ses_error(400, "BadRequestException", "A valid FromEmailAddress is required")
        inline = template.get("TemplateContent") or {}
        default_data = json_object(template.get("TemplateData"))
        results: list[dict[str, Any]] = []
        accepted: list[AcceptedMessage] = []
        for entry in entries:
            destination = (entry or {}).get("Destination") or {}
            addresses = [mailbox(a) for a in destination.get("ToAddresses") or []]
            if not addresses or any(a is None for a in addresses):
                results.append({"Status": "INVALID_PARAMETER", "Error": "Invalid Destination"})
                continue
            status = self.state.ses_bulk_status(addresses[0] or "")
            if status != "SUCCESS":
                results.append({"Status": status, "Error": f"sandbox: {status}"})
                continue
            replacement = (entry.get("ReplacementEmailContent") or {}).get(
                "ReplacementTemplate"
            ) or {}
            data = {**default_data, **json_object(replacement.get("ReplacementTemplateData"))}
            subject = (
                render_template(inline.get("Subject"), data)
                or f"(template {template.get('TemplateName')})"
            )
            html = render_template(inline.get("Html"), data)
            text = render_template(inline.get("Text"), data)
            headers = {h["Name"]: h["Value"] for h in template.get("Headers") or []}
            headers.update({h["Name"]: h["Value"] for h in entry.get("ReplacementHeaders") or []})
            message_id = f"0100{uuid.uuid4().hex}-000000"
            results.append({"Status": "SUCCESS", "MessageId": message_id})
            warnings = self._lint(from_addr, html, text, headers)
            accepted.extend(
                AcceptedMessage(
                    seq=0,
                    provider="ses",
                    to=address or "",
                    from_addr=from_addr,
                    subject=subject,
                    html=html,
                    text=text,
                    headers=headers,
                    message_id=message_id,
                    warnings=list(warnings),
                )
                for address in addresses
            )
        self.state.record(accepted)
        return json_answer(
            {"BulkEmailEntryResults": results}, headers={"x-amzn-RequestId": new_id()}
        )
