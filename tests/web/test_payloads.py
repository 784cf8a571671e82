"""Request bodies as data: JSON bounded in depth, fields free of control characters."""

from __future__ import annotations

import pytest

from digest.errors import RequestError
from digest.web.payloads import MAX_JSON_DEPTH, check_fields, read_json


def test_json_up_to_the_depth_limit_is_read() -> None:
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert read_json(at_limit) is not None
    assert read_json(b'{"a": {"b": [1, {"c": "d"}]}}') == {"a": {"b": [1, {"c": "d"}]}}
    assert read_json('"just a string"') == "just a string"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "nested too deeply"),
        ('{"a": ' * 200_000 + "1" + "}" * 200_000, "nested too deeply"),  # past the stack
        (b"\xff\xfe{", "not JSON"),
        ("{'single': 'quotes'}", "not JSON"),
    ],
)
def test_bad_json_is_a_400(body: str | bytes, reason: str) -> None:
    with pytest.raises(RequestError, match=reason) as caught:
        read_json(body)
    assert caught.value.http_status == 400


def test_control_characters_are_named_by_code_and_known_field_only() -> None:
    check_fields({"name": "Zoë Ångström", "email": "a@example.org", "note": "tab-free"})
    with pytest.raises(
        RequestError, match=r"^the name field holds a control character \(U\+0000\)"
    ):
        check_fields({"name": "a\x00b"}, known=("name",))
    with pytest.raises(RequestError, match=r"^a field holds a control character \(U\+000A\)"):
        check_fields({"<script>": "two\nlines"}, known=("name",))
