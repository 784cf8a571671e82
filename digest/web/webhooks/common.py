"""What every provider's webhook shares: the refusal, the feedback item, small readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from digest.errors import RequestError
from digest.web import payloads

Kind = Literal["bounce", "soft_bounce", "complaint", "unsubscribe", "other"]


class Rejected(RequestError):
    """A webhook request that must change nothing; `http_status` is the 4xx to answer."""


@dataclass(frozen=True)
class Feedback:
    """One event a provider told us about, reduced to what Digest acts on."""

    kind: Kind
    email: str | None
    event: str  # the provider's own name for it
    event_id: str | None = None  # for recognizing the same event delivered twice
    message_id: str | None = None  # the provider's id of the message it concerns
    detail: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def as_dict(value: Any) -> dict[str, Any]:
    """A nested object of a payload, or an empty one when it is missing or not an object."""
    return value if isinstance(value, dict) else {}


def read_json(body: bytes | str) -> Any:
    """The payload as JSON (not nested too deeply: see digest.web.payloads), else Rejected."""
    try:
        return payloads.read_json(body)
    except RequestError as exc:
        raise Rejected(400, exc.reason) from None


def check_fresh(timestamp: float, tolerance: float, now: float) -> None:
    if abs(now - timestamp) > tolerance:
        raise Rejected(401, "stale or future timestamp")


def int_timestamp(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise Rejected(400, "malformed timestamp") from None
