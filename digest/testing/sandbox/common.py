"""What every provider's contract shares: address checks, deliverability lint, JSON answers."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from email.utils import getaddresses
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from digest.testing.sandbox.state import ONE_CLICK, SandboxConfig, SandboxState

# Shared checks.

ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+")
NAME_ADDR = re.compile(r"\s*(?:\"?([^\"<]*?)\"?\s*)?<([^<>]+)>\s*")
TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")
SES_HEADER_NAME = re.compile(r"[!-9;-@A-~]+")


def mailbox(value: Any) -> str | None:
    """The address in `a@b` or `Name <a@b>`, or None if it is not a valid mailbox."""
    if not isinstance(value, str):
        return None
    return mailbox_of(value)


@functools.lru_cache(maxsize=8192)  # From repeats in every message of a batch
def mailbox_of(value: str) -> str | None:
    if "<" in value:
        match = NAME_ADDR.fullmatch(value)
        if match is None:
            return None
        value = match.group(2)
    value = value.strip()
    return value if ADDRESS.fullmatch(value) else None


@functools.lru_cache(maxsize=8192)
def mailboxes(value: str) -> tuple[str | None, ...]:
    """Addresses of a comma-separated list (None for each invalid one)."""
    if '"' in value:
        return tuple(mailbox(addr) for _, addr in getaddresses([value]))
    if "," not in value:
        return (mailbox_of(value),)
    return tuple(mailbox_of(part) for part in value.split(",") if part.strip())


def utf8_len_over(value: str, limit: int) -> bool:
    """len(value.encode()) > limit, without encoding short strings (UTF-8: <= 4 bytes/char)."""
    return len(value) * 4 > limit and len(value.encode()) > limit


def lint(
    from_addr: str, html: str | None, text: str | None, headers: Mapping[str, str], clip: int
) -> list[str]:
    """Deliverability warnings for one accepted message (providers.md §7, §8)."""
    warnings: list[str] = []
    lowered = {k.lower(): v for k, v in headers.items()}
    unsubscribe = lowered.get("list-unsubscribe")
    if not unsubscribe:
        warnings.append("no List-Unsubscribe header")
    elif "<https://" not in unsubscribe:
        warnings.append("List-Unsubscribe has no <https://...> URI (RFC 8058 one-click)")
    if lowered.get("list-unsubscribe-post") != ONE_CLICK:
        warnings.append(f"List-Unsubscribe-Post is not exactly {ONE_CLICK!r}")
    if not text:
        warnings.append("no text part")
    if not html:
        warnings.append("no html part")
    elif utf8_len_over(html, clip):
        warnings.append(f"html is {len(html.encode())} bytes; Gmail clips past {clip}")
    if len(mailboxes(from_addr)) != 1:
        warnings.append("From must hold exactly one address")
    return warnings


class Refused(Exception):
    """A validation failure that refuses the whole request with a ready answer."""

    def __init__(self, response: Response) -> None:
        self.response = response


Handler = Callable[[Request, bytes], Awaitable[Response]]
Authenticator = Callable[[Request, bytes], Response | None]


def json_object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, str):
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def render_template(template: Any, data: Mapping[str, Any]) -> str | None:
    """SES templates' `{{name}}` placeholders (enough for recording what would be sent)."""
    if not isinstance(template, str):
        return None
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda m: str(data.get(m.group(1), "")), template)


async def drop_connection(request: Request) -> None:
    """Close the TCP connection without a response (uvicorn's h11 cycle holds the transport)."""
    cycle = getattr(request.receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("this server does not expose its transport; cannot drop connections")
    transport.abort()
    await asyncio.sleep(0.01)  # let connection_lost run, so the server sends nothing more


class Contract:
    """One provider's HTTP contract: its routes, its authentication, the shape of its errors.

    Each provider module subclasses it; `digest.testing.sandbox.app` serves every route of
    every contract through the same plumbing (faults, idempotency, counting).
    """

    name = ""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    @property
    def config(self) -> SandboxConfig:
        return self.state.config  # read each time: tests may swap or edit it

    def routes(self) -> list[tuple[str, Authenticator, Handler]]:
        """(path, auth, handler) of each POST route this provider serves."""
        raise NotImplementedError

    def searches(self) -> list[tuple[str, Authenticator, Handler]]:
        """(path, auth, handler) of each GET route that looks up what was accepted (for the
        providers whose searches Digest reconciles with); faults with `on: "search"` hit them."""
        return []

    def fault_answer(self, status: int, message: str, headers: dict[str, str]) -> Response:
        """An injected failure, in this provider's error shape."""
        raise NotImplementedError

    def rate_headers(self, remaining: int, reset_in: float = 1.0) -> dict[str, str]:
        """This provider's rate-limit headers (none for providers that send none)."""
        return {}

    def _parse_json(self, body: bytes, refuse: Callable[[str], Response]) -> Any:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Refused(refuse(f"Invalid JSON: {exc}")) from exc

    def _lint(
        self, from_addr: str, html: str | None, text: str | None, headers: Mapping[str, str]
    ) -> list[str]:
        return lint(from_addr, html, text, headers, self.config.html_clip_bytes)

    def _suppression_warning(self, address: str, warnings: list[str]) -> list[str]:
        if self.state.is_inactive(address):
            warnings.append("recipient is suppressed at the provider; it would be dropped")
        return warnings
