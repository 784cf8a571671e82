"""Tokens never reach the logs: the paths that carry them are redacted."""

from __future__ import annotations

import copy
import logging
import logging.config

import pytest
from uvicorn.config import LOGGING_CONFIG

from digest.web.logs import hide_tokens_in_logs, redact_path


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/unsubscribe/eyJzIjoxfQ.Zx-1_a", "/unsubscribe/[token]"),
        ("/unsubscribe/abc.def?list=3", "/unsubscribe/[token]?list=3"),
        ("/confirm/abc.def/", "/confirm/[token]/"),
        ('GET /issues/abc.def HTTP/1.1"', 'GET /issues/[token] HTTP/1.1"'),
        ("/subscribe?list=readers", "/subscribe?list=readers"),
        ("/webhooks/ses", "/webhooks/ses"),
    ],
)
def test_token_paths_are_redacted(path: str, shown: str) -> None:
    assert redact_path(path) == shown


def test_the_filter_outlives_uvicorns_logging_configuration() -> None:
    hide_tokens_in_logs()
    hide_tokens_in_logs()  # once is enough, twice adds nothing
    logging.config.dictConfig(copy.deepcopy(LOGGING_CONFIG))  # what uvicorn.Config does
    access = logging.getLogger("uvicorn.access")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    keep = Keep()
    access.addHandler(keep)
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5",
            "POST",
            "/unsubscribe/s3cr3t.t0ken",
            "1.1",
            200,
        )
    finally:
        access.removeHandler(keep)
    assert records == ['127.0.0.1:5 - "POST /unsubscribe/[token] HTTP/1.1" 200']
    assert len(access.filters) == 1
