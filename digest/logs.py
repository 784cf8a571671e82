"""Logs as text or JSON lines, each event naming the digest, issue and source it is about.

The names come from a context the pipeline sets as it works (`log_context`), not from each
message, so an operator can filter a month of JSON lines by `digest` or `source` whatever the
message says. Context variables follow asyncio tasks, so each source gathered concurrently
logs under its own name.

    {"time": "2026-12-04T07:00:01.120Z", "level": "WARNING", "logger": "digest.sources",
     "message": "...", "digest": "weekly", "issue": 12, "source": "lwn"}
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import Context, ContextVar, copy_context
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

__all__ = ["LOG_FIELDS", "LogFormat", "configure_logging", "context_with", "log_context"]

LogFormat = Literal["text", "json"]
LOG_FIELDS = ("digest", "issue", "source")

_context: ContextVar[dict[str, Any] | None] = ContextVar("digest_log_context", default=None)

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Name what the code inside is working on (digest=, issue=, source=) in its log lines."""
    current = _context.get() or {}
    token = _context.set({**current, **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def context_with(**fields: Any) -> Context:
    """A copy of the current context naming `fields`, for a task created elsewhere."""
    context = copy_context()
    current = context.get(_context) or {}
    context.run(_context.set, {**current, **{k: v for k, v in fields.items() if v is not None}})
    return context


class _ContextFilter(logging.Filter):
    """Put the current context on every record, as attributes and as a text suffix."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _context.get() or {}
        for name in LOG_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, fields.get(name))
        shown = [f"{name}={getattr(record, name)}" for name in LOG_FIELDS if getattr(record, name)]
        record.context = f" [{' '.join(shown)}]" if shown else ""
        return True


class JsonLines(logging.Formatter):
    """One JSON object per event, on one line (a traceback goes in `exception`)."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in LOG_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                event[name] = value
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=str)


class _DigestHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Ours, so configuring twice replaces it instead of doubling every line. Without a
    stream of its own it writes to whatever sys.stderr is when the event happens."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self._own = stream

    @property
    def stream(self) -> TextIO:
        return self._own if self._own is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._own = value


def configure_logging(
    level: int = logging.WARNING, log_format: LogFormat = "text", stream: TextIO | None = None
) -> None:
    """Send every logger's events at `level` and above to stderr, as text or JSON lines."""
    if log_format not in ("text", "json"):
        raise ValueError(f"log format {log_format!r} is not 'text' or 'json'")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _DigestHandler)]:
        root.removeHandler(old)
    handler = _DigestHandler(stream)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(_TEXT))
    root.addHandler(handler)
    root.setLevel(level)
