"""Deliverability lint, shared by every provider's contract."""

from __future__ import annotations

import orjson
import pytest

from digest.testing.sandbox import lint
from tests.testing.sandbox.helpers import GOOD_HEADERS, PM, postmark_message


def test_lint_accepts_a_compliant_message():
    assert lint("Digest <d@x.org>", "<p>x</p>", "x", GOOD_HEADERS, 102 * 1024) == []


@pytest.mark.parametrize(
    ("change", "warning"),
    [
        (
            {"headers": {"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}},
            "no List-Unsubscribe",
        ),
        ({"headers": {**GOOD_HEADERS, "List-Unsubscribe": "<http://x.org/u>"}}, "https"),
        ({"headers": {**GOOD_HEADERS, "List-Unsubscribe-Post": "One-Click"}}, "exactly"),
        ({"text": ""}, "no text part"),
        ({"html": None}, "no html part"),
        ({"html": "x" * 110_000}, "clips"),
        ({"from_addr": "a@x.org, b@x.org"}, "exactly one address"),
    ],
)
def test_lint_warnings(change, warning):
    args = {"from_addr": "d@x.org", "html": "<p>x</p>", "text": "x", "headers": GOOD_HEADERS}
    args.update(change)
    found = lint(args["from_addr"], args["html"], args["text"], args["headers"], 102 * 1024)
    assert len(found) == 1 and warning in found[0]


async def test_warnings_are_recorded_per_message(sandbox, http):
    batch = [postmark_message(), postmark_message("b@example.com", TextBody=None, Headers=[])]
    response = await http.post("/email/batch", content=orjson.dumps(batch), headers=PM)
    assert [item["ErrorCode"] for item in response.json()] == [0, 0]
    first, second = sandbox.state.messages()
    assert first.warnings == []
    assert any("List-Unsubscribe" in w for w in second.warnings)
    assert "no text part" in second.warnings
