"""The web app's logs without the secrets its paths carry.

Unsubscribe, confirmation and "view in your browser" links hold a signed token in their path
(/unsubscribe/TOKEN, /confirm/TOKEN, /issues/TOKEN); an access log that kept it would hand
anyone who reads the logs the power to unsubscribe, confirm or read as that subscriber. The
filter sits on uvicorn's own loggers, so it holds whoever runs the server (`digest web`,
`digest serve`) and whatever handlers a logging configuration gives them.
"""

from __future__ import annotations

import logging
import re

__all__ = ["REDACTED", "RedactTokens", "hide_tokens_in_logs", "redact_path"]

REDACTED = "[token]"
_TOKEN_PATH = re.compile(r"(/(?:unsubscribe|confirm|issues)/)[^/?#\s\"]+")
_SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact_path(text: str) -> str:
    """The text with every token of a token-carrying path replaced by REDACTED."""
    return _TOKEN_PATH.sub(rf"\1{REDACTED}", text) if "/" in text else text


class RedactTokens(logging.Filter):
    """Redacts token paths in a record's message and arguments (uvicorn passes the path as
    an argument: `'%s - "%s %s HTTP/%s" %d'`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_path(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def hide_tokens_in_logs() -> None:
    """Put the filter on uvicorn's loggers, once. Logging configuration (uvicorn's own
    dictConfig included) replaces a logger's handlers, never its filters."""
    for name in _SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
