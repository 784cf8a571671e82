"""Postmark: /email/batch and /email, a server token, per-message ErrorCode answers; the
outbound message search (GET /messages/outbound) over what was accepted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

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

EASTERN = ZoneInfo("America/New_York")  # the API's dates are Eastern Time
QUERY_EXCEPTION = 700  # "Message query exception": invalid querystring (error code unconfirmed)
SEARCH_WINDOW = 10_000  # count + offset may not exceed this


class PostmarkContract(Contract):
    name = "postmark"

    def routes(self) -> list[tuple[str, Authenticator, Handler]]:
        return [
            ("/email/batch", self.postmark_auth, self.postmark_batch),
            ("/email", self.postmark_auth, self.postmark_single),
        ]

    def searches(self) -> list[tuple[str, Authenticator, Handler]]:
        return [("/messages/outbound", self.postmark_auth, self.postmark_search)]

    def fault_answer(self, status: int, message: str, headers: dict[str, str]) -> Response:
        return json_answer({"ErrorCode": status, "Message": message}, status, headers)

    async def postmark_search(self, request: Request, body: bytes) -> Response:
        """`GET /messages/outbound`: the messages this server accepted, newest first.

        `count` (at most 500) and `offset` are required, count + offset at most 10,000; filters
        `recipient`, `fromemail`, `tag`, `status`, `subject`, `messagestream`, `fromdate` and
        `todate` (Eastern Time), and one `metadata_<key>=<value>` at a time.
        """
        query = request.query_params

        def refuse(message: str) -> Response:
            return json_answer({"ErrorCode": QUERY_EXCEPTION, "Message": message}, 422)

        try:
            count, offset = int(query["count"]), int(query["offset"])
        except (KeyError, ValueError):
            return refuse("The 'count' and 'offset' parameters are required integers.")
        if not 1 <= count <= 500 or offset < 0 or count + offset > SEARCH_WINDOW:
            return refuse("count must be 1-500 and count + offset at most 10,000.")
        metadata = {k[len("metadata_") :]: v for k, v in query.items() if k.startswith("metadata_")}
        if len(metadata) > 1:
            return refuse("Only one metadata field can be searched at a time.")
        try:
            since = _eastern(query.get("fromdate"))
            until = _eastern(query.get("todate"))
        except ValueError:
            return refuse("fromdate and todate must be dates such as 2021-01-01T12:00:00.")
        by_id: dict[str, list[AcceptedMessage]] = {}
        for m in self.state.messages("postmark"):
            by_id.setdefault(m.message_id, []).append(m)
        found = []
        for copies in by_id.values():
            first = copies[0]
            recipients = [c.to.lower() for c in copies]
            if "recipient" in query and query["recipient"].lower() not in recipients:
                continue
            if "fromemail" in query and query["fromemail"].lower() not in first.from_addr.lower():
                continue
            if "tag" in query and query["tag"] not in first.tags:
                continue
            if query.get("status", "sent").lower() not in ("sent", "processed"):
                continue
            if "subject" in query and query["subject"].lower() not in first.subject.lower():
                continue
            if "messagestream" in query and query["messagestream"] != first.stream:
                continue
            if any(first.metadata.get(k) != v for k, v in metadata.items()):
                continue
            if (since and first.received_at < since) or (until and first.received_at > until):
                continue
            found.append(copies)
        found.sort(key=lambda copies: (copies[0].received_at, copies[0].seq), reverse=True)
        page = found[offset : offset + count]
        return json_answer(
            {"TotalCount": len(found), "Messages": [_outbound(copies) for copies in page]}
        )

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
        stream = str(item.get("MessageStream") or "outbound")
        records = [
            AcceptedMessage(
                seq=0,
                provider="postmark",
                stream=stream,
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


def _eastern(value: str | None) -> float | None:
    """A `fromdate`/`todate` (a date, or a date and time, in Eastern Time) as epoch seconds."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=EASTERN)).timestamp()


def _outbound(copies: list[AcceptedMessage]) -> dict[str, Any]:
    """One message of a search answer, as Postmark lists it (no bodies)."""
    first = copies[0]
    received = datetime.fromtimestamp(first.received_at, EASTERN)
    return {
        "Tag": first.tags[0] if first.tags else "",
        "MessageID": first.message_id,
        "MessageStream": first.stream,
        "To": [{"Email": c.to, "Name": None} for c in copies],
        "Cc": [],
        "Bcc": [],
        "Recipients": [c.to for c in copies],
        "ReceivedAt": received.isoformat(),
        "From": first.from_addr,
        "Subject": first.subject,
        "Attachments": [],
        "Status": "Sent",
        "TrackOpens": False,
        "TrackLinks": "None",
        "Metadata": dict(first.metadata),
        "Sandboxed": False,
    }
