"""Link tokens: the fast unsubscribe signer makes exactly what the serializer would, and only
genuine tokens are read back."""

from __future__ import annotations

import pytest

from digest.tokens import LinkSigner


@pytest.mark.parametrize(
    ("subscriber", "mailing_list"), [(1, 1), (0, 0), (987654321, 42), (2**40, 7)]
)
def test_fast_unsubscribe_tokens_equal_the_serializers(subscriber: int, mailing_list: int) -> None:
    signer = LinkSigner("a-test-key-that-is-long-enough-for-hmac")
    token = signer.unsubscribe_token(subscriber, mailing_list)
    assert token == signer._unsubscribe.dumps([subscriber, mailing_list])
    assert signer.read_unsubscribe_token(token) == (subscriber, mailing_list)


def test_forged_truncated_and_foreign_tokens_are_refused() -> None:
    signer = LinkSigner("key-one-key-one-key-one-key-one")
    token = signer.unsubscribe_token(5, 2)
    assert signer.read_unsubscribe_token(token[:-3]) is None
    payload, _, signature = token.partition(".")
    assert signer.read_unsubscribe_token(f"WzYsMl0.{signature}") is None  # [6,2], old signature
    assert LinkSigner("another-key-another-key-another").read_unsubscribe_token(token) is None
    assert "@" not in token and payload  # ids only, never an address
