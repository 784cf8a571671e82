"""Request bodies as data, refused with a 400 when they are not what any client sends: JSON
nested deeper than any provider's payload, or form fields holding control characters.

Nesting costs a recursive parser its stack (`[` ten thousand times deep is a RecursionError,
once a 500) and costs whatever walks the value later; a NUL or an escape in a name is not a
name, and PostgreSQL refuses NUL in text outright.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from digest.errors import RequestError

__all__ = ["MAX_JSON_DEPTH", "check_fields", "read_json"]

MAX_JSON_DEPTH = 32  # provider payloads are a few levels deep; a sign-up is one
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: tabs and line breaks too


def read_json(body: bytes | str) -> Any:
    """The body as JSON; RequestError 400 when it is not JSON or is nested too deeply."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise RequestError(400, "the JSON body is nested too deeply") from None
    except (UnicodeDecodeError, ValueError):
        raise RequestError(400, "the body is not JSON") from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise RequestError(400, "the JSON body is nested too deeply")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in node)
    return False


def check_fields(fields: Mapping[str, str], known: tuple[str, ...] = ()) -> None:
    """RequestError 400 when a field holds a control character; a `known` field is named,
    any other is not (its name came from the client)."""
    for name, value in fields.items():
        found = _CONTROL.search(value)
        if found:
            what = f"the {name} field" if name in known else "a field"
            code = f"U+{ord(found.group()):04X}"
            raise RequestError(400, f"{what} holds a control character ({code})")
