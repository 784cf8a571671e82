"""The sandbox's answers: JSON bodies, the providers' error shapes, message ids."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

__all__ = ["json_answer", "new_id", "resend_error", "ses_error"]


def json_answer(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status, headers=headers, media_type="application/json")


def resend_error(status: int, name: str, message: str) -> Response:
    return json_answer({"statusCode": status, "message": message, "name": name}, status)


def ses_error(status: int, kind: str, message: str) -> Response:
    headers = {"x-amzn-ErrorType": kind, "x-amzn-RequestId": str(uuid.uuid4())}
    return json_answer({"message": message}, status, headers)


_ID_PREFIX = str(uuid.uuid4())[:24]  # unique per process; a counter makes the rest
_ID_COUNTER = itertools.count(1)


def new_id() -> str:
    """A UUID-shaped id, unique per sandbox process, without uuid4's cost per message."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"
